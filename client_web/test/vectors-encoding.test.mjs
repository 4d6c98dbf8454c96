// tests/vectors/encoding.json: strict base64url (PROTOCOL.md section 1).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { b64uDecode, b64uEncode, hexDecode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/encoding.json", import.meta.url), "utf8"),
);

test("every valid vector encodes and decodes both ways", () => {
  assert.ok(vectors.valid.length > 0);
  for (const { hex, b64u } of vectors.valid) {
    const bytes = hexDecode(hex);
    assert.equal(b64uEncode(bytes), b64u);
    assert.deepEqual(b64uDecode(b64u), bytes);
    assert.deepEqual(b64uDecode(b64u, { length: bytes.length }), bytes);
  }
});

test("every invalid vector fails with its error code", () => {
  assert.ok(vectors.invalid.length > 0);
  for (const { b64u, length, error } of vectors.invalid) {
    const options = length === null ? {} : { length };
    assert.throws(() => b64uDecode(b64u, options), errorForCode(error), JSON.stringify(b64u));
  }
});
