// The account's prekeys and their vault item (PROTOCOL.md sections 3 and 10).
import assert from "node:assert/strict";
import test from "node:test";

import { OPK_BATCH, SPK_ROTATE_DAYS } from "../lib/constants.js";
import { b64uEncode } from "../lib/encoding.js";
import { MalformedError, WrongRecipientError } from "../lib/errors.js";
import { generateIdentitySeed, identityFromSeed } from "../lib/keys.js";
import {
  acceptPrekeyMessage,
  addOneTimePrekeys,
  createPrekeys,
  currentUpload,
  findPrekeys,
  hasSeenEphemeral,
  MAX_OPK_KEPT,
  readPrekeys,
  rotatePrekeys,
  rotationDue,
} from "../lib/prekeys.js";
import { loadSodium } from "../lib/sodium.js";
import { parseBundle } from "../lib/x3dh.js";

const sodium = await loadSodium();
const NOW = 1_767_225_600;
const identity = identityFromSeed(generateIdentitySeed());

function bundleFrom(upload, oneTime) {
  return {
    account: b64uEncode(new Uint8Array(16)),
    identity_key: b64uEncode(identity.publicKey),
    signed_prekey: upload.signed_prekey,
    pq_prekey: upload.pq_prekey,
    one_time_prekey: oneTime ?? null,
  };
}

test("a new account publishes signed prekeys that verify, and keeps their private halves", () => {
  const { item, upload } = createPrekeys(identity, NOW);
  assert.equal(upload.one_time_prekeys.length, OPK_BATCH);
  for (const oneTime of upload.one_time_prekeys) {
    parseBundle(bundleFrom(upload, oneTime));
  }
  const store = readPrekeys(item);
  assert.deepEqual([store.spk.size, store.pq.size, store.opk.size], [1, 1, OPK_BATCH]);
  const ids = [...store.spk.keys(), ...store.pq.keys(), ...store.opk.keys()];
  assert.equal(new Set(ids).size, ids.length, "ids are distinct across kinds");
  assert.ok(ids.every((id) => id >= 1 && id <= 0xffffffff));
  const bundle = parseBundle(bundleFrom(upload, upload.one_time_prekeys[0]));
  const held = findPrekeys(item, {
    spkId: bundle.signedPrekey.id,
    opkId: bundle.oneTimePrekey.id,
    pqId: bundle.pqPrekey.id,
  });
  assert.deepEqual(held.signedPrekey.publicKey, bundle.signedPrekey.key);
  assert.equal(held.oneTimePrivate.length, 32);
  assert.deepEqual(currentUpload(identity, item), {
    signed_prekey: upload.signed_prekey,
    pq_prekey: upload.pq_prekey,
  });
});

test("topping up adds one-time prekeys and keeps at most MAX_OPK_KEPT", () => {
  let { item } = createPrekeys(identity, NOW, { oneTime: 0 });
  const added = addOneTimePrekeys(identity, item, 10);
  assert.equal(added.upload.one_time_prekeys.length, 10);
  assert.equal(added.item.opk.length, 10);
  item = added.item;
  let newest = null;
  for (let i = 0; i < 5; i += 1) {
    const topUp = addOneTimePrekeys(identity, item);
    item = topUp.item;
    newest = topUp.upload.one_time_prekeys.at(-1).id;
  }
  assert.equal(readPrekeys(item).opk.size, MAX_OPK_KEPT);
  assert.equal(item.opk.at(-1).id, newest, "the newest are kept");
  assert.ok(!item.opk.some((entry) => entry.id === added.item.opk[0].id), "the oldest dropped");
});

test("rotation is due after SPK_ROTATE_DAYS and keeps two generations", () => {
  const { item } = createPrekeys(identity, NOW, { oneTime: 0 });
  const week = SPK_ROTATE_DAYS * 24 * 60 * 60;
  assert.equal(rotationDue(item, NOW + week - 1), false);
  assert.equal(rotationDue(item, NOW + week), true);
  const once = rotatePrekeys(identity, item, NOW + week);
  parseBundle(bundleFrom(once.upload));
  assert.equal(once.item.rotated, NOW + week);
  const twice = rotatePrekeys(identity, once.item, NOW + 2 * week).item;
  assert.deepEqual(
    twice.spk.map((e) => e.id),
    [once.item.spk[1].id, twice.spk[1].id],
  );
  assert.equal(twice.pq.length, 2);
  assert.throws(
    () => findPrekeys(twice, { spkId: item.spk[0].id, opkId: 0, pqId: item.pq[0].id }),
    WrongRecipientError,
  );
});

test("accepting a prekey message uses the one-time prekey and records the ephemeral key", () => {
  const { item } = createPrekeys(identity, NOW, { oneTime: 2 });
  const ephemeralKey = sodium.randombytes_buf(32);
  const accepted = acceptPrekeyMessage(item, {
    spkId: item.spk[0].id,
    opkId: item.opk[0].id,
    ephemeralKey,
  });
  assert.deepEqual(accepted.opk, [item.opk[1]]);
  assert.equal(hasSeenEphemeral(accepted, ephemeralKey), true);
  assert.equal(hasSeenEphemeral(item, ephemeralKey), false, "the given item is unchanged");
  // Ephemeral keys are forgotten with the signed prekey they were used with.
  const rotated = rotatePrekeys(identity, rotatePrekeys(identity, accepted, NOW).item, NOW).item;
  const later = acceptPrekeyMessage(rotated, {
    spkId: rotated.spk[1].id,
    opkId: 0,
    ephemeralKey: sodium.randombytes_buf(32),
  });
  assert.equal(later.seen_ek.length, 1);
  assert.equal(hasSeenEphemeral(later, ephemeralKey), false);
});

test("an item of the wrong shape is malformed", () => {
  const { item } = createPrekeys(identity, NOW, { oneTime: 1 });
  const broken = [
    { ...item, kind: "session" },
    { ...item, seen_ek: ["AAAA"] },
    { ...item, rotated: -1 },
    { ...item, opk: [{ id: 0, priv: item.opk[0].priv }] },
    { ...item, opk: [...item.opk, ...item.opk] },
    { ...item, spk: [{ id: 1, priv: "short" }] },
    { ...item, pq: [{ id: 1, seed: item.pq[0].seed, extra: true }] },
  ];
  for (const value of broken) {
    assert.throws(() => readPrekeys(value), MalformedError, JSON.stringify(value).slice(0, 80));
  }
});
