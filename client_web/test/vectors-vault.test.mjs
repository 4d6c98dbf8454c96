// tests/vectors/vault.json: account secret, key derivation and vault items
// (PROTOCOL.md sections 9 and 10).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { ARGON2_MEMLIMIT, ARGON2_OPSLIMIT, ARGON2_OUTPUT_BYTES } from "../lib/constants.js";
import { hexDecode, hexEncode, utf8Decode, utf8Encode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import { loadSodium } from "../lib/sodium.js";
import {
  argon2Salt,
  deriveAccountKeys,
  deriveMaster,
  formatSecret,
  keysFromMaster,
  normaliseSecret,
  openItem,
  sealItem,
} from "../lib/vault.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/vault.json", import.meta.url), "utf8"),
);

test("the Argon2id costs are the protocol constants", () => {
  assert.deepEqual(vectors.argon2, {
    opslimit: ARGON2_OPSLIMIT,
    memlimit: ARGON2_MEMLIMIT,
    output_bytes: ARGON2_OUTPUT_BYTES,
  });
});

test("account secrets normalise as in Python, or are refused", () => {
  assert.ok(vectors.normalise.some((c) => c.error) && vectors.normalise.some((c) => c.handle));
  for (const { input, handle, passphrase, formatted, error } of vectors.normalise) {
    if (error === undefined) {
      const secret = normaliseSecret(input);
      assert.deepEqual(secret, { handle, passphrase }, JSON.stringify(input));
      assert.equal(formatSecret(secret), formatted);
    } else {
      assert.throws(() => normaliseSecret(input), errorForCode(error), JSON.stringify(input));
    }
  }
});

test("Argon2id and HKDF derive the same master, vault key and login key", () => {
  assert.ok(vectors.derivation.length > 0);
  for (const vector of vectors.derivation) {
    const secret = normaliseSecret(vector.secret);
    assert.deepEqual(secret, { handle: vector.handle, passphrase: vector.passphrase });
    assert.equal(hexEncode(argon2Salt(secret.handle)), vector.salt);
    const master = deriveMaster(secret);
    assert.equal(hexEncode(master), vector.master);
    const keys = keysFromMaster(master);
    assert.equal(hexEncode(keys.vaultKey), vector.vault_key);
    assert.equal(hexEncode(keys.loginKey), vector.login_key);
  }
  const [first] = vectors.derivation;
  const keys = deriveAccountKeys(first.secret);
  assert.deepEqual(
    [keys.handle, hexEncode(keys.vaultKey), hexEncode(keys.loginKey)],
    [first.handle, first.vault_key, first.login_key],
  );
});

test("vault items seal to the same blob and open back", () => {
  assert.ok(vectors.items.length > 0);
  for (const { vault_key: key, id, version, nonce, item, blob } of vectors.items) {
    const sealed = sealItem(hexDecode(key), hexDecode(id), version, utf8Encode(item), {
      nonce: hexDecode(nonce),
    });
    assert.equal(hexEncode(sealed), blob);
    assert.equal(
      utf8Decode(openItem(hexDecode(key), hexDecode(id), version, hexDecode(blob))),
      item,
    );
  }
});

test("every invalid blob is refused with its error code", () => {
  assert.ok(vectors.items_invalid.length > 0);
  for (const { name, vault_key: key, id, version, blob, error } of vectors.items_invalid) {
    assert.throws(
      () => openItem(hexDecode(key), hexDecode(id), version, hexDecode(blob)),
      errorForCode(error),
      name,
    );
  }
});
