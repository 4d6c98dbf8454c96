// Sending: an outbox held in memory, worked through in order, one envelope
// at a time (PROTOCOL.md section 10).
//
// For each envelope the advanced session state is committed to the vault on
// its own first, before the envelope leaves this device, so no message key
// can ever encrypt two different payloads, whatever another device or a
// refusal does. The `send` then carries the message item, stored together
// with the envelope or not at all. A send that gets no answer is repeated
// with the same cmid and the same envelope, which the server stores once.

import { MAX_BODY_CHARS } from "../lib/constants.js";
import { b64uEncode, bytesEqual } from "../lib/encoding.js";
import { MalformedError, ProtocolError } from "../lib/errors.js";
import { encodeReceipt, encodeText } from "../lib/payload.js";
import { encryptPayload, startSession } from "../lib/session.js";
import { ComposeError } from "./errors.js";
import { newId, nowSeconds } from "./ids.js";
import {
  advanceMessage,
  ensureContact,
  messageItem,
  newMessage,
  peerIdentity,
  storedSessions,
  writeSessions,
} from "./records.js";
import { isConflict, retryOnConflict, toWire } from "./vaultstore.js";
import { describe } from "./wording.js";

// Refusals that pass: the entry is tried again after this pause (or the
// server's retry_after), with its notice shown meanwhile. A conflict that
// outlasted its retries (retryOnConflict) is one of them.
const WAIT_MS = {
  rate_limited: 5000,
  inbox_full: 30000,
  read_only: 20000,
  unavailable: 20000,
  storage_full: 60000,
  internal: 15000,
  vault_conflict: 15000,
};
const WAITING = new Set(Object.keys(WAIT_MS));

export function checkBody(body) {
  if (body.trim() === "") throw new ComposeError("Write something first.");
  const length = [...body].length;
  if (length > MAX_BODY_CHARS) {
    throw new ComposeError(
      `This message is ${length} characters; the most is ${MAX_BODY_CHARS}. Please split it in two.`,
    );
  }
}

