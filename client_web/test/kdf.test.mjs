// HKDF's output bounds and the ratchet KDFs' independence of their outputs.
import assert from "node:assert/strict";
import test from "node:test";

import { hkdf, kdfCk, kdfRk, messageKeys } from "../lib/kdf.js";
import { loadSodium } from "../lib/sodium.js";

const sodium = await loadSodium();

test("HKDF gives 1 to 8160 bytes, each length a prefix of the longer ones", () => {
  const ikm = sodium.randombytes_buf(32);
  const salt = sodium.randombytes_buf(32);
  const info = Uint8Array.of(1, 2, 3);
  const longest = hkdf(ikm, salt, info, 255 * 32);
  for (const length of [1, 31, 32, 33, 64, 100]) {
    assert.deepEqual(hkdf(ikm, salt, info, length), longest.slice(0, length));
  }
  for (const bad of [0, 255 * 32 + 1, 1.5]) {
    assert.throws(() => hkdf(ikm, salt, info, bad), RangeError);
  }
});

test("the ratchet KDFs give distinct keys", () => {
  const [root, chain] = kdfRk(sodium.randombytes_buf(32), sodium.randombytes_buf(32));
  const [next, message] = kdfCk(chain);
  const { key, nonce } = messageKeys(message);
  assert.equal(new Set([root, chain, next, message, key].map((k) => k.join())).size, 5);
  assert.equal(nonce.length, 24);
});
