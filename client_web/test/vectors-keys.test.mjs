// tests/vectors/keys.json: identity keys, X25519, ML-KEM-768 (PROTOCOL.md 1, 2).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { hexDecode, hexEncode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import {
  dh,
  identityDhPublic,
  identityFromSeed,
  mlkemDecapsulate,
  mlkemFromSeed,
  x25519FromPrivate,
} from "../lib/keys.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/keys.json", import.meta.url), "utf8"),
);

test("an identity seed gives the Ed25519 key and its X25519 form", () => {
  assert.ok(vectors.identity.length > 0);
  for (const expected of vectors.identity) {
    const identity = identityFromSeed(hexDecode(expected.seed));
    assert.equal(hexEncode(identity.publicKey), expected.ed25519_public);
    assert.equal(hexEncode(identity.dhPrivate), expected.x25519_private);
    assert.equal(hexEncode(identity.dhPublic), expected.x25519_public);
    assert.equal(hexEncode(identityDhPublic(identity.publicKey)), expected.x25519_public);
  }
});

test("an X25519 private key gives its public key", () => {
  assert.ok(vectors.x25519.length > 0);
  for (const { private: privateKey, public: publicKey } of vectors.x25519) {
    assert.equal(hexEncode(x25519FromPrivate(hexDecode(privateKey)).publicKey), publicKey);
  }
});

test("X25519 agrees, and low-order peer keys are refused", () => {
  assert.ok(vectors.dh.some((c) => c.error) && vectors.dh.some((c) => c.shared));
  for (const { private: privateKey, public: publicKey, shared, error } of vectors.dh) {
    if (error === undefined) {
      assert.equal(hexEncode(dh(hexDecode(privateKey), hexDecode(publicKey))), shared);
    } else {
      assert.throws(
        () => dh(hexDecode(privateKey), hexDecode(publicKey)),
        errorForCode(error),
        publicKey,
      );
    }
  }
});

test("Ed25519 keys the conversion rejects are malformed", () => {
  assert.ok(vectors.identity_invalid.length > 0);
  for (const { public: publicKey, error } of vectors.identity_invalid) {
    assert.throws(() => identityDhPublic(hexDecode(publicKey)), errorForCode(error), publicKey);
  }
});

test("an ML-KEM-768 seed gives the same public key as in Python", () => {
  assert.ok(vectors.mlkem.length > 0);
  for (const { seed, public: publicKey } of vectors.mlkem) {
    assert.equal(hexEncode(mlkemFromSeed(hexDecode(seed)).publicKey), publicKey);
  }
});

test("ML-KEM-768 decapsulates ciphertexts made by the Python package", () => {
  assert.ok(vectors.mlkem_decaps.length > 0);
  for (const { seed, ciphertext, shared_secret: sharedSecret } of vectors.mlkem_decaps) {
    const pair = mlkemFromSeed(hexDecode(seed));
    assert.equal(hexEncode(mlkemDecapsulate(pair.privateKey, hexDecode(ciphertext))), sharedSecret);
  }
});
