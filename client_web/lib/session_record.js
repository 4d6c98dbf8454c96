// Every session held with one peer, and their byte encoding (PROTOCOL.md 5.8);
// the twin of crypto/session_record.py.
//
// When both sides of a conversation set up a session at the same moment, each
// receives the other's prekey message after sending its own. Replacing the
// session then loses whatever the other side keeps sending under the replaced
// one. So, as Signal does, a peer has an ordered list of sessions: the first
// is the active one, which every new message is encrypted under; the others
// are earlier sessions, most recently active first, kept so that messages
// still in flight under them open. The session that opens a message becomes
// the active one, so both sides settle on the same session as soon as either
// answers.
//
// A record is a non-empty array of ratchet states (ratchet.js). Its encoding
// is canonical like the states inside it, and decoding checks the rules every
// record keeps: at most 1 + MAX_ARCHIVED_SESSIONS states, no two with the same
// EK (the key that names a session in a prekey message), and all between the
// same two identity keys.
//
// Exported API (synchronous, after `await loadSodium()`):
//   checkRecord(record)                  throws MalformedError if a rule is broken
//   promote(record, index, state) -> record   record[index] opened a message
//   addSession(record | null, state) -> record a new session, now active
//   mergeRecords([record, ...]) -> record  several records for one peer as one
//   encodeRecord(record) -> Uint8Array, decodeRecord(bytes) -> record

import {
  ED25519_PUBLIC_KEY_BYTES,
  MAX_ARCHIVED_SESSIONS,
  SESSION_RECORD_VERSION,
} from "./constants.js";
import { bytesEqual, concatBytes, hexEncode, Reader, u8, u32 } from "./encoding.js";
import { MalformedError, UnsupportedVersionError } from "./errors.js";
import { decodeState, encodeState } from "./ratchet.js";

export const MAX_SESSIONS_PER_PEER = 1 + MAX_ARCHIVED_SESSIONS;

function identityPair(state) {
  return [
    hexEncode(state.ad.slice(0, ED25519_PUBLIC_KEY_BYTES)),
    hexEncode(state.ad.slice(ED25519_PUBLIC_KEY_BYTES)),
  ]
    .sort()
    .join(",");
}

export function checkRecord(record) {
  if (record.length < 1 || record.length > MAX_SESSIONS_PER_PEER) {
    throw new MalformedError(
      `A session record holds 1 to ${MAX_SESSIONS_PER_PEER} sessions, not ${record.length}.`,
    );
  }
  if (new Set(record.map((state) => hexEncode(state.ek))).size !== record.length) {
    throw new MalformedError("A session record holds two sessions with the same EK.");
  }
  const pair = identityPair(record[0]);
  if (record.some((state) => identityPair(state) !== pair)) {
    throw new MalformedError("The sessions of one record are between other identity keys.");
  }
}

export function promote(record, index, state) {
  return [state, ...record.slice(0, index), ...record.slice(index + 1)];
}

export function addSession(record, state) {
  return [state, ...(record ?? [])].slice(0, MAX_SESSIONS_PER_PEER);
}

// Several records for one peer read as one (5.8, "Two records for one peer"):
// the sessions in the order given, a session whose EK an earlier one has
// dropped, then only the first MAX_SESSIONS_PER_PEER kept.
export function mergeRecords(records) {
  const merged = [];
  for (const record of records) {
    for (const state of record) {
      if (!merged.some((held) => bytesEqual(held.ek, state.ek))) merged.push(state);
    }
  }
  const result = merged.slice(0, MAX_SESSIONS_PER_PEER);
  checkRecord(result);
  return result;
}

export function encodeRecord(record) {
  checkRecord(record);
  const parts = [u8(SESSION_RECORD_VERSION), u8(record.length)];
  for (const state of record) {
    const encoded = encodeState(state);
    parts.push(u32(encoded.length), encoded);
  }
  return concatBytes(...parts);
}

export function decodeRecord(bytes) {
  const reader = new Reader(bytes, "session record");
  const version = reader.u8();
  if (version !== SESSION_RECORD_VERSION) {
    throw new UnsupportedVersionError(`Session record version ${version} is not known here.`);
  }
  const count = reader.u8();
  if (count < 1 || count > MAX_SESSIONS_PER_PEER) {
    throw new MalformedError(`A session record holds 1 to ${MAX_SESSIONS_PER_PEER} sessions.`);
  }
  const record = [];
  for (let i = 0; i < count; i += 1) {
    record.push(decodeState(reader.take(reader.u32())));
  }
  reader.finish();
  checkRecord(record);
  return record;
}
