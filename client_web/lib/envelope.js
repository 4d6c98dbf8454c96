// The envelope wire format of PROTOCOL.md section 7.
//
// Framing is checked completely before any cryptography: version, type, the
// exact length of every fixed field, a ciphertext that is a bucket plus the
// tag, non-zero prekey ids, and (on the client) a valid sender identity key.

import {
  AEAD_TAG_BYTES,
  BUCKETS,
  ED25519_PUBLIC_KEY_BYTES,
  ENVELOPE_TYPE_MESSAGE,
  ENVELOPE_TYPE_PREKEY,
  ENVELOPE_VERSION,
  HEADER_BYTES,
  MAX_ENVELOPE,
  MESSAGE_ENVELOPE_FIXED_BYTES,
  MLKEM_CIPHERTEXT_BYTES,
  PREKEY_ENVELOPE_FIXED_BYTES,
  X25519_KEY_BYTES,
} from "./constants.js";
import { concatBytes, Reader, u8, u32 } from "./encoding.js";
import { MalformedError, UnsupportedVersionError } from "./errors.js";
import { identityDhPublic } from "./keys.js";

const CIPHERTEXT_LENGTHS = new Set(BUCKETS.map((bucket) => bucket + AEAD_TAG_BYTES));

function requireLength(value, length, what) {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new MalformedError(`The ${what} must be ${length} bytes.`);
  }
}

function requireCiphertext(ciphertext) {
  if (!(ciphertext instanceof Uint8Array) || !CIPHERTEXT_LENGTHS.has(ciphertext.length)) {
    throw new MalformedError("The ciphertext length is not a padding bucket plus the tag.");
  }
}

// `prekey` is {identityKey, ephemeralKey, spkId, opkId, pqId, kemCiphertext}, or
// null for a type-2 message.
export function encodeEnvelope({ prekey, header, ciphertext }) {
  requireLength(header, HEADER_BYTES, "ratchet header");
  requireCiphertext(ciphertext);
  if (prekey === null) {
    return concatBytes(u8(ENVELOPE_VERSION), u8(ENVELOPE_TYPE_MESSAGE), header, ciphertext);
  }
  requireLength(prekey.identityKey, ED25519_PUBLIC_KEY_BYTES, "identity key");
  requireLength(prekey.ephemeralKey, X25519_KEY_BYTES, "ephemeral key");
  requireLength(prekey.kemCiphertext, MLKEM_CIPHERTEXT_BYTES, "ML-KEM ciphertext");
  if (prekey.spkId === 0 || prekey.pqId === 0) {
    throw new MalformedError("A prekey message needs non-zero spk_id and pq_id.");
  }
  return concatBytes(
    u8(ENVELOPE_VERSION),
    u8(ENVELOPE_TYPE_PREKEY),
    prekey.identityKey,
    prekey.ephemeralKey,
    u32(prekey.spkId),
    u32(prekey.opkId),
    u32(prekey.pqId),
    prekey.kemCiphertext,
    header,
    ciphertext,
  );
}

// Returns {type, prekey, header, ciphertext} with `prekey` as given to
// encodeEnvelope (null for type 2).
export function decodeEnvelope(bytes) {
  if (!(bytes instanceof Uint8Array)) {
    throw new MalformedError("The envelope must be bytes.");
  }
  if (bytes.length < 2) {
    throw new MalformedError("The envelope is shorter than its version and type.");
  }
  if (bytes.length > MAX_ENVELOPE) {
    throw new MalformedError(`An envelope is at most ${MAX_ENVELOPE} bytes.`);
  }
  if (bytes[0] !== ENVELOPE_VERSION) {
    throw new UnsupportedVersionError(`Envelope version ${bytes[0]} is not known here.`);
  }
  const type = bytes[1];
  let fixed;
  if (type === ENVELOPE_TYPE_PREKEY) {
    fixed = PREKEY_ENVELOPE_FIXED_BYTES;
  } else if (type === ENVELOPE_TYPE_MESSAGE) {
    fixed = MESSAGE_ENVELOPE_FIXED_BYTES;
  } else {
    throw new MalformedError(`Envelope type ${type} is not known.`);
  }
  if (!CIPHERTEXT_LENGTHS.has(bytes.length - fixed)) {
    throw new MalformedError("The envelope length does not match its type and a bucket.");
  }
  const reader = new Reader(bytes, "envelope");
  reader.take(2);
  let prekey = null;
  if (type === ENVELOPE_TYPE_PREKEY) {
    prekey = {
      identityKey: reader.take(ED25519_PUBLIC_KEY_BYTES),
      ephemeralKey: reader.take(X25519_KEY_BYTES),
      spkId: reader.u32(),
      opkId: reader.u32(),
      pqId: reader.u32(),
      kemCiphertext: reader.take(MLKEM_CIPHERTEXT_BYTES),
    };
    if (prekey.spkId === 0 || prekey.pqId === 0) {
      throw new MalformedError("A prekey message needs non-zero spk_id and pq_id.");
    }
    identityDhPublic(prekey.identityKey);
  }
  const header = reader.take(HEADER_BYTES);
  const ciphertext = reader.rest();
  return { type, prekey, header, ciphertext };
}
