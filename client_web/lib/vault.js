// The account secret, the keys derived from it, and vault item encryption
// (PROTOCOL.md sections 9 and 10).
//
// Exported API (synchronous, after `await loadSodium()`; bytes are Uint8Array):
//   generateSecret() -> "HHHH-HHHH-PPPP-PPPP-PPPP-PPPP" (24 random Crockford symbols)
//   normaliseSecret(text) -> {handle, passphrase}  8 and 16 symbols; MalformedError
//       for any other symbol or length
//   formatSecret({handle, passphrase}) -> the grouped form shown to the person
//   argon2Salt(handle) -> Uint8Array(16)
//   deriveMaster({handle, passphrase}, {opslimit?, memlimit?}) -> Uint8Array(32)
//   keysFromMaster(master) -> {vaultKey, loginKey}
//   deriveAccountKeys(secretText, {opslimit?, memlimit?}) -> {handle, vaultKey, loginKey}
//       Argon2id (t = 3, m = 64 MiB unless a test passes smaller costs), then HKDF;
//       blocks for about 0.1 s on a desktop
//   itemAssociatedData(id, version) -> Uint8Array
//   encryptItem(vaultKey, id, version, item, {nonce?}) -> blob (Uint8Array)
//       `id` 16 bytes, `version` integer >= 1, `item` a JSON-serialisable object
//   decryptItem(vaultKey, id, version, blob) -> item object; TamperedError if the blob
//       does not open under this key, id and version; UnsupportedVersionError for an
//       unknown first byte; MalformedError for bad framing, padding or JSON
//   sealItem(vaultKey, id, version, itemBytes, {nonce?}) -> blob
//   openItem(vaultKey, id, version, blob) -> itemBytes   the same, on the item's bytes

import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  ARGON2_MEMLIMIT,
  ARGON2_OPSLIMIT,
  ARGON2_OUTPUT_BYTES,
  ARGON2_SALT_BYTES,
  CROCKFORD_ALPHABET,
  CTX_ARGON2_SALT,
  CTX_LOGIN_KEY,
  CTX_VAULT_ITEM,
  CTX_VAULT_KEY,
  HANDLE_SYMBOLS,
  ID_BYTES,
  MAX_VAULT_ITEM,
  SECRET_GROUP,
  SECRET_SYMBOLS,
  VAULT_BLOB_VERSION,
  VAULT_KEY_SALT,
  VAULT_MIN_PADDED,
} from "./constants.js";
import { concatBytes, u8, u64, utf8Decode, utf8Encode } from "./encoding.js";
import { MalformedError, TamperedError, UnsupportedVersionError } from "./errors.js";
import { hkdf } from "./kdf.js";
import { vaultPad, vaultUnpad } from "./padding.js";
import { sodium } from "./sodium.js";

// Crockford's reading of look-alike symbols.
const SYMBOL_ALIASES = { O: "0", I: "1", L: "1" };
const SEPARATORS = /[- \t\r\n]/g;

export function generateSecret() {
  let symbols = "";
  for (let i = 0; i < SECRET_SYMBOLS; i += 1) {
    symbols += CROCKFORD_ALPHABET[sodium.randombytes_uniform(CROCKFORD_ALPHABET.length)];
  }
  return formatSecret({
    handle: symbols.slice(0, HANDLE_SYMBOLS),
    passphrase: symbols.slice(HANDLE_SYMBOLS),
  });
}

export function normaliseSecret(text) {
  if (typeof text !== "string") {
    throw new MalformedError("The account secret must be text.");
  }
  // Non-ASCII input is refused before upper-casing, so that no language's
  // case rules (dotless i, sharp s) can turn a character into a symbol.
  if (!/^\p{ASCII}*$/u.test(text)) {
    throw new MalformedError(
      "An account secret uses only the digits and the letters A-Z without I, L, O and U.",
    );
  }
  const symbols = [...text.toUpperCase().replace(SEPARATORS, "")].map(
    (symbol) => SYMBOL_ALIASES[symbol] ?? symbol,
  );
  if (symbols.length !== SECRET_SYMBOLS) {
    throw new MalformedError(
      `An account secret has ${SECRET_SYMBOLS} symbols; this one has ${symbols.length}.`,
    );
  }
  if (!symbols.every((symbol) => CROCKFORD_ALPHABET.includes(symbol))) {
    throw new MalformedError(
      "An account secret uses only the digits and the letters A-Z without I, L, O and U.",
    );
  }
  const joined = symbols.join("");
  return { handle: joined.slice(0, HANDLE_SYMBOLS), passphrase: joined.slice(HANDLE_SYMBOLS) };
}

export function formatSecret({ handle, passphrase }) {
  return `${handle}${passphrase}`.match(new RegExp(`.{1,${SECRET_GROUP}}`, "g")).join("-");
}

