// The signed roster and the signed tombstone of a group (PROTOCOL.md
// sections 15.2 and 15.6); the twin of crypto/group_roster.py.
//
// The roster is the moderator's signed member list, the only source of who may
// read and write in a group. A member accepts a roster only when a moderator
// signed it and only when it is newer than the one held, so a server can
// neither add anyone nor roll the list back. The first roster is checked
// against the moderator key the member already trusts; each later one against
// the moderators of the roster held. Display names are not in the roster, only
// a salted commitment that members check against the name each member sends
// them pairwise (section 15.3).
//
// Exported API (after `await loadSodium()`; bytes are Uint8Array):
//   encodeRoster(roster) / decodeRoster(bytes)
//     roster = {groupId, version, flags, maxMembers, moderators: [key],
//               entries: [{memberKey, state, since, nameCommitment}]}
//   signRoster(moderatorSeed, roster) -> signed roster bytes
//   verifyFirstRoster(signed, groupId, moderatorKey) -> roster
//   verifyNextRoster(signed, held) -> roster; RosterRollbackError unless newer
//   rosterEntry(roster, memberKey), stateOf(roster, memberKey), lastRemoval(roster)
//   checkDisplayName(name) -> UTF-8 bytes; nameCommitment(groupId, memberKey, name, salt)
//   encodeTombstone / signTombstone(moderatorSeed, tombstone) / verifyTombstone(signed, roster)
//     tombstone = {groupId, senderKey, iteration}

import {
  CTX_GROUP_NAME,
  CTX_GROUP_ROSTER,
  CTX_GROUP_TOMBSTONE,
  ED25519_PUBLIC_KEY_BYTES,
  GROUP_FORMAT_VERSION,
  GROUP_NAME_MAX_BYTES,
  GROUP_NAME_MAX_CHARS,
  GROUP_NAME_SALT_BYTES,
  HASH_BYTES,
  ID_BYTES,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_MODERATORS,
  MAX_ROSTER_ENTRIES,
  MAX_ROSTER_VERSION,
  MEMBER_ADMITTED,
  MEMBER_LEFT,
  MEMBER_MUTED,
  MEMBER_REMOVED,
  ROSTER_FLAG_INVITE_ONLY,
  ROSTER_FLAG_PAUSED,
  SIGNATURE_BYTES,
} from "./constants.js";
import { bytesEqual, concatBytes, Reader, u8, u32, u64, utf8Encode } from "./encoding.js";
import { MalformedError, RosterRollbackError, UnsupportedVersionError } from "./errors.js";
import { hmacSha256 } from "./kdf.js";
import { identityDhPublic } from "./keys.js";
import { sodium } from "./sodium.js";

const KNOWN_FLAGS = ROSTER_FLAG_INVITE_ONLY | ROSTER_FLAG_PAUSED;
const STATES = [MEMBER_ADMITTED, MEMBER_MUTED, MEMBER_LEFT, MEMBER_REMOVED];
const GONE = [MEMBER_LEFT, MEMBER_REMOVED];
const TOMBSTONE_BYTES = 1 + ID_BYTES + ED25519_PUBLIC_KEY_BYTES + 4;

export function requireBytes(value, length, what) {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new MalformedError(`The ${what} must be ${length} bytes.`);
  }
  return value;
}

// Lexicographic order of byte strings, as Python orders `bytes`.
export function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

// Detached Ed25519 signature over `context || data` by the key pair of `seed`.
export function signWithSeed(seed, context, data) {
  requireBytes(seed, 32, "signing seed");
  const pair = sodium.crypto_sign_seed_keypair(seed);
  try {
    return sodium.crypto_sign_detached(concatBytes(context, data), pair.privateKey);
  } finally {
    sodium.memzero(pair.privateKey);
  }
}

// MalformedError unless `signature` is `publicKey`'s over `context || data`.
export function verifySigned(publicKey, context, data, signature) {
  identityDhPublic(publicKey);
  requireBytes(signature, SIGNATURE_BYTES, "signature");
  if (!sodium.crypto_sign_verify_detached(signature, concatBytes(context, data), publicKey)) {
    throw new MalformedError("The signature does not verify.");
  }
}

export function checkRosterVersion(value, what) {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_ROSTER_VERSION) {
    throw new MalformedError(`The ${what} must be an integer from 1 to 2^53 - 1.`);
  }
  return value;
}

export function rosterEntry(roster, memberKey) {
  return roster.entries.find((entry) => bytesEqual(entry.memberKey, memberKey)) ?? null;
}

export function stateOf(roster, memberKey) {
  return rosterEntry(roster, memberKey)?.state ?? null;
}

