// The account's vault as this page holds it: every item decrypted in memory
// (never on disk), kept in step with the server by incremental sync, and
// changed only by compare-and-swap writes (PROTOCOL.md section 10).
//
// A change is prepared as a write record `{id, version, blob, data}`; the
// record goes to the server either alone (`commit`) or inside a websocket
// `send`/`ack` frame, and only once the server confirms it is it applied here
// (`apply`). A refused write leaves this copy as it was; the caller syncs and
// prepares again. `request` is api.js's, or a fake server in tests.
//
// `retryOnConflict` is that rule, written once: every compare-and-swap path
// of the client (a screen's change, prekey upkeep, a `send`, an `ack`) runs
// through it. A write refused with `vault_conflict` (another device wrote
// first) is built and sent again after a sync, at most VAULT_CONFLICT_RETRIES
// times after the first attempt, the same bound as the Python client's; each
// retry follows a sync, so running out means devices keep racing. The
// conflict error then reaches the caller, who shows it (wording.js) or, for a
// delivery, leaves the envelope stored to be delivered again.

import { VAULT_CONFLICT_PAUSE_MS, VAULT_CONFLICT_RETRIES } from "../lib/constants.js";
import { b64uDecode, b64uEncode } from "../lib/encoding.js";
import { decryptItem, encryptItem } from "../lib/vault.js";
import { idBytes, newId } from "./ids.js";

const MAX_SYNC_PAGES = 1000;

export function createVault({ token, vaultKey, request }) {
  const items = new Map();
  let cursor = null;

  async function sync() {
    for (let page = 0; page < MAX_SYNC_PAGES; page += 1) {
      const query = cursor === null ? "" : `?since=${encodeURIComponent(cursor)}`;
      const answer = await request("GET", `/api/vault${query}`, { token: token() });
      for (const item of Array.isArray(answer.items) ? answer.items : []) receive(item);
      if (answer.cursor !== undefined && answer.cursor !== null) cursor = String(answer.cursor);
      if (answer.more !== true) return;
    }
  }

  function receive({ id, version, blob }) {
    if (typeof id !== "string" || !Number.isSafeInteger(version)) return;
    if (blob === null || blob === undefined) {
      items.delete(id);
      return;
    }
    const known = items.get(id);
    if (known && known.version >= version) return;
    try {
      const data = decryptItem(vaultKey, idBytes(id), version, b64uDecode(blob));
      items.set(id, { id, version, data });
    } catch {
      // An item that does not open under this key, id and version was not
      // written by this account as it is; it is left out, never trusted.
    }
  }

  // Whether the server's vault, at cursor `remote` (a decimal string from a
  // `vault_changed` push), holds changes this copy has not synced yet.
  function isBehind(remote) {
    if (!/^[0-9]{1,19}$/.test(remote)) return false;
    return cursor === null || BigInt(remote) > BigInt(cursor);
  }

  function list(kind) {
    const found = [];
    for (const item of items.values()) if (item.data?.kind === kind) found.push(item);
    return found;
  }

  function find(kind, predicate = () => true) {
    for (const item of items.values()) {
      if (item.data?.kind === kind && predicate(item.data)) return item;
    }
    return null;
  }

  // Prepares a write: a new item when `id` is null, otherwise the next version.
  function write(id, data) {
    const itemId = id ?? newId();
    const version = (items.get(itemId)?.version ?? 0) + 1;
    const blob = encryptItem(vaultKey, idBytes(itemId), version, data);
    return { id: itemId, version, blob: b64uEncode(blob), data };
  }

  function remove(id) {
    const version = (items.get(id)?.version ?? 0) + 1;
    return { id, version, delete: true, data: null };
  }

  // A record older than what is held (a confirmation that arrives after a
  // sync already brought something newer) changes nothing.
  function apply(records) {
    for (const record of records) {
      const held = items.get(record.id);
      if (held && held.version >= record.version) continue;
      if (record.delete) items.delete(record.id);
      else items.set(record.id, { id: record.id, version: record.version, data: record.data });
    }
  }

  async function commit(records) {
    if (records.length === 0) return;
    const answer = await request("POST", "/api/vault", {
      token: token(),
      body: { writes: toWire(records) },
    });
    apply(records);
    return answer;
  }

  function wipe() {
    items.clear();
    cursor = null;
  }

  return {
    sync,
    isBehind,
    list,
    find,
    write,
    remove,
    apply,
    commit,
    wipe,
  };
}

export function toWire(records) {
  return records.map((record) =>
    record.delete
      ? { id: record.id, version: record.version, delete: true }
      : { id: record.id, version: record.version, blob: record.blob },
  );
}

export function isConflict(error) {
  return error?.code === "vault_conflict";
}

// Runs `attempt` until it returns without a conflict, calling `sync` before
// each retry; `attempt` must build its writes afresh from the vault each time.
// Milliseconds to wait before retry `retry` (from 0), for a `draw` in [0, 1):
// full jitter below a bound that doubles with each retry, so two devices
// racing for the same items fall out of step and one of them commits. The
// draw is not a secret, so Math.random serves.
export function conflictPause(retry, draw) {
  return draw * VAULT_CONFLICT_PAUSE_MS * 2 ** retry;
}

export async function retryOnConflict(attempt, sync) {
  for (let retry = 0; ; retry += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (!isConflict(error) || retry === VAULT_CONFLICT_RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, conflictPause(retry, Math.random())));
      await sync();
    }
  }
}
