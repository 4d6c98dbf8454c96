// tests/vectors/kdf.json: HMAC, HKDF and the ratchet's KDFs (PROTOCOL.md 1, 5.1).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { hexDecode, hexEncode } from "../lib/encoding.js";
import { hkdf, hmacSha256, kdfCk, kdfRk, messageKeys } from "../lib/kdf.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/kdf.json", import.meta.url), "utf8"),
);

test("HKDF-SHA256 matches every vector, RFC 5869 case 1 included", () => {
  assert.ok(vectors.hkdf.length > 0);
  for (const { ikm, salt, info, length, okm } of vectors.hkdf) {
    assert.equal(hexEncode(hkdf(hexDecode(ikm), hexDecode(salt), hexDecode(info), length)), okm);
  }
});

test("HMAC-SHA256 matches every vector, the empty key included", () => {
  assert.ok(vectors.hmac.length > 0);
  for (const { key, data, mac } of vectors.hmac) {
    assert.equal(hexEncode(hmacSha256(hexDecode(key), hexDecode(data))), mac);
  }
});

test("KDF_RK splits into root key and chain key", () => {
  assert.ok(vectors.kdf_rk.length > 0);
  for (const { rk, dh_out: dhOut, root_key: rootKey, chain_key: chainKey } of vectors.kdf_rk) {
    const [root, chain] = kdfRk(hexDecode(rk), hexDecode(dhOut));
    assert.equal(hexEncode(root), rootKey);
    assert.equal(hexEncode(chain), chainKey);
  }
});

test("KDF_CK gives the next chain key and the message key", () => {
  assert.ok(vectors.kdf_ck.length > 0);
  for (const { ck, chain_key: chainKey, message_key: messageKey } of vectors.kdf_ck) {
    const [next, mk] = kdfCk(hexDecode(ck));
    assert.equal(hexEncode(next), chainKey);
    assert.equal(hexEncode(mk), messageKey);
  }
});

test("a message key expands to the AEAD key and nonce", () => {
  assert.ok(vectors.message_keys.length > 0);
  for (const { mk, key, nonce } of vectors.message_keys) {
    const derived = messageKeys(hexDecode(mk));
    assert.equal(hexEncode(derived.key), key);
    assert.equal(hexEncode(derived.nonce), nonce);
  }
});