// `onPeerGone(peer)`: the peer's account no longer exists (deleted, or a
// therapist the practice removed); the conversation is closed for good.
export function createSender({
  identity,
  token,
  request,
  vault,
  conn,
  serial,
  emit,
  onUnauthorized,
  onPeerGone,
  onSignedOut,
}) {
  const outbox = [];
  const started = new Map();
  let pumping = false;
  let pausedUntil = 0;
  let pauseTimer = null;
  // Why queued messages wait when the connection is not live (wording.js),
  // shown on each of them; null while live.
  let waitingWhy = null;

  function queueText(peer, body, { label, expectedIdentity }) {
    checkBody(body);
    const entry = {
      key: newId(),
      kind: "text",
      peer,
      label,
      expectedIdentity,
      message: { id: newId(), sent: nowSeconds(), body },
      status: "sending",
      notice: null,
      payload: null,
      sealed: null,
      prepared: null,
    };
    outbox.push(entry);
    emit(peer);
    pump();
    return entry;
  }

  // Receipts for the same peer and state are merged until one is encrypted,
  // and an id already waiting in a receipt is not queued again.
  function queueReceipt(peer, state, wanted) {
    const waiting = new Set(
      outbox
        .filter(
          (entry) =>
            entry.kind === "receipt" && entry.peer === peer && entry.receipt.state === state,
        )
        .flatMap((entry) => entry.frozenIds ?? entry.receipt.ids),
    );
    const ids = wanted.filter((id) => !waiting.has(id));
    if (ids.length === 0) return;
    if (state === "read") {
      for (const entry of outbox) {
        if (entry.kind === "receipt" && entry.peer === peer && entry.payload === null) {
          entry.receipt.ids = entry.receipt.ids.filter((id) => !ids.includes(id));
        }
      }
    }
    const open = outbox.find(
      (entry) =>
        entry.kind === "receipt" &&
        entry.peer === peer &&
        entry.receipt.state === state &&
        entry.payload === null,
    );
    if (open) {
      for (const id of ids) if (!open.receipt.ids.includes(id)) open.receipt.ids.push(id);
    } else {
      outbox.push({
        key: newId(),
        kind: "receipt",
        peer,
        receipt: { state, ids: [...ids] },
        status: "sending",
        payload: null,
        sealed: null,
        prepared: null,
      });
    }
    pump();
  }

  function pendingFor(peer) {
    return outbox
      .filter((entry) => entry.kind === "text" && entry.peer === peer)
      .map((entry) => ({
        ...entry,
        notice: entry.notice ?? (entry.status === "sending" ? waitingWhy : null),
      }));
  }

  // The connection's state (connection.js) decides what a waiting message
  // says: nothing while live; while reconnecting, that it goes once the
  // connection is back; after a final refusal, why it cannot go for now.
  function connectionChanged(state) {
    let why;
    if (state === "online") why = null;
    else if (state === "connecting") why = waitingWhy;
    else if (state === "offline") why = describe({ code: "queued_offline" });
    else why = `${describe({ code: "queued_stopped" })} ${describe({ code: state })}`;
    if (why === waitingWhy) return;
    waitingWhy = why;
    for (const peer of new Set(outbox.filter((e) => e.kind === "text").map((e) => e.peer))) {
      emit(peer);
    }
  }

  function hasUnsent() {
    return outbox.some((entry) => entry.kind === "text");
  }

  function retry(key) {
    const entry = outbox.find((candidate) => candidate.key === key);
    if (!entry) return;
    entry.status = "sending";
    entry.notice = null;
    emit(entry.peer);
    pump();
  }

  function discard(key) {
    const index = outbox.findIndex((candidate) => candidate.key === key);
    if (index < 0 || outbox[index].status !== "failed") return null;
    const [entry] = outbox.splice(index, 1);
    emit(entry.peer);
    return entry;
  }

  function drop(entry) {
    const index = outbox.indexOf(entry);
    if (index >= 0) outbox.splice(index, 1);
  }

  async function pump() {
    if (pumping) return;
    pumping = true;
    try {
      for (;;) {
        if (!conn.ready || Date.now() < pausedUntil) return;
        const entry = outbox.find((candidate) => candidate.status === "sending");
        if (!entry) return;
        if (entry.kind === "receipt" && entry.receipt.ids.length === 0) {
          drop(entry);
          continue;
        }
        const outcome = await serial(() => attempt(entry));
        if (outcome === "wait") return;
      }
    } finally {
      pumping = false;
    }
  }

  function pause(ms) {
    pausedUntil = Date.now() + ms;
    clearTimeout(pauseTimer);
    pauseTimer = setTimeout(pump, ms);
  }

  async function attempt(entry) {
    try {
      await retryOnConflict(() => sendOnce(entry), vault.sync);
    } catch (error) {
      return refused(entry, error);
    }
    drop(entry);
    emit(entry.peer);
    return "done";
  }

  // Seals the entry once, then sends it with the vault items that ride on it.
  async function sendOnce(entry) {
    entry.sealed ??= await seal(entry);
    entry.prepared ??= { cmid: newId(), writes: writesFor(entry) };
    const { cmid, writes } = entry.prepared;
    try {
      await conn.request(
        { type: "send", cmid, to: entry.peer, env: entry.sealed, vault: toWire(writes) },
        cmid,
      );
    } catch (error) {
      // Only the items riding on the send conflicted: the envelope, already
      // sealed under a committed state, goes again with fresh writes.
      if (isConflict(error)) entry.prepared = null;
      throw error;
    }
    vault.apply(writes);
  }

  function refused(entry, error) {
    const code = error?.code;
    if (code === "offline" || code === "timeout") return "wait";
    if (code === "unauthorized") {
      onUnauthorized();
      return "wait";
    }
    if (code === "signed_out") {
      onSignedOut();
      return "wait";
    }
    if (WAITING.has(code)) {
      const seconds = Number.isFinite(error.retryAfter) ? error.retryAfter : null;
      pause(seconds === null ? WAIT_MS[code] : seconds * 1000);
      if (entry.kind === "text") {
        entry.notice = describe(error);
        emit(entry.peer);
      }
      return "wait";
    }
    entry.prepared = null;
    if (entry.kind === "receipt") {
      drop(entry);
      return "done";
    }
    entry.status = "failed";
    if (code === "not_found" || code === "recipient_gone") onPeerGone(entry.peer);
    entry.notice =
      error instanceof ProtocolError
        ? "This therapist's keys could not be verified, so nothing was sent."
        : code === "not_found"
          ? "This account no longer exists. Your message was not sent."
          : describe(error);
    emit(entry.peer);
    return "done";
  }

  // Encrypts the entry's payload and commits the advanced session state;
  // returns the envelope (b64u) that may now leave the device.
  async function seal(entry) {
    const stored = storedSessions(vault, entry.peer);
    let record;
    let identityKey;
    if (stored.record) {
      record = stored.record;
      identityKey = peerIdentity(stored.items[0]);
    } else {
      const begun = started.get(entry.peer) ?? (await begin(entry));
      record = [begun.state];
      identityKey = begun.identityKey;
    }
    entry.payload ??= payloadOf(entry);
    // New messages go under the record's first, active session (PROTOCOL.md 5.8).
    const sealed = encryptPayload(record[0], entry.payload);
    const advanced = [sealed.state, ...record.slice(1)];
    await vault.commit(writeSessions(vault, stored, entry.peer, identityKey, advanced));
    started.delete(entry.peer);
    return b64uEncode(sealed.envelope);
  }

  // The vault items stored with the envelope.
  function writesFor(entry) {
    if (entry.kind === "text") {
      const writes = [
        newMessage(vault, { peer: entry.peer, dir: "out", state: "sent", ...entry.message }),
      ];
      const contact = ensureContact(vault, entry.peer, entry.label);
      if (contact) writes.push(contact);
      return writes;
    }
    if (entry.receipt.state !== "read") return [];
    const writes = [];
    for (const id of entry.frozenIds) {
      const incoming = messageItem(vault, entry.peer, id, "in");
      const write = incoming && advanceMessage(vault, incoming, "read");
      if (write) writes.push(write);
    }
    return writes;
  }

  function payloadOf(entry) {
    if (entry.kind === "text") return encodeText(entry.message);
    entry.frozenIds = [...new Set(entry.receipt.ids)];
    return encodeReceipt({ state: entry.receipt.state, ids: entry.frozenIds });
  }

  // A first message: the peer's bundle, checked against the identity key of
  // their signed profile when there is one.
  async function begin(entry) {
    const bundle = await request("GET", `/api/bundle/${encodeURIComponent(entry.peer)}`, {
      token: token(),
    });
    const { state, peer } = startSession(identity, bundle);
    if (b64uEncode(peer.account) !== entry.peer) {
      throw new MalformedError("The keys offered belong to another account.");
    }
    if (entry.expectedIdentity && !bytesEqual(peer.identityKey, entry.expectedIdentity)) {
      throw new MalformedError("The keys offered are not those of the signed profile.");
    }
    const begun = { state, identityKey: peer.identityKey };
    started.set(entry.peer, begun);
    return begun;
  }

  function wipe() {
    clearTimeout(pauseTimer);
    outbox.length = 0;
    started.clear();
  }

  return {
    queueText,
    queueReceipt,
    pendingFor,
    hasUnsent,
    retry,
    discard,
    pump,
    connectionChanged,
    wipe,
  };
}
