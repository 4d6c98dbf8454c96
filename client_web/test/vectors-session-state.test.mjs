// tests/vectors/session_state.json: the session state encoding (PROTOCOL.md 5.7).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { hexDecode, hexEncode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import { decodeState, encodeState } from "../lib/ratchet.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/session_state.json", import.meta.url), "utf8"),
);

const hexOrNull = (bytes) => (bytes === null ? null : hexEncode(bytes));

function fieldsOf(state) {
  return {
    dhs_private: hexEncode(state.dhs.privateKey),
    dhs_public: hexEncode(state.dhs.publicKey),
    dhr: hexOrNull(state.dhr),
    rk: hexEncode(state.rk),
    cks: hexOrNull(state.cks),
    ckr: hexOrNull(state.ckr),
    ns: state.ns,
    nr: state.nr,
    pn: state.pn,
    ad: hexEncode(state.ad),
    ek: hexEncode(state.ek),
    pending:
      state.pending === null
        ? null
        : {
            spk_id: state.pending.spkId,
            opk_id: state.pending.opkId,
            pq_id: state.pending.pqId,
            kem_ciphertext: hexEncode(state.pending.kemCiphertext),
          },
    skipped: [...state.skipped.values()].map(({ dh, n, mk }) => ({
      dh: hexEncode(dh),
      n,
      mk: hexEncode(mk),
    })),
    previous: state.previous.map(hexEncode),
  };
}

test("valid states decode to their fields and re-encode to the same bytes", () => {
  assert.ok(vectors.valid.length > 0);
  for (const { name, hex, fields } of vectors.valid) {
    const state = decodeState(hexDecode(hex));
    assert.deepEqual(fieldsOf(state), fields, name);
    assert.equal(hexEncode(encodeState(state)), hex, name);
  }
});

test("every invalid state is refused with its error code", () => {
  assert.ok(vectors.invalid.length > 0);
  for (const { name, hex, error } of vectors.invalid) {
    assert.throws(() => decodeState(hexDecode(hex)), errorForCode(error), name);
  }
});
