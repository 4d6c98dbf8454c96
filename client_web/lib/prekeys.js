// The account's own prekeys (PROTOCOL.md section 3) and the `prekeys` vault
// item that holds their private halves (section 10).
//
// The item is plain JSON as stored in the vault: `spk` [{id, priv}] and `pq`
// [{id, seed}] oldest first, the last entry being the one published, at most
// two generations (so messages in flight across a rotation still open); `opk`
// [{id, priv}] the one-time prekeys not yet used; `seen_ek` [{spk, ek}] the
// initiators' ephemeral keys already accepted, each with the signed prekey id
// it was used with (kept as long as that signed prekey is); `rotated` (unix
// seconds). Functions return a new item and never change the one given; the
// caller commits the item first and uploads second, so a crash in between
// leaves private keys nobody was given, never a published key whose private
// half is lost.
//
// Exported API (synchronous, after `await loadSodium()`):
//   createPrekeys(identity, now, {oneTime = OPK_BATCH}?) -> {item, upload}
//       `upload` is the body of PUT /api/prekeys: {signed_prekey, pq_prekey,
//       one_time_prekeys}
//   addOneTimePrekeys(identity, item, count = OPK_BATCH) -> {item, upload}
//       keeps at most MAX_OPK_KEPT unused one-time prekeys, dropping the oldest
//   rotationDue(item, now) -> boolean     SPK_ROTATE_DAYS after `rotated`
//   rotatePrekeys(identity, item, now) -> {item, upload}  new signed and pq prekeys
//   currentUpload(identity, item) -> upload   republishes the current signed prekeys
//   readPrekeys(item) -> {spk, pq, opk: Map id -> private bytes, seen: [{spk, ek}],
//       rotated}; MalformedError unless the item has the shape above
//   hasSeenEphemeral(item, ephemeralKey) -> boolean
//   findPrekeys(item, {spkId, opkId, pqId}) -> {signedPrekey {privateKey, publicKey},
//       oneTimePrivate (null when opkId is 0), pqPrivate}; WrongRecipientError when
//       an id is not held
//   acceptPrekeyMessage(item, {spkId, opkId, ephemeralKey}) -> item without that
//       one-time prekey and with the ephemeral key recorded as seen

import { MLKEM_SEED_BYTES, OPK_BATCH, SPK_ROTATE_DAYS, X25519_KEY_BYTES } from "./constants.js";
import { b64uDecode, b64uEncode, bytesEqual, hasExactly } from "./encoding.js";
import { MalformedError, WrongRecipientError } from "./errors.js";
import { generateMlkemSeed, generateX25519, mlkemFromSeed, x25519FromPrivate } from "./keys.js";
import { isPrekeyId, PREKEY_KINDS, signPrekey } from "./signatures.js";
import { sodium } from "./sodium.js";

export const GENERATIONS_KEPT = 2;
// One-time prekeys handed out but never used stay in the item; beyond this
// many the oldest go, so the item cannot grow forever.
export const MAX_OPK_KEPT = 4 * OPK_BATCH;
const ROTATE_SECONDS = SPK_ROTATE_DAYS * 24 * 60 * 60;
const ITEM_FIELDS = ["kind", "spk", "pq", "opk", "seen_ek", "rotated"];

function entries(list, secretField, length) {
  if (!Array.isArray(list)) {
    throw new MalformedError("A prekey list must be a JSON array.");
  }
  const byId = new Map();
  for (const entry of list) {
    if (!hasExactly(entry, ["id", secretField])) {
      throw new MalformedError(`A stored prekey is {"id", "${secretField}"}.`);
    }
    if (!isPrekeyId(entry.id) || byId.has(entry.id)) {
      throw new MalformedError("Prekey ids are distinct non-zero 32-bit integers.");
    }
    byId.set(entry.id, b64uDecode(entry[secretField], { length }));
  }
  return byId;
}

function checkItem(item) {
  if (
    item === null ||
    typeof item !== "object" ||
    item.kind !== "prekeys" ||
    !ITEM_FIELDS.every((field) => Object.hasOwn(item, field))
  ) {
    throw new MalformedError("Not a prekeys vault item.");
  }
}

// The accepted ephemeral keys alone, without decoding any private key.
function seenOf(item) {
  checkItem(item);
  if (
    !Array.isArray(item.seen_ek) ||
    !item.seen_ek.every((seen) => hasExactly(seen, ["spk", "ek"]) && Number.isInteger(seen.spk))
  ) {
    throw new MalformedError('`seen_ek` is a list of {"spk", "ek"}.');
  }
  return item.seen_ek.map((seen) => ({
    spk: seen.spk,
    ek: b64uDecode(seen.ek, { length: X25519_KEY_BYTES }),
  }));
}

export function readPrekeys(item) {
  const seen = seenOf(item);
  if (!Number.isSafeInteger(item.rotated) || item.rotated < 0) {
    throw new MalformedError("`rotated` is unix seconds.");
  }
  return {
    spk: entries(item.spk, "priv", X25519_KEY_BYTES),
    pq: entries(item.pq, "seed", MLKEM_SEED_BYTES),
    opk: entries(item.opk, "priv", X25519_KEY_BYTES),
    seen,
    rotated: item.rotated,
  };
}

function takenIds(item) {
  return new Set(["spk", "pq", "opk"].flatMap((field) => (item[field] ?? []).map((e) => e.id)));
}

