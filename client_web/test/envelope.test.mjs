// Envelope framing beyond the shared vectors: the encoder's own checks.
import assert from "node:assert/strict";
import test from "node:test";

import { BUCKETS, MAX_ENVELOPE } from "../lib/constants.js";
import { decodeEnvelope, encodeEnvelope } from "../lib/envelope.js";
import { MalformedError } from "../lib/errors.js";
import { loadSodium } from "../lib/sodium.js";

const sodium = await loadSodium();
const header = sodium.randombytes_buf(40);

test("a type-2 envelope of every bucket round-trips", () => {
  for (const bucket of BUCKETS) {
    const ciphertext = sodium.randombytes_buf(bucket + 16);
    const envelope = encodeEnvelope({ prekey: null, header, ciphertext });
    assert.equal(envelope.length, 42 + bucket + 16);
    const decoded = decodeEnvelope(envelope);
    assert.deepEqual([decoded.type, decoded.header, decoded.ciphertext], [2, header, ciphertext]);
  }
});

test("the encoder refuses fields the decoder would refuse", () => {
  const ciphertext = sodium.randombytes_buf(256 + 16);
  const prekey = {
    identityKey: sodium.crypto_sign_keypair().publicKey,
    ephemeralKey: sodium.randombytes_buf(32),
    spkId: 1,
    opkId: 0,
    pqId: 2,
    kemCiphertext: sodium.randombytes_buf(1088),
  };
  assert.equal(encodeEnvelope({ prekey, header, ciphertext }).length, 1206 + 272);
  assert.throws(
    () => encodeEnvelope({ prekey: null, header, ciphertext: ciphertext.slice(1) }),
    MalformedError,
  );
  assert.throws(
    () => encodeEnvelope({ prekey: null, header: header.slice(1), ciphertext }),
    MalformedError,
  );
  assert.throws(
    () => encodeEnvelope({ prekey: { ...prekey, spkId: 0 }, header, ciphertext }),
    MalformedError,
  );
  assert.throws(
    () =>
      encodeEnvelope({
        prekey: { ...prekey, kemCiphertext: prekey.kemCiphertext.slice(1) },
        header,
        ciphertext,
      }),
    MalformedError,
  );
  assert.throws(() => decodeEnvelope(new Uint8Array(MAX_ENVELOPE + 1).fill(1)), MalformedError);
  assert.throws(() => decodeEnvelope("not bytes"), MalformedError);
});
