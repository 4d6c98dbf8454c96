// Byte helpers of lib/encoding.js beyond the shared base64url vectors.
import assert from "node:assert/strict";
import test from "node:test";

import {
  b64uDecode,
  b64uEncode,
  b64uLength,
  bytesEqual,
  concatBytes,
  hasExactly,
  hexDecode,
  hexEncode,
  Reader,
  u8,
  u16,
  u32,
  u64,
  utf8Decode,
} from "../lib/encoding.js";
import { MalformedError } from "../lib/errors.js";
import { loadSodium } from "../lib/sodium.js";

const sodium = await loadSodium();

test("base64url agrees with libsodium for every length up to 70 bytes", () => {
  for (let length = 0; length <= 70; length += 1) {
    const bytes = sodium.randombytes_buf(length);
    const text = sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING);
    assert.equal(b64uEncode(bytes), text);
    assert.equal(b64uLength(length), text.length);
    assert.deepEqual(b64uDecode(text, { length }), bytes);
  }
  assert.throws(() => b64uDecode("AAAAAA", { maxLength: 3 }), MalformedError);
  assert.throws(() => b64uDecode(null), MalformedError);
});

test("integers are big-endian and refused out of range", () => {
  assert.deepEqual(u8(0xab), Uint8Array.of(0xab));
  assert.deepEqual(u16(0x0102), Uint8Array.of(1, 2));
  assert.deepEqual(u32(0xfffffffe), Uint8Array.of(0xff, 0xff, 0xff, 0xfe));
  assert.deepEqual(u64(2 ** 40 + 5), Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 5));
  for (const bad of [-1, 2 ** 32, 1.5, Number.NaN, "1"]) {
    assert.throws(() => u32(bad), MalformedError, String(bad));
  }
});

test("the reader refuses short reads and trailing bytes", () => {
  const reader = new Reader(concatBytes(u8(1), u16(2), u32(3), u64(4), Uint8Array.of(9)), "test");
  assert.deepEqual([reader.u8(), reader.u16(), reader.u32(), reader.u64()], [1, 2, 3, 4]);
  assert.equal(reader.remaining(), 1);
  assert.throws(() => reader.finish(), MalformedError);
  assert.throws(() => reader.take(2), MalformedError);
  assert.deepEqual(reader.rest(), Uint8Array.of(9));
  reader.finish();
  assert.throws(() => new Reader("text", "test"), MalformedError);
});

test("hex, UTF-8, exact JSON fields and constant-time equality", () => {
  assert.equal(hexEncode(Uint8Array.of(0, 15, 255)), "000fff");
  assert.deepEqual(hexDecode("000fff"), Uint8Array.of(0, 15, 255));
  assert.throws(() => hexDecode("0F"), MalformedError);
  assert.throws(() => hexDecode("abc"), MalformedError);
  assert.throws(() => utf8Decode(Uint8Array.of(0xc3)), MalformedError);
  assert.equal(utf8Decode(Uint8Array.of(0xef, 0xbb, 0xbf, 0x41)), "\ufeffA", "a BOM is kept");
  assert.equal(hasExactly({ a: 1, b: 2 }, ["a", "b"]), true);
  assert.equal(hasExactly({ a: 1 }, ["a", "b"]), false);
  assert.equal(hasExactly({ a: 1, b: 2, c: 3 }, ["a", "b"]), false);
  assert.equal(hasExactly([1, 2], ["0", "1"]), false);
  assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), true);
  assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3)), false);
  assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1)), false);
});
