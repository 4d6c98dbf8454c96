// tests/vectors/kem_recordings.json: recorded ML-KEM encapsulations replayed
// by the other vector files; each must decapsulate to its shared secret here.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { hexDecode, hexEncode } from "../lib/encoding.js";
import { mlkemDecapsulate, mlkemFromSeed } from "../lib/keys.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const recordings = JSON.parse(
  await readFile(new URL("../../tests/vectors/kem_recordings.json", import.meta.url), "utf8"),
);

test("every recording decapsulates to its shared secret", () => {
  const entries = Object.entries(recordings);
  assert.ok(entries.length > 0);
  for (const [name, { pq_seed: seed, ciphertext, shared_secret: sharedSecret }] of entries) {
    const pair = mlkemFromSeed(hexDecode(seed));
    assert.equal(
      hexEncode(mlkemDecapsulate(pair.privateKey, hexDecode(ciphertext))),
      sharedSecret,
      name,
    );
  }
});

test("a ciphertext with one bit changed gives another secret, not an error", () => {
  const [{ pq_seed: seed, ciphertext, shared_secret: sharedSecret }] = Object.values(recordings);
  const changed = hexDecode(ciphertext);
  changed[10] ^= 1;
  const pair = mlkemFromSeed(hexDecode(seed));
  assert.notEqual(hexEncode(mlkemDecapsulate(pair.privateKey, changed)), sharedSecret);
});
