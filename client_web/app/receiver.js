// Receiving: each envelope is opened with the stored session (or, for a
// first message, the account's prekeys), and acknowledged together with every
// vault write it causes, so a message is never processed twice nor lost
// (PROTOCOL.md sections 4 and 10). If the acknowledgement is refused because
// another device changed the vault, the vault is synced and the envelope
// opened again from the new state (vaultstore.js's retryOnConflict).

import { MAX_ENVELOPE } from "../lib/constants.js";
import { b64uDecode } from "../lib/encoding.js";
import { ProtocolError, ReplayedError, UnsupportedVersionError } from "../lib/errors.js";
import { decryptEnvelope } from "../lib/session.js";
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

// Refusals that pass: the acknowledgement is tried again after a pause, a
// few times; after that the envelope stays stored and comes again later.
const TRANSIENT = new Set(["rate_limited", "read_only", "unavailable", "internal"]);
const TRANSIENT_WAIT_MS = 5000;
const TRANSIENT_RETRIES = 3;

function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function createReceiver({
  identity,
  vault,
  conn,
  serial,
  sender,
  emit,
  isViewing,
  labelFor,
  onMessage,
  onUnreadable,
}) {
  function onEnvelope(frame) {
    if (typeof frame.id !== "string" || typeof frame.from !== "string") return;
    serial(() => handle(frame)).catch(() => {
      // A failure here leaves the envelope stored; it is delivered again.
    });
  }

  // A conflict that outlasts its retries reaches onEnvelope, which leaves
  // the envelope stored: it is delivered again. A sync made here brings in
  // what other devices wrote (often this very message, opened by one of
  // them), and the `vault_changed` push that announced it is then skipped as
  // already synced (workspace.js, catchUp): so every view redraws here, or
  // the message would stay unseen until the next change.
  async function handle(frame) {
    let synced = false;
    const sync = async () => {
      await vault.sync();
      synced = true;
    };
    // A stale copy of the vault (another device moved the session on) looks
    // like a bad message: look again with fresh state before giving up.
    const openFresh = async () => {
      try {
        return open(frame);
      } catch (error) {
        if (!(error instanceof ProtocolError) || error instanceof ReplayedError || synced) {
          throw error;
        }
        await sync();
        return open(frame);
      }
    };
    try {
      await retryOnConflict(async () => {
        let opened;
        try {
          opened = await openFresh();
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          await unreadable(frame, error);
          return;
        }
        const { writes, after } = changesFor(frame.from, opened);
        try {
          await acknowledge(frame.id, writes);
        } catch (error) {
          if (isConflict(error)) throw error;
          // not_found: another device acknowledged it first; its writes come by sync.
          // offline: the envelope is delivered again when the connection is back.
          if (error.code === "not_found") await sync();
          return;
        }
        vault.apply(writes);
        after();
      }, sync);
    } finally {
      if (synced) emit(null);
    }
  }

  async function unreadable(frame, error) {
    // A newer client's message stays stored until this one can read it.
    if (error instanceof UnsupportedVersionError) {
      onUnreadable(frame.from, error);
      return;
    }
    await acknowledge(frame.id, []).catch(() => {});
    if (!(error instanceof ReplayedError)) onUnreadable(frame.from, error);
  }

  async function acknowledge(id, writes) {
    for (let retry = 0; ; retry += 1) {
      try {
        return await conn.request({ type: "ack", id, vault: toWire(writes) }, id);
      } catch (error) {
        if (!TRANSIENT.has(error.code) || retry === TRANSIENT_RETRIES) throw error;
        await pause(
          Number.isFinite(error.retryAfter) ? error.retryAfter * 1000 : TRANSIENT_WAIT_MS,
        );
      }
    }
  }

  function open(frame) {
    const bytes = b64uDecode(frame.env, { maxLength: MAX_ENVELOPE });
    const stored = storedSessions(vault, frame.from);
    const prekeys = vault.find("prekeys");
    const result = decryptEnvelope(
      {
        identity,
        prekeys: prekeys?.data,
        record: stored.record,
        expectedPeerIdentity: peerIdentity(stored.items[0]),
      },
      bytes,
    );
    return { stored, prekeys, result };
  }

  function changesFor(peer, { stored, prekeys, result }) {
    const writes = writeSessions(vault, stored, peer, result.peerIdentity, result.record);
    if (prekeys && result.prekeys !== prekeys.data)
      writes.push(vault.write(prekeys.id, result.prekeys));
    const payload = result.payload;
    let after = () => emit(peer);
    if (payload.type === "text" && !messageItem(vault, peer, payload.id, "in")) {
      const viewing = isViewing(peer);
      const state = viewing ? "read" : "delivered";
      writes.push(
        newMessage(vault, {
          peer,
          id: payload.id,
          dir: "in",
          sent: payload.sent,
          body: payload.body,
          state,
        }),
      );
      const contact = ensureContact(vault, peer, labelFor(peer));
      if (contact) writes.push(contact);
      after = () => {
        emit(peer);
        onMessage(peer);
        sender.queueReceipt(peer, state, [payload.id]);
      };
    } else if (payload.type === "receipt") {
      for (const id of new Set(payload.ids)) {
        const mine = messageItem(vault, peer, id, "out");
        const write = mine && advanceMessage(vault, mine, payload.state);
        if (write) writes.push(write);
      }
    }
    return { writes, after };
  }

  return { onEnvelope };
}
