// Sender keys for group messages (PROTOCOL.md sections 15.3 to 15.5); the
// twin of crypto/sender_key.py.
//
// In the manner of Signal's Sender Keys: per group, each member has a chain
// key, hash-ratcheted with the Double Ratchet's KDF_CK, and an Ed25519 signing
// key whose public half names the sender key. It is sent once to each other
// member in a SenderKeyDistributionMessage over their pairwise session; then
// one ciphertext serves the whole group. Every message is signed by its sender
// key, so no member holding the chain key can write in another's name.
//
// Only the moderator's signed roster decides who may send and receive: keys
// go only to its members and are accepted only from them, and a roster that
// shows a removal makes every sender key made before it stale.
//
// As in ratchet.js, no function changes the state it is given: it works on a
// copy and returns it, so a failure leaves the group exactly as it was.
//
// Exported API (after `await loadSodium()`; bytes are Uint8Array):
//   join(signedRoster, groupId, moderatorKey, memberSeed) -> state
//   acceptRoster(state, signedRoster) -> state
//   recipients(state) -> [memberKey]
//   needsRotation(state, now) -> boolean
//   createSenderKey(state, now, {signingSeed, chainKey} = {}) -> state
//   distributionMessage(state, name, nameSalt) -> Uint8Array
//   processDistribution(state, bytes) -> state
//   groupEncrypt(state, payload) -> {state, message}
//   groupDecrypt(state, message) -> {state, plaintext: {memberKey, senderKey, iteration, payload}}

import {
  CTX_GROUP_MESSAGE,
  CTX_GROUP_SENDER_KEY,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SEED_BYTES,
  GROUP_FORMAT_VERSION,
  GROUP_NAME_SALT_BYTES,
  HASH_BYTES,
  ID_BYTES,
  MEMBER_ADMITTED,
  MEMBER_MUTED,
  SENDER_KEY_MAX_ITERATION,
  SENDER_KEY_MAX_SKIP,
  SENDER_KEY_MAX_SKIPPED,
  SENDER_KEY_ROTATE_SECONDS,
  SENDER_KEYS_PER_MEMBER,
  SIGNATURE_BYTES,
} from "./constants.js";
import {
  bytesEqual,
  concatBytes,
  hexEncode,
  Reader,
  u8,
  u32,
  u64,
  utf8Decode,
} from "./encoding.js";
import {
  MalformedError,
  MissingSenderKeyError,
  NotAMemberError,
  ReplayedError,
  RosterOutdatedError,
  StaleSenderKeyError,
  TamperedError,
  TooFarSkippedError,
  UnsupportedVersionError,
} from "./errors.js";
import { encodeGroupHeader, verifyGroupMessage } from "./group_message.js";
import {
  checkDisplayName,
  lastRemoval,
  nameCommitment,
  requireBytes,
  rosterEntry,
  signWithSeed,
  stateOf,
  verifyFirstRoster,
  verifyNextRoster,
  verifySigned,
} from "./group_roster.js";
import { groupMessageKeys, kdfCk } from "./kdf.js";
import { identityDhPublic } from "./keys.js";
import { pad, unpad } from "./padding.js";
import { sodium } from "./sodium.js";

const isPresent = (roster, memberKey) =>
  [MEMBER_ADMITTED, MEMBER_MUTED].includes(stateOf(roster, memberKey));

// The Ed25519 public key of a 32-byte seed (a member key or a sender key).
export function signingPublicKey(seed) {
  requireBytes(seed, ED25519_SEED_BYTES, "signing seed");
  const pair = sodium.crypto_sign_seed_keypair(seed);
  sodium.memzero(pair.privateKey);
  return pair.publicKey;
}

function copyRecord(record) {
  return { ...record, skipped: new Map(record.skipped) };
}

function copyState(state) {
  return {
    ...state,
    received: new Map([...state.received].map(([id, record]) => [id, copyRecord(record)])),
    names: new Map(state.names),
  };
}

export function join(signedRoster, groupId, moderatorKey, memberSeed) {
  const memberKey = signingPublicKey(memberSeed);
  const roster = verifyFirstRoster(signedRoster, groupId, moderatorKey);
  if (!isPresent(roster, memberKey)) {
    throw new NotAMemberError("The roster does not admit this member key.");
  }
  return {
    memberSeed: memberSeed.slice(),
    memberKey,
    roster,
    removalFloor: lastRemoval(roster),
    own: null,
    received: new Map(),
    names: new Map(),
  };
}

export function acceptRoster(state, signedRoster) {
  const roster = verifyNextRoster(signedRoster, state.roster);
  const next = copyState(state);
  next.roster = roster;
  next.removalFloor = Math.max(state.removalFloor, lastRemoval(roster));
  // Keys that can never open an acceptable message again are deleted, which
  // keeps their chain keys out of any later compromise of this device.
  next.received = new Map(
    [...next.received].filter(
      ([, record]) =>
        isPresent(roster, record.memberKey) && record.rosterVersion >= next.removalFloor,
    ),
  );
  next.names = new Map(
    [...next.names].filter(([, entry]) => rosterEntry(roster, entry.memberKey) !== null),
  );
  return next;
}

