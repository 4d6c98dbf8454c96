// tests/vectors/payload.json: message payloads (PROTOCOL.md section 6).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { b64uDecode, hexDecode, hexEncode, utf8Decode, utf8Encode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import {
  decodePayload,
  encodeGroupJoin,
  encodeGroupKey,
  encodeGroupListing,
  encodeReceipt,
  encodeText,
} from "../lib/payload.js";
import { verifyGroupListing } from "../lib/signatures.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/payload.json", import.meta.url), "utf8"),
);

test("text payloads encode to the same bytes as in Python and decode back", () => {
  assert.ok(vectors.text.length > 0);
  for (const { id, sent, body, encoded } of vectors.text) {
    assert.equal(utf8Decode(encodeText({ id, sent, body })), encoded);
    assert.deepEqual(decodePayload(utf8Encode(encoded)), { v: 1, type: "text", id, sent, body });
  }
});

test("receipts encode to the same bytes as in Python and decode back", () => {
  assert.ok(vectors.receipt.length > 0);
  for (const { state, ids, encoded } of vectors.receipt) {
    assert.equal(utf8Decode(encodeReceipt({ state, ids })), encoded);
    assert.deepEqual(decodePayload(utf8Encode(encoded)), { v: 1, type: "receipt", state, ids });
  }
});

test("group payloads encode to the same bytes as in Python and decode back", () => {
  assert.ok(vectors.group_key.length > 0 && vectors.group_join.length > 0);
  for (const { key, encoded } of vectors.group_key) {
    assert.equal(utf8Decode(encodeGroupKey(hexDecode(key))), encoded);
    assert.equal(hexEncode(b64uDecode(decodePayload(utf8Encode(encoded)).key)), key);
  }
  for (const { group, member_key: memberKey, name, salt, note, encoded } of vectors.group_join) {
    assert.equal(utf8Decode(encodeGroupJoin({ group, memberKey, name, salt, note })), encoded);
    assert.deepEqual(decodePayload(utf8Encode(encoded)), {
      v: 1,
      type: "group_join",
      group,
      member_key: memberKey,
      name,
      salt,
      note,
    });
  }
});

test("a private group's signed listing encodes as in Python and its signature verifies", () => {
  assert.ok(vectors.group_listing.length > 0);
  for (const { listing, sig, moderator_key: moderatorKey, encoded } of vectors.group_listing) {
    const bytes = b64uDecode(listing);
    assert.equal(utf8Decode(encodeGroupListing(bytes, b64uDecode(sig))), encoded);
    assert.deepEqual(decodePayload(utf8Encode(encoded)), {
      v: 1,
      type: "group_listing",
      listing,
      sig,
    });
    verifyGroupListing(b64uDecode(moderatorKey), bytes, b64uDecode(sig));
  }
});

test("every invalid payload is refused with its error code", () => {
  assert.ok(vectors.invalid.length > 0);
  for (const { name, encoded, hex_bytes: hexBytes, error } of vectors.invalid) {
    const bytes = hexBytes === undefined ? utf8Encode(encoded) : hexDecode(hexBytes);
    assert.throws(() => decodePayload(bytes), errorForCode(error), name);
  }
});
