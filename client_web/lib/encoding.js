// Strict byte encodings of docs/PROTOCOL.md section 1.
//
// `b64u` is base64url without padding, and the decoder accepts exactly one
// spelling of each value (no padding, whitespace, foreign characters or
// non-zero trailing bits), so an identifier or key has a single encoding.
// Integers are unsigned big-endian. `Reader` walks bytes field by field and
// turns every short or trailing read into MalformedError.

import { MalformedError } from "./errors.js";
import { sodium } from "./sodium.js";

const B64U_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64U_VALUES = new Map([...B64U_ALPHABET].map((symbol, value) => [symbol, value]));
const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

export function b64uEncode(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const symbols = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let s = 0; s < symbols; s += 1) {
      text += B64U_ALPHABET[(chunk >> (18 - 6 * s)) & 0x3f];
    }
  }
  return text;
}

// Number of characters that encode `byteCount` bytes.
export function b64uLength(byteCount) {
  const rest = byteCount % 3;
  return 4 * Math.floor(byteCount / 3) + (rest ? rest + 1 : 0);
}

// `length` is the exact and `maxLength` the largest accepted decoded size.
export function b64uDecode(text, { length, maxLength } = {}) {
  if (typeof text !== "string") {
    throw new MalformedError("Expected a base64url string.");
  }
  // Checked on the text first so that an oversized input is refused unread.
  if (length !== undefined && text.length !== b64uLength(length)) {
    throw new MalformedError(`Expected base64url of exactly ${length} bytes.`);
  }
  if (maxLength !== undefined && text.length > b64uLength(maxLength)) {
    throw new MalformedError(`Expected base64url of at most ${maxLength} bytes.`);
  }
  if (text.length % 4 === 1) {
    throw new MalformedError("Not canonical unpadded base64url.");
  }
  const bytes = new Uint8Array(Math.floor((text.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let out = 0;
  for (const symbol of text) {
    const value = B64U_VALUES.get(symbol);
    if (value === undefined) {
      throw new MalformedError("Not canonical unpadded base64url.");
    }
    buffer = ((buffer << 6) | value) & 0xfff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[out] = (buffer >> bits) & 0xff;
      out += 1;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) {
    throw new MalformedError("Not canonical base64url: the trailing bits must be zero.");
  }
  return bytes;
}

export function hexEncode(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function hexDecode(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) {
    throw new MalformedError("Expected lower-case hexadecimal of whole bytes.");
  }
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i += 1) {
    bytes[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

export function utf8Encode(text) {
  return UTF8_ENCODER.encode(text);
}

export function utf8Decode(bytes) {
  try {
    return UTF8_DECODER.decode(bytes);
  } catch {
    throw new MalformedError("The text is not valid UTF-8.");
  }
}

export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function unsigned(value, size) {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** (8 * size)) {
    throw new MalformedError(`Not an unsigned ${8 * size}-bit integer: ${value}.`);
  }
  const out = new Uint8Array(size);
  let rest = value;
  for (let i = size - 1; i >= 0; i -= 1) {
    out[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return out;
}

export const u8 = (value) => unsigned(value, 1);
export const u16 = (value) => unsigned(value, 2);
export const u32 = (value) => unsigned(value, 4);
export const u64 = (value) => unsigned(value, 8);

export function readUnsigned(bytes) {
  let value = 0;
  for (const byte of bytes) {
    value = value * 256 + byte;
  }
  return value;
}

// A JSON object with exactly these fields, no more and no fewer.
export function hasExactly(json, fields) {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return false;
  }
  const keys = Object.keys(json);
  return keys.length === fields.length && fields.every((field) => Object.hasOwn(json, field));
}

// Constant-time equality for secrets and keys; lengths are public.
export function bytesEqual(a, b) {
  return a.length === b.length && sodium.memcmp(a, b);
}

export class Reader {
  constructor(bytes, what) {
    if (!(bytes instanceof Uint8Array)) {
      throw new MalformedError(`The ${what} must be bytes.`);
    }
    this.bytes = bytes;
    this.offset = 0;
    this.what = what;
  }

  take(count) {
    const end = this.offset + count;
    if (end > this.bytes.length) {
      throw new MalformedError(`The ${this.what} is too short.`);
    }
    const chunk = this.bytes.slice(this.offset, end);
    this.offset = end;
    return chunk;
  }

  u8() {
    return readUnsigned(this.take(1));
  }

  u16() {
    return readUnsigned(this.take(2));
  }

  u32() {
    return readUnsigned(this.take(4));
  }

  u64() {
    return readUnsigned(this.take(8));
  }

  rest() {
    return this.take(this.bytes.length - this.offset);
  }

  remaining() {
    return this.bytes.length - this.offset;
  }

  finish() {
    if (this.offset !== this.bytes.length) {
      throw new MalformedError(`The ${this.what} has trailing bytes.`);
    }
  }
}
