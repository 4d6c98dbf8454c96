// Everything a signed-in page holds, in memory only: the bearer token, the
// vault key, the identity, the decrypted vault, the websocket, the outbox.
// `close()` erases the keys and drops the rest; it runs on lock, sign-out,
// quick exit and account deletion.

import { ED25519_SEED_BYTES, SERVER_ID_BYTES } from "../lib/constants.js";
import { b64uDecode } from "../lib/encoding.js";
import { identityFromSeed, wipeIdentity } from "../lib/keys.js";
import { sodium } from "../lib/sodium.js";
import { request } from "./api.js";
import { createConnection } from "./connection.js";
import { loadDirectory } from "./directory.js";
import { createDrafts } from "./drafts.js";
import { AccountError } from "./errors.js";
import { createGroups } from "./groups.js";
import { closeConversation } from "./mutations.js";
import { createReceiver } from "./receiver.js";
import { clientLabel, contactItem } from "./records.js";
import { createSender } from "./sender.js";
import { checkPrekeys, topUpIfLow } from "./upkeep.js";

// A promise chain: work that reads and advances sessions or prekeys runs one
// piece at a time, so two pieces never start from the same state.
export function createSerial() {
  let chain = Promise.resolve();
  return (task) => {
    const run = chain.then(() => task());
    chain = run.catch(() => {});
    return run;
  };
}

export function openWorkspace({ info, account, token, vaultKey, vault, hooks }) {
  const identityItem = vault.find("identity");
  if (!identityItem) {
    throw new AccountError("incomplete_account", "The vault holds no identity item.");
  }
  const seed = b64uDecode(identityItem.data.seed, { length: ED25519_SEED_BYTES });
  const identity = identityFromSeed(seed);
  sodium.memzero(seed);
  const role = identityItem.data.role === "therapist" ? "therapist" : "client";
  const events = new EventTarget();
  const serial = createSerial();
  let bearer = token;
  let viewing = null;
  let closed = false;

  const emit = (peer) => events.dispatchEvent(new CustomEvent("change", { detail: { peer } }));
  const tokenOf = () => bearer;
  const upkeep = { vault, token: tokenOf, request };

  const workspace = {
    info,
    account,
    role,
    identity,
    vault,
    events,
    token: tokenOf,
    directory: [],
    // Unsent text per conversation (app/drafts.js), set below.
    drafts: null,
    // Notes typed but not yet stored in the vault, per conversation.
    unsavedNotes: new Map(),
    // Functions that store what is being typed; locking runs them first.
    savers: new Set(),
    get viewing() {
      return viewing;
    },
    setViewing(peer) {
      viewing = peer;
    },
    emit,
    close,
  };

  const conn = createConnection({
    serverId: b64uDecode(info.server_id, { length: SERVER_ID_BYTES }),
    account,
    token: tokenOf,
    identity,
    // Envelopes within a group name the group and member keys, never an account.
    onEnvelope: (frame) =>
      typeof frame.group === "string" ? groups.onFrame(frame) : receiver.onEnvelope(frame),
    onGroup: (frame) => groups.onFrame(frame),
    onVaultChanged: (cursor) => catchUp(cursor),
    onProfileChanged: () => reloadDirectory(),
    onPrekeysLow: () => serial(() => topUpIfLow(upkeep, identity)).catch(() => {}),
    onState: (state) => {
      events.dispatchEvent(new CustomEvent("connection", { detail: state }));
      if (state.state === "online") {
        // Whatever other devices wrote while this one was away.
        catchUp(null);
        sender.pump();
      }
      sender.connectionChanged(state.state);
      if (state.state === "unauthorized") hooks.onUnauthorized();
      if (state.state === "signed_out") hooks.onSignedOut();
    },
  });
  const sender = createSender({
    identity,
    token: tokenOf,
    request,
    vault,
    conn,
    serial,
    emit,
    onUnauthorized: hooks.onUnauthorized,
    onPeerGone: (peer) => closeConversation(workspace, peer).catch(() => {}),
    onSignedOut: hooks.onSignedOut,
  });
  const receiver = createReceiver({
    identity,
    vault,
    conn,
    serial,
    sender,
    emit,
    isViewing: (peer) => viewing === peer && document.visibilityState === "visible",
    labelFor: (peer) =>
      contactItem(vault, peer)?.data.label ??
      (role === "therapist" ? clientLabel(peer) : "Therapist"),
    onMessage: (peer) => hooks.onMessage(peer),
    onUnreadable: (peer, error) => hooks.onUnreadable(peer, error),
  });
  const groups = createGroups({
    identity,
    token: tokenOf,
    request,
    vault,
    conn,
    serial,
    emit: (group) => events.dispatchEvent(new CustomEvent("group", { detail: { group } })),
    onUpdate: (update) => hooks.onGroupUpdate?.(update),
  });
  workspace.groups = groups;
  workspace.conn = conn;
  workspace.drafts = createDrafts(workspace);
  workspace.savers.add(() => workspace.drafts.flush());
  workspace.sender = sender;

  // An incremental sync after another device wrote, then every view redraws
  // from the vault: new messages, receipts, notes and profile changes show
  // here without a reload. Queued behind receiving and sending, and skipped
  // when an earlier sync already reached `cursor` (null: sync regardless).
  function catchUp(cursor) {
    serial(async () => {
      if (closed || (cursor !== null && !vault.isBehind(cursor))) return;
      await vault.sync();
      if (!closed) emit(null);
    }).catch(() => {
      // The next push, or the next reconnection, syncs again.
    });
  }

  // The therapist's profile lives in the directory, not the vault: when it
  // is published from any device, the directory is fetched again and every
  // view redraws (the inbox's "What clients see", an untouched profile form).
  function reloadDirectory() {
    loadDirectory()
      .then((therapists) => {
        if (closed) return;
        workspace.directory = therapists;
        emit(null);
      })
      .catch(() => {
        // The next push, or the next sign-in, loads it again.
      });
  }

  function close() {
    if (closed) return;
    closed = true;
    conn.close();
    sender.wipe();
    vault.wipe();
    wipeIdentity(identity);
    sodium.memzero(vaultKey);
    bearer = null;
    workspace.directory = [];
    workspace.drafts.clear();
    workspace.unsavedNotes.clear();
    workspace.savers.clear();
  }

  conn.connect();
  serial(() => checkPrekeys(upkeep, identity)).catch(() => {
    // Retried at the next sign-in or when the server reports low prekeys;
    // a conflict that outlasts its retries ends here too.
  });
  return workspace;
}
