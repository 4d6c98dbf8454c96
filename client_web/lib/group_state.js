// Byte encoding of one member's group state (PROTOCOL.md section 15.8); the
// twin of crypto/group_state.py.
//
// The state lives in the vault like a ratchet session. The encoding is
// canonical: counts bounded by the protocol's limits, the orders that decide
// eviction kept (oldest first), nothing twice, and a decoded state re-encodes
// to the same bytes.
//
// Exported API: encodeGroupState(state) -> Uint8Array; decodeGroupState(bytes) -> state

import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SEED_BYTES,
  GROUP_STATE_VERSION,
  HASH_BYTES,
  MAX_ROSTER_ENTRIES,
  MAX_ROSTER_VERSION,
  SENDER_KEY_MAX_ITERATION,
  SENDER_KEY_MAX_SKIPPED,
  SENDER_KEYS_PER_MEMBER,
} from "./constants.js";
import { concatBytes, hexEncode, Reader, u8, u16, u32, u64, utf8Decode } from "./encoding.js";
import { MalformedError, UnsupportedVersionError } from "./errors.js";
import { checkDisplayName, decodeRoster, encodeRoster } from "./group_roster.js";
import { signingPublicKey } from "./sender_key.js";

const MAX_RECEIVED = MAX_ROSTER_ENTRIES * SENDER_KEYS_PER_MEMBER;
// An iteration counter reaches 2^32 once the last message of a chain is sent.
const MAX_COUNTER = SENDER_KEY_MAX_ITERATION + 1;

function checkCounter(value, what) {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_COUNTER) {
    throw new MalformedError(`The ${what} is out of range.`);
  }
  return value;
}

export function encodeGroupState(state) {
  if (state.received.size > MAX_RECEIVED || state.names.size > MAX_ROSTER_ENTRIES) {
    throw new MalformedError("The group state holds more keys than the protocol allows.");
  }
  const roster = encodeRoster(state.roster);
  const parts = [
    u8(GROUP_STATE_VERSION),
    state.memberSeed,
    u64(state.removalFloor),
    u16(roster.length),
    roster,
  ];
  const own = state.own;
  if (own === null) {
    parts.push(u8(0));
  } else {
    parts.push(
      u8(1),
      own.signingSeed,
      own.chainKey,
      u64(checkCounter(own.iteration, "iteration")),
      u64(own.rosterVersion),
      u64(own.created),
    );
  }
  parts.push(u16(state.received.size));
  for (const record of state.received.values()) {
    if (record.skipped.size > SENDER_KEY_MAX_SKIPPED) {
      throw new MalformedError("A sender key holds more skipped keys than the protocol allows.");
    }
    parts.push(
      record.memberKey,
      record.senderKey,
      u64(record.rosterVersion),
      record.chainKey,
      u64(checkCounter(record.iteration, "iteration")),
      u16(record.skipped.size),
    );
    for (const [iteration, key] of record.skipped) parts.push(u32(iteration), key);
  }
  parts.push(u8(state.names.size));
  for (const { memberKey, name } of state.names.values()) {
    const encoded = checkDisplayName(name);
    parts.push(memberKey, u8(encoded.length), encoded);
  }
  return concatBytes(...parts);
}

export function decodeGroupState(bytes) {
  const reader = new Reader(bytes, "group state");
  if (reader.u8() !== GROUP_STATE_VERSION) throw new UnsupportedVersionError();
  const memberSeed = reader.take(ED25519_SEED_BYTES);
  const removalFloor = reader.u64();
  const roster = decodeRoster(reader.take(reader.u16()));
  if (removalFloor > roster.version) {
    throw new MalformedError("The removal floor is above the roster's version.");
  }
  const flag = reader.u8();
  if (flag !== 0 && flag !== 1) throw new MalformedError("The own sender key flag is 0 or 1.");
  let own = null;
  if (flag === 1) {
    const signingSeed = reader.take(ED25519_SEED_BYTES);
    own = {
      signingSeed,
      senderKey: signingPublicKey(signingSeed),
      chainKey: reader.take(HASH_BYTES),
      iteration: checkCounter(reader.u64(), "iteration"),
      rosterVersion: reader.u64(),
      created: reader.u64(),
    };
    if (
      own.rosterVersion < 1 ||
      own.rosterVersion > roster.version ||
      own.created > MAX_ROSTER_VERSION
    ) {
      throw new MalformedError("The own sender key's version or time is out of range.");
    }
  }
  const count = reader.u16();
  if (count > MAX_RECEIVED) {
    throw new MalformedError("The group state holds more sender keys than the protocol allows.");
  }
  const received = new Map();
  for (let i = 0; i < count; i += 1) {
    const record = {
      memberKey: reader.take(ED25519_PUBLIC_KEY_BYTES),
      senderKey: reader.take(ED25519_PUBLIC_KEY_BYTES),
      rosterVersion: reader.u64(),
      chainKey: reader.take(HASH_BYTES),
      iteration: checkCounter(reader.u64(), "iteration"),
      skipped: new Map(),
    };
    if (record.rosterVersion < Math.max(1, removalFloor) || record.rosterVersion > roster.version) {
      throw new MalformedError("A sender key's roster version is out of range.");
    }
    const skippedCount = reader.u16();
    if (skippedCount > SENDER_KEY_MAX_SKIPPED) {
      throw new MalformedError("A sender key holds more skipped keys than the protocol allows.");
    }
    for (let j = 0; j < skippedCount; j += 1) {
      const iteration = reader.u32();
      if (iteration >= record.iteration || record.skipped.has(iteration)) {
        throw new MalformedError("A skipped key's iteration is repeated or not skipped.");
      }
      record.skipped.set(iteration, reader.take(HASH_BYTES));
    }
    const id = hexEncode(record.senderKey);
    if (received.has(id)) throw new MalformedError("A sender key is stored twice.");
    received.set(id, record);
  }
  const names = new Map();
  for (let count = reader.u8(); count > 0; count -= 1) {
    const memberKey = reader.take(ED25519_PUBLIC_KEY_BYTES);
    const raw = reader.take(reader.u8());
    const name = utf8Decode(raw);
    const id = hexEncode(memberKey);
    if (hexEncode(checkDisplayName(name)) !== hexEncode(raw) || names.has(id)) {
      throw new MalformedError("A display name is invalid or stored twice.");
    }
    names.set(id, { memberKey, name });
  }
  reader.finish();
  return {
    memberSeed,
    memberKey: signingPublicKey(memberSeed),
    roster,
    removalFloor,
    own,
    received,
    names,
  };
}