// The latest version at which anyone left or was removed (0 if nobody has).
export function lastRemoval(roster) {
  return roster.entries
    .filter((entry) => GONE.includes(entry.state))
    .reduce((latest, entry) => Math.max(latest, entry.since), 0);
}

function checkRoster(roster) {
  requireBytes(roster.groupId, ID_BYTES, "group id");
  checkRosterVersion(roster.version, "roster version");
  if (!Number.isInteger(roster.flags) || (roster.flags & ~KNOWN_FLAGS) !== 0) {
    throw new MalformedError("The roster has unknown flags.");
  }
  if (
    !Number.isInteger(roster.maxMembers) ||
    roster.maxMembers < 1 ||
    roster.maxMembers > MAX_GROUP_MEMBERS
  ) {
    throw new MalformedError(`A group admits 1 to ${MAX_GROUP_MEMBERS} members.`);
  }
  if (roster.moderators.length < 1 || roster.moderators.length > MAX_GROUP_MODERATORS) {
    throw new MalformedError(`A group has 1 to ${MAX_GROUP_MODERATORS} moderators.`);
  }
  for (const key of roster.moderators) identityDhPublic(key);
  if (roster.moderators.length === 2 && bytesEqual(roster.moderators[0], roster.moderators[1])) {
    throw new MalformedError("A moderator is listed twice.");
  }
  if (roster.entries.length > MAX_ROSTER_ENTRIES) {
    throw new MalformedError(`A roster lists at most ${MAX_ROSTER_ENTRIES} entries.`);
  }
  for (let i = 1; i < roster.entries.length; i += 1) {
    if (compareBytes(roster.entries[i - 1].memberKey, roster.entries[i].memberKey) >= 0) {
      throw new MalformedError("Roster entries must be sorted by member key, each key once.");
    }
  }
  let present = 0;
  for (const entry of roster.entries) {
    identityDhPublic(entry.memberKey);
    if (!STATES.includes(entry.state)) {
      throw new MalformedError("A roster entry has an unknown state.");
    }
    if (!Number.isSafeInteger(entry.since) || entry.since < 1 || entry.since > roster.version) {
      throw new MalformedError("A roster entry's version must be from 1 to the roster's.");
    }
    requireBytes(entry.nameCommitment, HASH_BYTES, "name commitment");
    if (entry.state === MEMBER_ADMITTED || entry.state === MEMBER_MUTED) present += 1;
  }
  if (present > roster.maxMembers) {
    throw new MalformedError("The roster admits more members than its own limit.");
  }
}

export function encodeRoster(roster) {
  checkRoster(roster);
  return concatBytes(
    u8(GROUP_FORMAT_VERSION),
    roster.groupId,
    u64(roster.version),
    u8(roster.flags),
    u8(roster.maxMembers),
    u8(roster.moderators.length),
    ...roster.moderators,
    u8(roster.entries.length),
    ...roster.entries.flatMap((entry) => [
      entry.memberKey,
      u8(entry.state),
      u64(entry.since),
      entry.nameCommitment,
    ]),
  );
}

export function decodeRoster(bytes) {
  const reader = new Reader(bytes, "roster");
  if (reader.u8() !== GROUP_FORMAT_VERSION) throw new UnsupportedVersionError();
  const groupId = reader.take(ID_BYTES);
  const version = reader.u64();
  const flags = reader.u8();
  const maxMembers = reader.u8();
  const moderators = [];
  for (let count = reader.u8(); count > 0; count -= 1) {
    moderators.push(reader.take(ED25519_PUBLIC_KEY_BYTES));
  }
  const entries = [];
  for (let count = reader.u8(); count > 0; count -= 1) {
    entries.push({
      memberKey: reader.take(ED25519_PUBLIC_KEY_BYTES),
      state: reader.u8(),
      since: reader.u64(),
      nameCommitment: reader.take(HASH_BYTES),
    });
  }
  reader.finish();
  const roster = { groupId, version, flags, maxMembers, moderators, entries };
  checkRoster(roster);
  return roster;
}

export function signRoster(moderatorSeed, roster) {
  const encoded = encodeRoster(roster);
  return concatBytes(encoded, signWithSeed(moderatorSeed, CTX_GROUP_ROSTER, encoded));
}

function signedByAModerator(signed, moderators, context, decode, what) {
  const body = signed.subarray(0, signed.length - SIGNATURE_BYTES).slice();
  const signature = signed.slice(signed.length - SIGNATURE_BYTES);
  const value = decode(body);
  for (const moderator of moderators) {
    try {
      verifySigned(moderator, context, body, signature);
      return value;
    } catch (error) {
      if (!(error instanceof MalformedError)) throw error;
    }
  }
  throw new MalformedError(`The ${what} is not signed by the group's moderator.`);
}