export function argon2Salt(handle) {
  return sodium
    .crypto_hash_sha256(concatBytes(CTX_ARGON2_SALT, utf8Encode(handle)))
    .slice(0, ARGON2_SALT_BYTES);
}

// Argon2id of the passphrase, salted by the handle; `costs` are the protocol's
// unless a test passes smaller ones.
export function deriveMaster(
  { handle, passphrase },
  { opslimit = ARGON2_OPSLIMIT, memlimit = ARGON2_MEMLIMIT } = {},
) {
  return sodium.crypto_pwhash(
    ARGON2_OUTPUT_BYTES,
    utf8Encode(passphrase),
    argon2Salt(handle),
    opslimit,
    memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
}

export function keysFromMaster(master) {
  return {
    vaultKey: hkdf(master, VAULT_KEY_SALT, CTX_VAULT_KEY, 32),
    loginKey: hkdf(master, VAULT_KEY_SALT, CTX_LOGIN_KEY, 32),
  };
}

export function deriveAccountKeys(secretText, costs = {}) {
  const secret = normaliseSecret(secretText);
  const master = deriveMaster(secret, costs);
  const keys = keysFromMaster(master);
  sodium.memzero(master);
  return { handle: secret.handle, ...keys };
}

export function itemAssociatedData(id, version) {
  if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) {
    throw new MalformedError(`A vault item id is ${ID_BYTES} bytes.`);
  }
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new MalformedError("A vault item version is an integer from 1.");
  }
  return concatBytes(CTX_VAULT_ITEM, id, u64(version));
}

// blob = 0x01 || nonce || AEAD(vault_key, nonce, ad(id, version), vpad(itemBytes)).
// `nonce` is fresh unless a test vector fixes it.
export function sealItem(vaultKey, id, version, itemBytes, { nonce } = {}) {
  const associatedData = itemAssociatedData(id, version);
  const itemNonce = nonce ?? sodium.randombytes_buf(AEAD_NONCE_BYTES);
  const padded = vaultPad(itemBytes);
  const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    padded,
    associatedData,
    null,
    itemNonce,
    vaultKey,
  );
  sodium.memzero(padded);
  return concatBytes(u8(VAULT_BLOB_VERSION), itemNonce, sealed);
}

export function openItem(vaultKey, id, version, blob) {
  const associatedData = itemAssociatedData(id, version);
  if (!(blob instanceof Uint8Array) || blob.length === 0) {
    throw new MalformedError("A vault blob must be non-empty bytes.");
  }
  if (blob[0] !== VAULT_BLOB_VERSION) {
    throw new UnsupportedVersionError(`Vault blob version ${blob[0]} is not known here.`);
  }
  const paddedLength = blob.length - 1 - AEAD_NONCE_BYTES - AEAD_TAG_BYTES;
  if (paddedLength < VAULT_MIN_PADDED || paddedLength > MAX_VAULT_ITEM) {
    throw new MalformedError("The vault blob has the wrong length.");
  }
  let padded;
  try {
    padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      blob.subarray(1 + AEAD_NONCE_BYTES),
      associatedData,
      blob.subarray(1, 1 + AEAD_NONCE_BYTES),
      vaultKey,
    );
  } catch {
    throw new TamperedError(
      "The vault item does not open: it was changed, swapped or is not the current version.",
    );
  }
  try {
    return vaultUnpad(padded);
  } finally {
    sodium.memzero(padded);
  }
}

export function encryptItem(vaultKey, id, version, item, options = {}) {
  const itemBytes = utf8Encode(JSON.stringify(item));
  try {
    return sealItem(vaultKey, id, version, itemBytes, options);
  } finally {
    sodium.memzero(itemBytes);
  }
}

export function decryptItem(vaultKey, id, version, blob) {
  const itemBytes = openItem(vaultKey, id, version, blob);
  let item;
  try {
    item = JSON.parse(utf8Decode(itemBytes));
  } catch (error) {
    throw error instanceof MalformedError
      ? error
      : new MalformedError("The vault item is not JSON.");
  } finally {
    sodium.memzero(itemBytes);
  }
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    throw new MalformedError("A vault item must be a JSON object.");
  }
  return item;
}

// An item re-encrypted for a change of the account secret (PROTOCOL.md 9.1):
// the blob stored at version `base` under `oldKey` becomes the same padded
// plaintext sealed under `newKey` for version `base + 1`, so the switch is a
// write like any other and no device takes one key's blob for the other's.
export function rekeyItem(oldKey, newKey, id, base, blob, options = {}) {
  const itemBytes = openItem(oldKey, id, base, blob);
  try {
    return sealItem(newKey, id, base + 1, itemBytes, options);
  } finally {
    sodium.memzero(itemBytes);
  }
}
