// HMAC-SHA256 and HKDF-SHA256 (RFC 2104, RFC 5869), and the ratchet's three
// KDFs of PROTOCOL.md section 5.1 as thin, named wrappers.
//
// libsodium.js exports no HKDF, and WebCrypto's is asynchronous and absent in
// Node's test runs of this same code, so HKDF is built here over libsodium's
// HMAC-SHA256: the same few lines the Python package builds over its standard
// library, checked against RFC 5869's test cases. The streaming HMAC interface
// is used because it accepts keys of any length, as RFC 2104 does.

import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  CK_CHAIN_BYTE,
  CK_MESSAGE_BYTE,
  CTX_GROUP_MESSAGE_KEYS,
  CTX_MESSAGE_KEYS,
  CTX_ROOT_CHAIN,
  HASH_BYTES,
  MESSAGE_KEY_SALT,
} from "./constants.js";
import { concatBytes } from "./encoding.js";
import { sodium } from "./sodium.js";

export function hmacSha256(key, ...parts) {
  const state = sodium.crypto_auth_hmacsha256_init(key);
  for (const part of parts) {
    sodium.crypto_auth_hmacsha256_update(state, part);
  }
  return sodium.crypto_auth_hmacsha256_final(state);
}

export function hkdf(ikm, salt, info, length) {
  if (!Number.isInteger(length) || length < 1 || length > 255 * HASH_BYTES) {
    throw new RangeError(`HKDF output length must be 1..${255 * HASH_BYTES}, not ${length}.`);
  }
  // RFC 5869: an absent salt is a string of HashLen zeros.
  const prk = hmacSha256(salt.length > 0 ? salt : new Uint8Array(HASH_BYTES), ikm);
  const blocks = [];
  let previous = new Uint8Array(0);
  for (let counter = 1; counter <= Math.ceil(length / HASH_BYTES); counter += 1) {
    previous = hmacSha256(prk, previous, info, Uint8Array.of(counter));
    blocks.push(previous);
  }
  const okm = concatBytes(...blocks).slice(0, length);
  sodium.memzero(prk);
  for (const block of blocks) sodium.memzero(block);
  return okm;
}

// KDF_RK: returns [new root key, new chain key].
export function kdfRk(rootKey, dhOutput) {
  const okm = hkdf(dhOutput, rootKey, CTX_ROOT_CHAIN, 2 * HASH_BYTES);
  const keys = [okm.slice(0, HASH_BYTES), okm.slice(HASH_BYTES)];
  sodium.memzero(okm);
  return keys;
}

// KDF_CK: returns [next chain key, message key].
export function kdfCk(chainKey) {
  return [hmacSha256(chainKey, CK_CHAIN_BYTE), hmacSha256(chainKey, CK_MESSAGE_BYTE)];
}

// The AEAD key and nonce of one message key.
export function messageKeys(messageKey) {
  const length = AEAD_KEY_BYTES + AEAD_NONCE_BYTES;
  const okm = hkdf(messageKey, MESSAGE_KEY_SALT, CTX_MESSAGE_KEYS, length);
  const keys = { key: okm.slice(0, AEAD_KEY_BYTES), nonce: okm.slice(AEAD_KEY_BYTES) };
  sodium.memzero(okm);
  return keys;
}

// The AEAD key and nonce of one group message key (section 15.4): the same
// derivation under its own info string.
export function groupMessageKeys(messageKey) {
  const length = AEAD_KEY_BYTES + AEAD_NONCE_BYTES;
  const okm = hkdf(messageKey, MESSAGE_KEY_SALT, CTX_GROUP_MESSAGE_KEYS, length);
  const keys = { key: okm.slice(0, AEAD_KEY_BYTES), nonce: okm.slice(AEAD_KEY_BYTES) };
  sodium.memzero(okm);
  return keys;
}
