// tests/vectors/padding.json: message and vault padding (PROTOCOL.md 6, 10).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { hexDecode, hexEncode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import { bucketFor, pad, unpad, vaultBucketFor, vaultPad, vaultUnpad } from "../lib/padding.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/padding.json", import.meta.url), "utf8"),
);

test("payloads pad to their bucket and unpad back", () => {
  assert.ok(vectors.pad.length > 0);
  for (const { payload, padded } of vectors.pad) {
    assert.equal(hexEncode(pad(hexDecode(payload))), padded);
    assert.equal(hexEncode(unpad(hexDecode(padded))), payload);
  }
});

test("bucket sizes, and lengths that fit no bucket", () => {
  assert.ok(vectors.bucket.length > 0);
  for (const { length, bucket, error } of vectors.bucket) {
    if (error === undefined) {
      assert.equal(bucketFor(length), bucket);
    } else {
      assert.throws(() => bucketFor(length), errorForCode(error), `length ${length}`);
    }
  }
});

test("invalid padded payloads are refused with their error code", () => {
  assert.ok(vectors.unpad_invalid.length > 0);
  for (const { padded, error } of vectors.unpad_invalid) {
    assert.throws(() => unpad(hexDecode(padded)), errorForCode(error));
  }
});

test("vault items pad to a power of two and unpad back", () => {
  assert.ok(vectors.vpad.length > 0);
  for (const { item, padded } of vectors.vpad) {
    assert.equal(hexEncode(vaultPad(hexDecode(item))), padded);
    assert.equal(hexEncode(vaultUnpad(hexDecode(padded))), item);
  }
});

test("vault padded sizes, and items too large", () => {
  assert.ok(vectors.vpad_size.length > 0);
  for (const { length, size, error } of vectors.vpad_size) {
    if (error === undefined) {
      assert.equal(vaultBucketFor(length), size);
    } else {
      assert.throws(() => vaultBucketFor(length), errorForCode(error), `length ${length}`);
    }
  }
});

test("invalid padded vault items are refused with their error code", () => {
  assert.ok(vectors.vunpad_invalid.length > 0);
  for (const { padded, error } of vectors.vunpad_invalid) {
    assert.throws(() => vaultUnpad(hexDecode(padded)), errorForCode(error));
  }
});
