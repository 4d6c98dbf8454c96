// Safety numbers (PROTOCOL.md section 8), after Signal's displayable
// fingerprint version 0: 30 digits per party from an iterated SHA-512 of the
// identity key and account id; the two strings sorted and joined.
//
// Exported API (synchronous, after `await loadSodium()`):
//   fingerprint(identityKey, accountId) -> string of 30 digits
//   safetyNumber(identityKeyA, accountIdA, identityKeyB, accountIdB) -> string of 60 digits
//       (the same for both parties, whichever is A)
//   formatSafetyNumber(digits) -> "12345 67890 ..." (12 groups of 5, space-separated)

import {
  ED25519_PUBLIC_KEY_BYTES,
  ID_BYTES,
  SAFETY_CHUNK_MODULUS,
  SAFETY_CHUNKS,
  SAFETY_FINGERPRINT_VERSION,
  SAFETY_ITERATIONS,
} from "./constants.js";
import { concatBytes, readUnsigned, u16 } from "./encoding.js";
import { MalformedError } from "./errors.js";
import { sodium } from "./sodium.js";

const CHUNK_BYTES = 5;
const CHUNK_DIGITS = 5;

export function fingerprint(identityKey, accountId) {
  if (
    !(identityKey instanceof Uint8Array) ||
    identityKey.length !== ED25519_PUBLIC_KEY_BYTES ||
    !(accountId instanceof Uint8Array) ||
    accountId.length !== ID_BYTES
  ) {
    throw new MalformedError("A fingerprint needs a 32-byte identity key and a 16-byte id.");
  }
  let hash = sodium.crypto_hash_sha512(
    concatBytes(u16(SAFETY_FINGERPRINT_VERSION), identityKey, accountId),
  );
  const input = new Uint8Array(hash.length + identityKey.length);
  input.set(identityKey, hash.length);
  for (let i = 0; i < SAFETY_ITERATIONS; i += 1) {
    input.set(hash, 0);
    hash = sodium.crypto_hash_sha512(input);
  }
  let digits = "";
  for (let i = 0; i < SAFETY_CHUNKS; i += 1) {
    const chunk = readUnsigned(hash.subarray(CHUNK_BYTES * i, CHUNK_BYTES * (i + 1)));
    digits += String(chunk % SAFETY_CHUNK_MODULUS).padStart(CHUNK_DIGITS, "0");
  }
  return digits;
}

export function safetyNumber(identityKeyA, accountIdA, identityKeyB, accountIdB) {
  const parts = [fingerprint(identityKeyA, accountIdA), fingerprint(identityKeyB, accountIdB)];
  parts.sort();
  return parts.join("");
}

export function formatSafetyNumber(digits) {
  return digits.match(/.{1,5}/g).join(" ");
}