export function recipients(state) {
  return state.roster.entries
    .filter(
      (entry) =>
        [MEMBER_ADMITTED, MEMBER_MUTED].includes(entry.state) &&
        !bytesEqual(entry.memberKey, state.memberKey),
    )
    .map((entry) => entry.memberKey);
}

export function needsRotation(state, now) {
  const own = state.own;
  return (
    own === null ||
    own.rosterVersion < state.removalFloor ||
    own.iteration > SENDER_KEY_MAX_ITERATION ||
    now - own.created >= SENDER_KEY_ROTATE_SECONDS
  );
}

export function createSenderKey(state, now, { signingSeed, chainKey } = {}) {
  if (!isPresent(state.roster, state.memberKey)) throw new NotAMemberError();
  const seed = signingSeed ?? sodium.randombytes_buf(ED25519_SEED_BYTES);
  const next = copyState(state);
  next.own = {
    signingSeed: requireBytes(seed, ED25519_SEED_BYTES, "signing seed").slice(),
    senderKey: signingPublicKey(seed),
    chainKey: requireBytes(chainKey ?? sodium.randombytes_buf(HASH_BYTES), HASH_BYTES, "chain key"),
    iteration: 0,
    rosterVersion: state.roster.version,
    created: now,
  };
  return next;
}

function encodeDistribution(message) {
  const name = checkDisplayName(message.name);
  return concatBytes(
    u8(GROUP_FORMAT_VERSION),
    requireBytes(message.groupId, ID_BYTES, "group id"),
    u64(message.rosterVersion),
    requireBytes(message.memberKey, ED25519_PUBLIC_KEY_BYTES, "member key"),
    requireBytes(message.senderKey, ED25519_PUBLIC_KEY_BYTES, "sender key"),
    u32(message.iteration),
    requireBytes(message.chainKey, HASH_BYTES, "chain key"),
    requireBytes(message.nameSalt, GROUP_NAME_SALT_BYTES, "name salt"),
    u8(name.length),
    name,
  );
}

export function distributionMessage(state, name, nameSalt) {
  const own = state.own;
  if (own === null) {
    throw new MalformedError("There is no sender key to distribute: create one first.");
  }
  const body = encodeDistribution({
    groupId: state.roster.groupId,
    rosterVersion: own.rosterVersion,
    memberKey: state.memberKey,
    senderKey: own.senderKey,
    iteration: own.iteration,
    chainKey: own.chainKey,
    nameSalt,
    name,
  });
  return concatBytes(body, signWithSeed(state.memberSeed, CTX_GROUP_SENDER_KEY, body));
}

export function parseDistribution(bytes) {
  const reader = new Reader(bytes, "sender key distribution");
  if (reader.u8() !== GROUP_FORMAT_VERSION) throw new UnsupportedVersionError();
  const message = {
    groupId: reader.take(ID_BYTES),
    rosterVersion: reader.u64(),
    memberKey: reader.take(ED25519_PUBLIC_KEY_BYTES),
    senderKey: reader.take(ED25519_PUBLIC_KEY_BYTES),
    iteration: reader.u32(),
    chainKey: reader.take(HASH_BYTES),
    nameSalt: reader.take(GROUP_NAME_SALT_BYTES),
  };
  const nameBytes = reader.take(reader.u8());
  reader.take(SIGNATURE_BYTES);
  reader.finish();
  message.name = utf8Decode(nameBytes);
  const body = bytes.slice(0, bytes.length - SIGNATURE_BYTES);
  if (!bytesEqual(encodeDistribution(message), body)) {
    throw new MalformedError("The sender key distribution is not in its canonical form.");
  }
  return message;
}

export function processDistribution(state, bytes) {
  const message = parseDistribution(bytes);
  if (!bytesEqual(message.groupId, state.roster.groupId)) {
    throw new MalformedError("The sender key belongs to another group.");
  }
  if (bytesEqual(message.memberKey, state.memberKey)) {
    throw new MalformedError("A member does not receive its own sender key.");
  }
  const entry = rosterEntry(state.roster, message.memberKey);
  if (entry === null || ![MEMBER_ADMITTED, MEMBER_MUTED].includes(entry.state)) {
    throw new NotAMemberError("The sender key comes from a key the roster does not admit.");
  }
  verifySigned(
    message.memberKey,
    CTX_GROUP_SENDER_KEY,
    bytes.slice(0, bytes.length - SIGNATURE_BYTES),
    bytes.slice(bytes.length - SIGNATURE_BYTES),
  );
  if (message.rosterVersion > state.roster.version) throw new RosterOutdatedError();
  if (message.rosterVersion < state.removalFloor) throw new StaleSenderKeyError();
  const commitment = nameCommitment(
    message.groupId,
    message.memberKey,
    message.name,
    message.nameSalt,
  );
  if (!bytesEqual(commitment, entry.nameCommitment)) {
    throw new MalformedError("The display name does not match the group's signed roster.");
  }
  identityDhPublic(message.senderKey);
  const id = hexEncode(message.senderKey);
  if (state.received.has(id)) throw new ReplayedError();
  const next = copyState(state);
  const ownKeys = [...next.received]
    .filter(([, record]) => bytesEqual(record.memberKey, message.memberKey))
    .map(([key]) => key);
  for (const key of ownKeys.slice(0, Math.max(0, ownKeys.length - SENDER_KEYS_PER_MEMBER + 1))) {
    next.received.delete(key);
  }
  next.received.set(id, {
    memberKey: message.memberKey,
    senderKey: message.senderKey,
    rosterVersion: message.rosterVersion,
    chainKey: message.chainKey,
    iteration: message.iteration,
    skipped: new Map(),
  });
  next.names.set(hexEncode(message.memberKey), {
    memberKey: message.memberKey,
    name: message.name,
  });
  return next;
}

