// Padding of plaintexts to a few public sizes (PROTOCOL.md sections 6 and 10).
//
// ISO/IEC 7816-4 padding (0x80 then zeros, libsodium's sodium_pad) to a fixed
// bucket, so a ciphertext reveals only which of five sizes a message falls
// into; vault items pad to a power of two. Unpadding accepts only lengths the
// padder can produce, so every padded value has one reading.

import {
  BUCKETS,
  MAX_PLAINTEXT,
  MAX_VAULT_ITEM,
  PAD_MARKER,
  VAULT_MIN_PADDED,
} from "./constants.js";
import { MalformedError } from "./errors.js";

function padTo(data, size) {
  const out = new Uint8Array(size);
  out.set(data);
  out[data.length] = PAD_MARKER;
  return out;
}

function stripPadding(padded) {
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) {
    end -= 1;
  }
  if (end < 0 || padded[end] !== PAD_MARKER) {
    throw new MalformedError("The padding is not 0x80 followed by zero bytes.");
  }
  return padded.slice(0, end);
}

export function bucketFor(length) {
  const bucket = BUCKETS.find((size) => size >= length + 1);
  if (length > MAX_PLAINTEXT || bucket === undefined) {
    throw new MalformedError(`The payload is ${length} bytes; at most ${MAX_PLAINTEXT} fit.`);
  }
  return bucket;
}

export function pad(payload) {
  return padTo(payload, bucketFor(payload.length));
}

export function unpad(padded) {
  if (!BUCKETS.includes(padded.length)) {
    throw new MalformedError(`A padded plaintext of ${padded.length} bytes is not a bucket.`);
  }
  return stripPadding(padded);
}

export function vaultBucketFor(length) {
  let bucket = VAULT_MIN_PADDED;
  while (bucket < length + 1) {
    bucket *= 2;
  }
  if (bucket > MAX_VAULT_ITEM) {
    throw new MalformedError(
      `The vault item is ${length} bytes; at most ${MAX_VAULT_ITEM - 1} fit.`,
    );
  }
  return bucket;
}

export function vaultPad(item) {
  return padTo(item, vaultBucketFor(item.length));
}

export function vaultUnpad(padded) {
  const size = padded.length;
  if (size < VAULT_MIN_PADDED || size > MAX_VAULT_ITEM || (size & (size - 1)) !== 0) {
    throw new MalformedError(`A padded vault item of ${size} bytes is not a power of two.`);
  }
  return stripPadding(padded);
}
