// The conversation items of the vault (PROTOCOL.md section 10) and how this
// client reads and changes them: sessions, messages, contacts and notes, all
// keyed by the peer's account id.

import { CROCKFORD_ALPHABET, ED25519_PUBLIC_KEY_BYTES } from "../lib/constants.js";
import { b64uDecode, b64uEncode } from "../lib/encoding.js";
import { exportRecord, importRecord, importSession } from "../lib/session.js";
import { mergeRecords } from "../lib/session_record.js";

// Message states only move forward.
export const STATE_RANK = { sending: 0, sent: 1, delivered: 2, read: 3 };

export function sessionItem(vault, peer) {
  return vault.find("session", (data) => data.peer === peer);
}

// The peer's session record (PROTOCOL.md 5.8), active session first; an item
// written before records held one session in `state` and reads as a record
// of one.
export function sessionRecord(item) {
  if (!item) return null;
  return item.data.sessions === undefined
    ? [importSession(item.data.state)]
    : importRecord(item.data.sessions);
}

export function peerIdentity(item) {
  return item
    ? b64uDecode(item.data.peer_identity, { length: ED25519_PUBLIC_KEY_BYTES })
    : undefined;
}

// A peer's session items read as one record (PROTOCOL.md 5.8 and 10). Two
// devices that set up a session with the same new peer at the same moment
// each create a `session` item, and both commits succeed, since they are
// different items. So every reader takes all of the peer's items, in the
// order of their ids, as one record: {items, record (null if none)}; and
// writeSessions keeps the first item and deletes the others, so the devices
// converge on one item without losing a session. The twin of the Python
// client's stored_sessions.
export function storedSessions(vault, peer) {
  const items = vault
    .list("session")
    .filter((item) => item.data.peer === peer)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (items.length === 0) return { items, record: null };
  return { items, record: mergeRecords(items.map(sessionRecord)) };
}

export function writeSessions(vault, stored, peer, identityKey, record) {
  const [first, ...others] = stored.items;
  return [
    writeSession(vault, first ?? null, peer, identityKey, record),
    ...others.map((item) => vault.remove(item.id)),
  ];
}

// The older item's single `state` is dropped: the first write upgrades it.
export function writeSession(vault, item, peer, identityKey, record) {
  const { state: _single, ...kept } = item?.data ?? {};
  return vault.write(item?.id ?? null, {
    ...kept,
    kind: "session",
    peer,
    peer_identity: b64uEncode(identityKey),
    sessions: exportRecord(record),
  });
}

export function messageItem(vault, peer, id, dir) {
  return vault.find("message", (data) => data.peer === peer && data.id === id && data.dir === dir);
}

export function newMessage(vault, { peer, id, dir, sent, body, state }) {
  return vault.write(null, { kind: "message", peer, id, dir, sent, body, state });
}

export function advanceMessage(vault, item, state) {
  if ((STATE_RANK[state] ?? -1) <= (STATE_RANK[item.data.state] ?? -1)) return null;
  return vault.write(item.id, { ...item.data, state });
}

export function contactItem(vault, peer) {
  return vault.find("contact", (data) => data.peer === peer);
}

// A contact item for a peer seen for the first time; null when one exists.
export function ensureContact(vault, peer, label) {
  if (contactItem(vault, peer)) return null;
  return vault.write(null, { kind: "contact", peer, label, verified: false });
}

export function noteItem(vault, peer) {
  return vault.find("note", (data) => data.peer === peer);
}

export function draftItem(vault, peer) {
  return vault.find("draft", (data) => data.peer === peer);
}

export function settingsItem(vault) {
  return vault.find("settings");
}

// A short, stable label for a client, from their random account id: it
// tells threads apart without saying anything about the person. Eight
// symbols of Crockford's base32 (40 bits), so that among 10,000 clients two
// share a label with a chance of about 1 in 20,000; 4 hex digits (16 bits)
// collided from a few hundred clients on.
export const CLIENT_LABEL_SYMBOLS = 8;

export function clientCode(peer) {
  const bytes = b64uDecode(peer);
  let bits = 0;
  let value = 0;
  let code = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && code.length < CLIENT_LABEL_SYMBOLS) {
      bits -= 5;
      code += CROCKFORD_ALPHABET[(value >> bits) & 31];
    }
    value &= (1 << bits) - 1;
    if (code.length === CLIENT_LABEL_SYMBOLS) break;
  }
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

export function clientLabel(peer) {
  return `Client ${clientCode(peer)}`;
}