function seal(messageKey, plaintext, associatedData) {
  const { key, nonce } = groupMessageKeys(messageKey);
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
      plaintext,
      associatedData,
      null,
      nonce,
      key,
    );
  } finally {
    sodium.memzero(key);
  }
}

function open(messageKey, ciphertext, associatedData) {
  const { key, nonce } = groupMessageKeys(messageKey);
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      ciphertext,
      associatedData,
      nonce,
      key,
    );
  } catch {
    throw new TamperedError();
  } finally {
    sodium.memzero(key);
  }
}

export function groupEncrypt(state, payload) {
  const own = state.own;
  if (own === null) {
    throw new MalformedError("There is no sender key yet: create and distribute one first.");
  }
  if (stateOf(state.roster, state.memberKey) !== MEMBER_ADMITTED) throw new NotAMemberError();
  if (own.rosterVersion < state.removalFloor || own.iteration > SENDER_KEY_MAX_ITERATION) {
    throw new StaleSenderKeyError("This sender key must be replaced before sending.");
  }
  const header = encodeGroupHeader({
    groupId: state.roster.groupId,
    rosterVersion: state.roster.version,
    senderKey: own.senderKey,
    iteration: own.iteration,
  });
  const [nextChain, messageKey] = kdfCk(own.chainKey);
  const ciphertext = seal(messageKey, pad(payload), header);
  const signature = signWithSeed(
    own.signingSeed,
    CTX_GROUP_MESSAGE,
    concatBytes(header, ciphertext),
  );
  const next = copyState(state);
  next.own = { ...own, chainKey: nextChain, iteration: own.iteration + 1 };
  return { state: next, message: concatBytes(header, ciphertext, signature) };
}

// The key of `iteration`, skipping (and storing) the keys before it; updates `record`.
function messageKeyOf(record, iteration) {
  if (iteration < record.iteration) {
    const stored = record.skipped.get(iteration);
    if (stored === undefined) throw new ReplayedError();
    record.skipped.delete(iteration);
    return stored;
  }
  if (iteration - record.iteration > SENDER_KEY_MAX_SKIP) throw new TooFarSkippedError();
  while (record.iteration < iteration) {
    const [nextChain, skipped] = kdfCk(record.chainKey);
    record.chainKey = nextChain;
    record.skipped.set(record.iteration, skipped);
    if (record.skipped.size > SENDER_KEY_MAX_SKIPPED) {
      record.skipped.delete(record.skipped.keys().next().value);
    }
    record.iteration += 1;
  }
  const [nextChain, messageKey] = kdfCk(record.chainKey);
  record.chainKey = nextChain;
  record.iteration += 1;
  return messageKey;
}

export function groupDecrypt(state, bytes) {
  const { header, ciphertext } = verifyGroupMessage(bytes);
  if (!bytesEqual(header.groupId, state.roster.groupId)) {
    throw new MalformedError("The message belongs to another group.");
  }
  if (header.rosterVersion > state.roster.version) throw new RosterOutdatedError();
  if (header.rosterVersion < state.removalFloor) throw new StaleSenderKeyError();
  const id = hexEncode(header.senderKey);
  const held = state.received.get(id);
  if (held === undefined) throw new MissingSenderKeyError();
  if (stateOf(state.roster, held.memberKey) !== MEMBER_ADMITTED) {
    throw new NotAMemberError("The roster does not let this member send now.");
  }
  if (header.rosterVersion < held.rosterVersion) {
    throw new MalformedError("The message names a roster older than its sender key.");
  }
  const next = copyState(state);
  const record = next.received.get(id);
  const messageKey = messageKeyOf(record, header.iteration);
  const payload = unpad(open(messageKey, ciphertext, encodeGroupHeader(header)));
  return {
    state: next,
    plaintext: {
      memberKey: held.memberKey,
      senderKey: header.senderKey,
      iteration: header.iteration,
      payload,
    },
  };
}