function splitRoster(signed) {
  if (!(signed instanceof Uint8Array) || signed.length <= SIGNATURE_BYTES) {
    throw new MalformedError("A signed roster is the roster followed by a 64-byte signature.");
  }
}

export function verifyFirstRoster(signed, groupId, moderatorKey) {
  splitRoster(signed);
  requireBytes(moderatorKey, ED25519_PUBLIC_KEY_BYTES, "moderator key");
  const roster = signedByAModerator(
    signed,
    [moderatorKey],
    CTX_GROUP_ROSTER,
    decodeRoster,
    "roster",
  );
  if (!bytesEqual(roster.groupId, groupId)) {
    throw new MalformedError("The roster belongs to another group.");
  }
  if (!roster.moderators.some((key) => bytesEqual(key, moderatorKey))) {
    throw new MalformedError("The roster does not name the moderator who signed it.");
  }
  return roster;
}

export function verifyNextRoster(signed, held) {
  splitRoster(signed);
  const roster = signedByAModerator(
    signed,
    held.moderators,
    CTX_GROUP_ROSTER,
    decodeRoster,
    "roster",
  );
  if (!bytesEqual(roster.groupId, held.groupId)) {
    throw new MalformedError("The roster belongs to another group.");
  }
  if (roster.version <= held.version) throw new RosterRollbackError();
  return roster;
}

export function checkDisplayName(name) {
  const characters = typeof name === "string" ? [...name] : [];
  if (characters.length < 1 || characters.length > GROUP_NAME_MAX_CHARS) {
    throw new MalformedError(`A display name is 1 to ${GROUP_NAME_MAX_CHARS} characters.`);
  }
  const control = (c) => {
    const code = c.codePointAt(0);
    return code < 0x20 || (code >= 0x7f && code < 0xa0);
  };
  if (name.startsWith(" ") || name.endsWith(" ") || characters.some(control)) {
    throw new MalformedError("A display name has no control characters and no outer spaces.");
  }
  if (!name.isWellFormed()) {
    throw new MalformedError("A display name must be valid Unicode text.");
  }
  const encoded = utf8Encode(name);
  if (encoded.length > GROUP_NAME_MAX_BYTES) {
    throw new MalformedError(`A display name is at most ${GROUP_NAME_MAX_BYTES} UTF-8 bytes.`);
  }
  return encoded;
}

export function nameCommitment(groupId, memberKey, name, salt) {
  requireBytes(salt, GROUP_NAME_SALT_BYTES, "name salt");
  requireBytes(groupId, ID_BYTES, "group id");
  requireBytes(memberKey, ED25519_PUBLIC_KEY_BYTES, "member key");
  return hmacSha256(salt, concatBytes(CTX_GROUP_NAME, groupId, memberKey, checkDisplayName(name)));
}

export function encodeTombstone({ groupId, senderKey, iteration }) {
  return concatBytes(
    u8(GROUP_FORMAT_VERSION),
    requireBytes(groupId, ID_BYTES, "group id"),
    requireBytes(senderKey, ED25519_PUBLIC_KEY_BYTES, "sender key"),
    u32(iteration),
  );
}

export function signTombstone(moderatorSeed, tombstone) {
  const encoded = encodeTombstone(tombstone);
  return concatBytes(encoded, signWithSeed(moderatorSeed, CTX_GROUP_TOMBSTONE, encoded));
}

function decodeTombstone(bytes) {
  const reader = new Reader(bytes, "tombstone");
  if (reader.u8() !== GROUP_FORMAT_VERSION) throw new UnsupportedVersionError();
  const tombstone = {
    groupId: reader.take(ID_BYTES),
    senderKey: reader.take(ED25519_PUBLIC_KEY_BYTES),
    iteration: reader.u32(),
  };
  reader.finish();
  return tombstone;
}

export function verifyTombstone(signed, roster) {
  const size = TOMBSTONE_BYTES + SIGNATURE_BYTES;
  if (!(signed instanceof Uint8Array) || signed.length !== size) {
    throw new MalformedError(`A signed tombstone is ${size} bytes.`);
  }
  const tombstone = decodeTombstone(signed.slice(0, TOMBSTONE_BYTES));
  if (!bytesEqual(tombstone.groupId, roster.groupId)) {
    throw new MalformedError("The tombstone belongs to another group.");
  }
  return signedByAModerator(
    signed,
    roster.moderators,
    CTX_GROUP_TOMBSTONE,
    () => tombstone,
    "tombstone",
  );
}
