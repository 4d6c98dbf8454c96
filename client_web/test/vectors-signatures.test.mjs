// tests/vectors/signatures.json: domain-separated Ed25519 signatures
// (PROTOCOL.md 3, 9, 11, 12).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { concatBytes, hexDecode, hexEncode, utf8Encode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import { identityFromSeed } from "../lib/keys.js";
import {
  prekeyMessage,
  profileMessage,
  registrationMessage,
  sign,
  verify,
  verifyProfile,
  websocketAuthMessage,
} from "../lib/signatures.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/signatures.json", import.meta.url), "utf8"),
);

const signedMessage = ({ context, data }) => concatBytes(utf8Encode(context), hexDecode(data));

test("signatures are reproduced byte for byte and verify", () => {
  assert.ok(vectors.valid.length > 0);
  for (const vector of vectors.valid) {
    const identity = identityFromSeed(hexDecode(vector.seed));
    assert.equal(hexEncode(identity.publicKey), vector.identity_key);
    assert.equal(hexEncode(sign(identity, signedMessage(vector))), vector.sig, vector.name);
    verify(hexDecode(vector.identity_key), signedMessage(vector), hexDecode(vector.sig));
  }
});

test("the profile signature verifies over the profile bytes", () => {
  const profile = vectors.valid.find((vector) => vector.name === "profile");
  verifyProfile(hexDecode(profile.identity_key), hexDecode(profile.data), hexDecode(profile.sig));
  assert.equal(
    hexEncode(profileMessage(hexDecode(profile.data))),
    hexEncode(signedMessage(profile)),
  );
});

test("every invalid signature fails with its error code", () => {
  assert.ok(vectors.invalid.length > 0);
  for (const vector of vectors.invalid) {
    assert.throws(
      () => verify(hexDecode(vector.identity_key), signedMessage(vector), hexDecode(vector.sig)),
      errorForCode(vector.error),
      vector.name,
    );
  }
});

test("the message builders give the documented bytes", () => {
  const contexts = Object.fromEntries(vectors.valid.map((v) => [v.name, v.context]));
  const built = {
    "signed prekey": (b) => prekeyMessage(b.kind, b.id, hexDecode(b.key)),
    "pq prekey": (b) => prekeyMessage(b.kind, b.id, hexDecode(b.key)),
    "one-time prekey": (b) => prekeyMessage(b.kind, b.id, hexDecode(b.key)),
    register: (b) => registrationMessage(hexDecode(b.server_id), b.handle),
    "websocket auth": (b) =>
      websocketAuthMessage(hexDecode(b.server_id), hexDecode(b.nonce), hexDecode(b.account)),
  };
  assert.deepEqual(Object.keys(built).sort(), vectors.builders.map((b) => b.name).sort());
  for (const builder of vectors.builders) {
    const expected = signedMessage({ context: contexts[builder.name], data: builder.data });
    assert.equal(hexEncode(built[builder.name](builder)), hexEncode(expected), builder.name);
  }
});
