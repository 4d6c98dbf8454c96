// Payload rules of PROTOCOL.md section 6 beyond the shared vectors.
import assert from "node:assert/strict";
import test from "node:test";

import { MAX_BODY_CHARS } from "../lib/constants.js";
import { b64uEncode, utf8Encode } from "../lib/encoding.js";
import { MalformedError, UnsupportedVersionError } from "../lib/errors.js";
import { pad, unpad } from "../lib/padding.js";
import { decodePayload, encodeReceipt, encodeText } from "../lib/payload.js";
import { loadSodium } from "../lib/sodium.js";

const sodium = await loadSodium();
const id = b64uEncode(sodium.randombytes_buf(16));

test("the body limit counts characters, not bytes or UTF-16 units", () => {
  const longest = "🌱".repeat(MAX_BODY_CHARS);
  const encoded = encodeText({ id, sent: 5, body: longest });
  assert.equal(decodePayload(unpad(pad(encoded))).body, longest);
  assert.throws(() => encodeText({ id, sent: 5, body: `${longest}x` }), MalformedError);
});

test("a payload type this client does not know is returned for the caller to ignore", () => {
  const payload = decodePayload(utf8Encode('{"v":1,"type":"typing","extra":[1]}'));
  assert.deepEqual(payload, { v: 1, type: "typing", extra: [1] });
  assert.throws(() => decodePayload(utf8Encode('{"v":3,"type":"text"}')), UnsupportedVersionError);
});

test("encoders refuse what decoders would refuse", () => {
  assert.throws(() => encodeText({ id: "short", sent: 1, body: "" }), MalformedError);
  assert.throws(() => encodeText({ id, sent: -1, body: "" }), MalformedError);
  assert.throws(() => encodeText({ id, sent: 1, body: "\ud800" }), MalformedError);
  assert.throws(() => encodeReceipt({ state: "seen", ids: [id] }), MalformedError);
  assert.throws(() => encodeReceipt({ state: "read", ids: [] }), MalformedError);
  assert.throws(() => decodePayload(new Uint8Array(65536)), MalformedError);
});
