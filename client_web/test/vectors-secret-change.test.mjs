// tests/vectors/secret_change.json: a change of the account secret
// (PROTOCOL.md section 9.1): both key sets, items re-encrypted for the next
// version under the new vault key, the identity item's new handle.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { hexDecode, hexEncode, utf8Decode, utf8Encode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import { loadSodium } from "../lib/sodium.js";
import { deriveAccountKeys, openItem, rekeyItem, sealItem } from "../lib/vault.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/secret_change.json", import.meta.url), "utf8"),
);

function keysOf(side) {
  const keys = deriveAccountKeys(side.secret);
  assert.deepEqual(
    [keys.handle, hexEncode(keys.vaultKey), hexEncode(keys.loginKey)],
    [side.handle, side.vault_key, side.login_key],
  );
  return keys;
}

test("the old and the new secret derive the keys Python derives", () => {
  const oldKeys = keysOf(vectors.old);
  const newKeys = keysOf(vectors.new);
  assert.notEqual(hexEncode(oldKeys.vaultKey), hexEncode(newKeys.vaultKey));
});

test("every item re-encrypts to the same blob for the next version", () => {
  const oldKey = hexDecode(vectors.old.vault_key);
  const newKey = hexDecode(vectors.new.vault_key);
  assert.ok(vectors.items.length > 0);
  for (const { id, base, nonce, item, old_blob: oldBlob, new_blob: newBlob } of vectors.items) {
    const itemId = hexDecode(id);
    assert.equal(utf8Decode(openItem(oldKey, itemId, base, hexDecode(oldBlob))), item);
    const rekeyed = rekeyItem(oldKey, newKey, itemId, base, hexDecode(oldBlob), {
      nonce: hexDecode(nonce),
    });
    assert.equal(hexEncode(rekeyed), newBlob);
    assert.equal(utf8Decode(openItem(newKey, itemId, base + 1, rekeyed)), item);
  }
});

test("the identity item carries the new handle", () => {
  const { identity } = vectors;
  const oldItem = JSON.parse(identity.old_item);
  assert.deepEqual(JSON.parse(identity.new_item), { ...oldItem, handle: vectors.new.handle });
  const sealed = sealItem(
    hexDecode(vectors.new.vault_key),
    hexDecode(identity.id),
    identity.base + 1,
    utf8Encode(identity.new_item),
    { nonce: hexDecode(identity.nonce) },
  );
  assert.equal(hexEncode(sealed), identity.new_blob);
});

test("a blob of one key or version does not open as the other", () => {
  assert.ok(vectors.invalid.length > 0);
  for (const { name, vault_key: key, id, version, blob, error } of vectors.invalid) {
    assert.throws(
      () => openItem(hexDecode(key), hexDecode(id), version, hexDecode(blob)),
      errorForCode(error),
      name,
    );
  }
});
