// tests/vectors/pqxdh.json: session set-up on both sides (PROTOCOL.md 3, 4).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { concatBytes, hexDecode, hexEncode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import { dh, identityFromSeed, mlkemFromSeed, x25519FromPrivate } from "../lib/keys.js";
import { loadSodium } from "../lib/sodium.js";
import { initiate, parseBundle, respond } from "../lib/x3dh.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/pqxdh.json", import.meta.url), "utf8"),
);

const recordedKem =
  ({ ciphertext, shared_secret: sharedSecret }) =>
  () => ({
    ciphertext: hexDecode(ciphertext),
    sharedSecret: hexDecode(sharedSecret),
  });

test("the bundle of every case verifies and decodes to the published keys", () => {
  assert.ok(vectors.cases.length > 0);
  for (const vector of vectors.cases) {
    const bundle = parseBundle(vector.bundle);
    assert.equal(hexEncode(bundle.identityKey), vector.bob.identity_key);
    assert.equal(bundle.signedPrekey.id, vector.bob.spk.id);
    assert.equal(hexEncode(bundle.signedPrekey.key), vector.bob.spk.public);
    assert.equal(hexEncode(bundle.pqPrekey.key), vector.bob.pq.public);
    assert.equal(
      bundle.oneTimePrekey === null ? null : hexEncode(bundle.oneTimePrekey.key),
      vector.bob.opk === null ? null : vector.bob.opk.public,
    );
  }
});

test("the DH outputs and the HKDF input are those of the document", () => {
  for (const vector of vectors.cases) {
    const alice = identityFromSeed(hexDecode(vector.alice.seed));
    const bob = identityFromSeed(hexDecode(vector.bob.seed));
    const ephemeral = hexDecode(vector.ephemeral.private);
    const spk = hexDecode(vector.bob.spk.public);
    const outputs = [dh(alice.dhPrivate, spk), dh(ephemeral, bob.dhPublic), dh(ephemeral, spk)];
    assert.deepEqual(outputs.map(hexEncode), [vector.dh1, vector.dh2, vector.dh3]);
    if (vector.dh4 !== null) {
      outputs.push(dh(ephemeral, hexDecode(vector.bob.opk.public)));
      assert.equal(hexEncode(outputs[3]), vector.dh4);
    }
    const ikm = concatBytes(
      new Uint8Array(32).fill(0xff),
      ...outputs,
      hexDecode(vector.kem.shared_secret),
    );
    assert.equal(hexEncode(ikm), vector.ikm);
  }
});

test("the initiator derives SK and AD", () => {
  for (const vector of vectors.cases) {
    const alice = identityFromSeed(hexDecode(vector.alice.seed));
    const agreement = initiate(alice, parseBundle(vector.bundle), {
      ephemeral: x25519FromPrivate(hexDecode(vector.ephemeral.private)),
      encapsulate: recordedKem(vector.kem),
    });
    assert.equal(hexEncode(agreement.sharedKey), vector.sk, vector.name);
    assert.equal(hexEncode(agreement.ad), vector.ad);
    assert.equal(hexEncode(agreement.ephemeralKey), vector.ephemeral.public);
    assert.equal(hexEncode(agreement.kemCiphertext), vector.kem.ciphertext);
    assert.equal(agreement.opkId, vector.bob.opk === null ? 0 : vector.bob.opk.id);
  }
});

test("the responder derives the same SK and AD from the private halves", () => {
  for (const vector of vectors.cases) {
    const bob = identityFromSeed(hexDecode(vector.bob.seed));
    const { sharedKey, ad } = respond(
      bob,
      {
        identityKey: hexDecode(vector.alice.identity_key),
        ephemeralKey: hexDecode(vector.ephemeral.public),
        kemCiphertext: hexDecode(vector.kem.ciphertext),
      },
      {
        signedPrekey: x25519FromPrivate(hexDecode(vector.bob.spk.private)),
        oneTimePrivate: vector.bob.opk === null ? null : hexDecode(vector.bob.opk.private),
        pqPrivate: mlkemFromSeed(hexDecode(vector.bob.pq.seed)).privateKey,
      },
    );
    assert.equal(hexEncode(sharedKey), vector.sk, vector.name);
    assert.equal(hexEncode(ad), vector.ad);
  }
});

test("every invalid bundle is refused with its error code", () => {
  assert.ok(vectors.invalid_bundles.length > 0);
  for (const { name, bundle, error } of vectors.invalid_bundles) {
    assert.throws(() => parseBundle(bundle), errorForCode(error), name);
  }
});
