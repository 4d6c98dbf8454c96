// Key pairs of PROTOCOL.md sections 1 to 3: the Ed25519 identity and its
// X25519 form, X25519 pairs for prekeys and ratchets, ML-KEM-768 from a seed.
//
// Exported API (all synchronous, after `await loadSodium()`; bytes are Uint8Array):
//   generateIdentitySeed() -> Uint8Array(32)
//   identityFromSeed(seed) -> Identity = {seed, publicKey (Ed25519, 32),
//       signingKey (Ed25519 secret key, 64), dhPrivate (X25519, 32), dhPublic (X25519, 32)}
//   wipeIdentity(identity) -> undefined             zeroes every private field
//   identityDhPublic(publicKey) -> Uint8Array(32)   X25519 form of a received Ed25519
//       key; MalformedError if the key is not a valid Ed25519 public key
//   generateX25519() -> {privateKey, publicKey}
//   x25519FromPrivate(privateKey) -> {privateKey, publicKey}
//   dh(privateKey, publicKey) -> Uint8Array(32)     MalformedError on an all-zero result
//   generateMlkemSeed() -> Uint8Array(64)
//   mlkemFromSeed(seed) -> {seed, publicKey (1184), privateKey (expanded)}
//   mlkemEncapsulate(publicKey) -> {ciphertext (1088), sharedSecret (32)}
//   mlkemDecapsulate(privateKey, ciphertext) -> sharedSecret (32); ML-KEM's implicit
//       rejection turns a changed ciphertext into a wrong secret, not an error

import {
  DH_OUTPUT_BYTES,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SEED_BYTES,
  MLKEM_CIPHERTEXT_BYTES,
  MLKEM_PUBLIC_KEY_BYTES,
  MLKEM_SEED_BYTES,
  X25519_KEY_BYTES,
} from "./constants.js";
import { MalformedError } from "./errors.js";
import { sodium } from "./sodium.js";

function requireBytes(value, length, what) {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new MalformedError(`The ${what} must be ${length} bytes.`);
  }
}

export function generateIdentitySeed() {
  return sodium.randombytes_buf(ED25519_SEED_BYTES);
}

export function identityFromSeed(seed) {
  requireBytes(seed, ED25519_SEED_BYTES, "identity seed");
  const pair = sodium.crypto_sign_seed_keypair(seed);
  return {
    seed: seed.slice(),
    publicKey: pair.publicKey,
    signingKey: pair.privateKey,
    dhPrivate: sodium.crypto_sign_ed25519_sk_to_curve25519(pair.privateKey),
    dhPublic: sodium.crypto_sign_ed25519_pk_to_curve25519(pair.publicKey),
  };
}

export function wipeIdentity(identity) {
  sodium.memzero(identity.seed);
  sodium.memzero(identity.signingKey);
  sodium.memzero(identity.dhPrivate);
}

// Section 2: a received Ed25519 key is checked by converting it; a key the
// conversion rejects (small order, not on the curve) is malformed.
export function identityDhPublic(publicKey) {
  requireBytes(publicKey, ED25519_PUBLIC_KEY_BYTES, "identity key");
  try {
    return sodium.crypto_sign_ed25519_pk_to_curve25519(publicKey);
  } catch {
    throw new MalformedError("The identity key is not a valid Ed25519 public key.");
  }
}

export function generateX25519() {
  const pair = sodium.crypto_box_keypair();
  return { privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export function x25519FromPrivate(privateKey) {
  requireBytes(privateKey, X25519_KEY_BYTES, "X25519 private key");
  return { privateKey: privateKey.slice(), publicKey: sodium.crypto_scalarmult_base(privateKey) };
}

export function dh(privateKey, publicKey) {
  requireBytes(publicKey, X25519_KEY_BYTES, "X25519 public key");
  let shared;
  try {
    shared = sodium.crypto_scalarmult(privateKey, publicKey);
  } catch {
    throw new MalformedError("The X25519 public key has small order (all-zero shared secret).");
  }
  if (shared.length !== DH_OUTPUT_BYTES || sodium.is_zero(shared)) {
    throw new MalformedError("The X25519 public key has small order (all-zero shared secret).");
  }
  return shared;
}

export function generateMlkemSeed() {
  return sodium.randombytes_buf(MLKEM_SEED_BYTES);
}

export function mlkemFromSeed(seed) {
  requireBytes(seed, MLKEM_SEED_BYTES, "ML-KEM seed");
  const pair = sodium.crypto_kem_mlkem768_seed_keypair(seed);
  return { seed: seed.slice(), publicKey: pair.publicKey, privateKey: pair.privateKey };
}

export function mlkemEncapsulate(publicKey) {
  requireBytes(publicKey, MLKEM_PUBLIC_KEY_BYTES, "ML-KEM public key");
  try {
    return sodium.crypto_kem_mlkem768_enc(publicKey);
  } catch {
    throw new MalformedError("The ML-KEM public key is not valid.");
  }
}

export function mlkemDecapsulate(privateKey, ciphertext) {
  requireBytes(ciphertext, MLKEM_CIPHERTEXT_BYTES, "ML-KEM ciphertext");
  return sodium.crypto_kem_mlkem768_dec(ciphertext, privateKey);
}
