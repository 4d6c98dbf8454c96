// tests/vectors/envelope.json: the envelope wire format (PROTOCOL.md section 7).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { hexDecode, hexEncode } from "../lib/encoding.js";
import { decodeEnvelope, encodeEnvelope } from "../lib/envelope.js";
import { errorForCode } from "../lib/errors.js";
import { decodeHeader } from "../lib/ratchet.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/envelope.json", import.meta.url), "utf8"),
);

test("valid envelopes decode to their fields and re-encode to the same bytes", () => {
  assert.ok(vectors.valid.length > 0);
  for (const { name, hex, type, fields } of vectors.valid) {
    const envelope = decodeEnvelope(hexDecode(hex));
    assert.equal(envelope.type, type, name);
    const header = decodeHeader(envelope.header);
    assert.deepEqual({ dh: hexEncode(header.dh), pn: header.pn, n: header.n }, fields.header, name);
    assert.equal(envelope.ciphertext.length, fields.ciphertext_length);
    if (envelope.prekey === null) {
      assert.equal(type, 2);
    } else {
      assert.deepEqual(
        {
          identity_key: hexEncode(envelope.prekey.identityKey),
          ephemeral_key: hexEncode(envelope.prekey.ephemeralKey),
          spk_id: envelope.prekey.spkId,
          opk_id: envelope.prekey.opkId,
          pq_id: envelope.prekey.pqId,
          kem_ciphertext: hexEncode(envelope.prekey.kemCiphertext),
        },
        {
          identity_key: fields.identity_key,
          ephemeral_key: fields.ephemeral_key,
          spk_id: fields.spk_id,
          opk_id: fields.opk_id,
          pq_id: fields.pq_id,
          kem_ciphertext: fields.kem_ciphertext,
        },
        name,
      );
    }
    assert.equal(hexEncode(encodeEnvelope(envelope)), hex, name);
  }
});

test("every invalid envelope is refused with its error code", () => {
  assert.ok(vectors.invalid.length > 0);
  for (const { name, hex, error } of vectors.invalid) {
    assert.throws(() => decodeEnvelope(hexDecode(hex)), errorForCode(error), name);
  }
});