// A uniform non-zero u32 not yet used by any of the account's prekeys.
function freshId(taken) {
  for (;;) {
    const id = sodium.randombytes_random();
    if (id !== 0 && !taken.has(id)) {
      taken.add(id);
      return id;
    }
  }
}

function newOneTimePrekeys(identity, taken, count) {
  const stored = [];
  const upload = [];
  for (let i = 0; i < count; i += 1) {
    const id = freshId(taken);
    const pair = generateX25519();
    upload.push(signPrekey(identity, PREKEY_KINDS.oneTime, id, pair.publicKey));
    stored.push({ id, priv: b64uEncode(pair.privateKey) });
    sodium.memzero(pair.privateKey);
  }
  return { stored, upload };
}

function signedUpload(identity, spkEntry, pqEntry) {
  const spkPrivate = b64uDecode(spkEntry.priv, { length: X25519_KEY_BYTES });
  const spk = x25519FromPrivate(spkPrivate);
  const pqSeed = b64uDecode(pqEntry.seed, { length: MLKEM_SEED_BYTES });
  const pq = mlkemFromSeed(pqSeed);
  const upload = {
    signed_prekey: signPrekey(identity, PREKEY_KINDS.signed, spkEntry.id, spk.publicKey),
    pq_prekey: signPrekey(identity, PREKEY_KINDS.pq, pqEntry.id, pq.publicKey),
  };
  [spkPrivate, spk.privateKey, pqSeed, pq.seed, pq.privateKey].forEach(sodium.memzero);
  return upload;
}

function newSignedPair(taken) {
  const spk = generateX25519();
  const pqSeed = generateMlkemSeed();
  const stored = {
    spk: { id: freshId(taken), priv: b64uEncode(spk.privateKey) },
    pq: { id: freshId(taken), seed: b64uEncode(pqSeed) },
  };
  sodium.memzero(spk.privateKey);
  sodium.memzero(pqSeed);
  return stored;
}

export function createPrekeys(identity, now, { oneTime = OPK_BATCH } = {}) {
  const taken = new Set();
  const signed = newSignedPair(taken);
  const opk = newOneTimePrekeys(identity, taken, oneTime);
  return {
    item: {
      kind: "prekeys",
      spk: [signed.spk],
      pq: [signed.pq],
      opk: opk.stored,
      seen_ek: [],
      rotated: now,
    },
    upload: { ...signedUpload(identity, signed.spk, signed.pq), one_time_prekeys: opk.upload },
  };
}

export function addOneTimePrekeys(identity, item, count = OPK_BATCH) {
  const opk = newOneTimePrekeys(identity, takenIds(item), count);
  return {
    item: { ...item, opk: [...(item.opk ?? []), ...opk.stored].slice(-MAX_OPK_KEPT) },
    upload: { one_time_prekeys: opk.upload },
  };
}

export function rotationDue(item, now) {
  return !Number.isInteger(item.rotated) || now - item.rotated >= ROTATE_SECONDS;
}

export function rotatePrekeys(identity, item, now) {
  const signed = newSignedPair(takenIds(item));
  return {
    item: {
      ...item,
      spk: [...(item.spk ?? []), signed.spk].slice(-GENERATIONS_KEPT),
      pq: [...(item.pq ?? []), signed.pq].slice(-GENERATIONS_KEPT),
      rotated: now,
    },
    upload: signedUpload(identity, signed.spk, signed.pq),
  };
}

export function currentUpload(identity, item) {
  return signedUpload(identity, item.spk[item.spk.length - 1], item.pq[item.pq.length - 1]);
}

export function hasSeenEphemeral(item, ephemeralKey) {
  return seenOf(item).some((seen) => bytesEqual(seen.ek, ephemeralKey));
}

function held(map, id, what) {
  const key = map.get(id);
  if (key === undefined) {
    throw new WrongRecipientError(
      `This account holds no ${what} with id ${id}; the message was not made for it.`,
    );
  }
  return key;
}

export function findPrekeys(item, { spkId, opkId, pqId }) {
  const store = readPrekeys(item);
  let oneTimePrivate = null;
  try {
    const spkPrivate = held(store.spk, spkId, "signed prekey");
    const pqSeed = held(store.pq, pqId, "pq prekey");
    oneTimePrivate = opkId === 0 ? null : held(store.opk, opkId, "one-time prekey");
    const pq = mlkemFromSeed(pqSeed);
    sodium.memzero(pq.seed);
    return {
      signedPrekey: x25519FromPrivate(spkPrivate),
      oneTimePrivate,
      pqPrivate: pq.privateKey,
    };
  } finally {
    // Every decoded private key but the one handed back is wiped at once.
    for (const map of [store.spk, store.pq, store.opk]) {
      for (const key of map.values()) {
        if (key !== oneTimePrivate) {
          sodium.memzero(key);
        }
      }
    }
  }
}

export function acceptPrekeyMessage(item, { spkId, opkId, ephemeralKey }) {
  const heldSpk = new Set(item.spk.map((entry) => entry.id));
  return {
    ...item,
    opk: item.opk.filter((entry) => opkId === 0 || entry.id !== opkId),
    seen_ek: [
      ...item.seen_ek.filter((seen) => heldSpk.has(seen.spk)),
      { spk: spkId, ek: b64uEncode(ephemeralKey) },
    ],
  };
}
