// tests/vectors/safety.json: safety numbers (PROTOCOL.md section 8).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { hexDecode } from "../lib/encoding.js";
import { fingerprint, formatSafetyNumber, safetyNumber } from "../lib/safety.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/safety.json", import.meta.url), "utf8"),
);

test("fingerprints and safety numbers match, whichever party computes them", () => {
  assert.ok(vectors.cases.length > 0);
  for (const vector of vectors.cases) {
    const a = [hexDecode(vector.identity_key_a), hexDecode(vector.account_a)];
    const b = [hexDecode(vector.identity_key_b), hexDecode(vector.account_b)];
    assert.equal(fingerprint(...a), vector.fingerprint_a);
    assert.equal(fingerprint(...b), vector.fingerprint_b);
    assert.equal(safetyNumber(...a, ...b), vector.safety_number);
    assert.equal(safetyNumber(...b, ...a), vector.safety_number);
    assert.equal(formatSafetyNumber(vector.safety_number), vector.formatted);
  }
});
