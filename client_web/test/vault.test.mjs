// The account secret and vault items (PROTOCOL.md sections 9 and 10).
import assert from "node:assert/strict";
import test from "node:test";

import { CROCKFORD_ALPHABET, MAX_VAULT_ITEM } from "../lib/constants.js";
import { MalformedError, TamperedError, UnsupportedVersionError } from "../lib/errors.js";
import { loadSodium } from "../lib/sodium.js";
import {
  decryptItem,
  deriveAccountKeys,
  encryptItem,
  formatSecret,
  generateSecret,
  normaliseSecret,
} from "../lib/vault.js";

const sodium = await loadSodium();
// The smallest costs libsodium accepts: these tests are about the framing.
const CHEAP = { opslimit: 1, memlimit: 8192 };

test("a generated secret is six groups of four symbols that normalise to themselves", () => {
  const seen = new Set();
  for (let i = 0; i < 50; i += 1) {
    const secret = generateSecret();
    assert.match(secret, /^([0-9A-HJKMNP-TV-Z]{4}-){5}[0-9A-HJKMNP-TV-Z]{4}$/);
    assert.equal(formatSecret(normaliseSecret(secret)), secret);
    seen.add(secret);
  }
  assert.equal(seen.size, 50);
  const symbols = new Set([...Array.from({ length: 40 }, generateSecret).join("")]);
  symbols.delete("-");
  assert.ok([...symbols].every((symbol) => CROCKFORD_ALPHABET.includes(symbol)));
  assert.ok(symbols.size > 25, "all of the alphabet is used");
});

test("only ASCII symbols and the documented separators are read", () => {
  const secret = generateSecret();
  assert.equal(formatSecret(normaliseSecret(` ${secret.replaceAll("-", "\t")}\r\n`)), secret);
  for (const text of [
    "7K3Q-XM2D-9F4H-J8RT-V6WY-Z0ß",
    "7K3Q-XM2D-9F4H-J8RT-V6WY-Z0Bı",
    `${secret.slice(0, 4)}\u00a0${secret.slice(5)}`,
    `${secret.slice(0, 4)}_${secret.slice(5)}`,
  ]) {
    assert.throws(() => normaliseSecret(text), MalformedError, text);
  }
});

test("the vault key and the login key differ and depend on the whole secret", () => {
  const secret = generateSecret();
  const keys = deriveAccountKeys(secret, CHEAP);
  assert.notDeepEqual(keys.vaultKey, keys.loginKey);
  assert.deepEqual(deriveAccountKeys(secret.toLowerCase(), CHEAP), keys);
  const other = `${secret.slice(0, -1)}${secret.at(-1) === "0" ? "1" : "0"}`;
  assert.notDeepEqual(deriveAccountKeys(other, CHEAP).vaultKey, keys.vaultKey);
});

test("a vault item round-trips, bound to its key, id and version", () => {
  const key = sodium.randombytes_buf(32);
  const id = sodium.randombytes_buf(16);
  const item = { kind: "note", peer: "AAAAAAAAAAAAAAAAAAAAAA", body: "Tuesdays ✓", updated: 3 };
  const blob = encryptItem(key, id, 7, item);
  assert.equal(blob.length, 1 + 24 + 256 + 16);
  assert.deepEqual(decryptItem(key, id, 7, blob), item);
  assert.notDeepEqual(encryptItem(key, id, 7, item), blob, "a fresh nonce every time");
  assert.throws(() => decryptItem(key, id, 8, blob), TamperedError);
  assert.throws(() => decryptItem(key, sodium.randombytes_buf(16), 7, blob), TamperedError);
  assert.throws(() => decryptItem(sodium.randombytes_buf(32), id, 7, blob), TamperedError);
  assert.throws(
    () => decryptItem(key, id, 7, Uint8Array.of(2, ...blob.slice(1))),
    UnsupportedVersionError,
  );
  assert.throws(() => decryptItem(key, id, 0, blob), MalformedError);
});

test("large items pad to a power of two, and too large ones are refused", () => {
  const key = sodium.randombytes_buf(32);
  const id = sodium.randombytes_buf(16);
  const item = { kind: "message", body: "x".repeat(5000) };
  const blob = encryptItem(key, id, 1, item);
  assert.equal(blob.length, 1 + 24 + 8192 + 16);
  assert.deepEqual(decryptItem(key, id, 1, blob), item);
  assert.throws(
    () => encryptItem(key, id, 1, { body: "x".repeat(MAX_VAULT_ITEM) }),
    MalformedError,
  );
});

test("a blob that opens but does not hold a JSON object is malformed", () => {
  const key = sodium.randombytes_buf(32);
  const id = sodium.randombytes_buf(16);
  assert.throws(() => decryptItem(key, id, 1, encryptItem(key, id, 1, [1, 2])), MalformedError);
});
