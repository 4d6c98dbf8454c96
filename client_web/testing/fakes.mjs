// Stand-ins for the server, for testing the app's logic in Node (kept out of
// test/, where `node --test` would run every file as a test): the HTTP
// API's vault, prekey and bundle routes and the websocket's `send` and `ack`
// frames, with the compare-and-swap rule of docs/API.md ("a write whose
// version is not exactly the current one plus one is refused with
// `vault_conflict`"). Every device of one account shares one FakeServer.
// Failures are scripted per frame type, to reach the paths a real server
// only takes under races.

import { ApiError } from "../app/api.js";
import { createReceiver } from "../app/receiver.js";
import { createSender } from "../app/sender.js";
import { createVault } from "../app/vaultstore.js";
import { createSerial } from "../app/workspace.js";
import { b64uEncode } from "../lib/encoding.js";
import { generateIdentitySeed, identityFromSeed } from "../lib/keys.js";
import { createPrekeys } from "../lib/prekeys.js";
import { loadSodium } from "../lib/sodium.js";

export const sodium = await loadSodium();

export function conflict() {
  return new ApiError("vault_conflict", "Another device changed these items first.");
}

export class FakeServer {
  constructor() {
    this.items = new Map();
    this.sequence = 0;
    this.sent = [];
    this.acked = new Set();
    this.uploads = [];
    this.bundles = new Map();
    this.oneTimeLeft = 0;
    // Errors to throw before handling, by frame type or route: {send: [e1]}.
    this.failures = {};
  }

  fail(kind, error, times = 1) {
    this.failures[kind] = [...(this.failures[kind] ?? []), ...Array(times).fill(error)];
  }

  failing(kind) {
    const error = this.failures[kind]?.shift();
    if (error) throw error;
  }

  // All writes or none, as the server's transaction does.
  commit(writes) {
    for (const write of writes) {
      const held = this.items.get(write.id)?.version ?? 0;
      if (write.version !== held + 1) throw conflict();
    }
    for (const write of writes) {
      this.sequence += 1;
      this.items.set(write.id, {
        version: write.version,
        blob: write.delete ? null : write.blob,
        sequence: this.sequence,
      });
    }
  }

  // The HTTP API, shaped like api.js's `request`.
  request = async (method, path, { body } = {}) => {
    if (method === "POST" && path === "/api/vault") {
      this.failing("commit");
      this.commit(body.writes);
      return {};
    }
    if (method === "GET" && path.startsWith("/api/vault")) {
      this.failing("sync");
      const since = Number(new URL(path, "http://server").searchParams.get("since") ?? 0);
      const items = [...this.items]
        .filter(([, item]) => item.sequence > since)
        .map(([id, { version, blob }]) => ({ id, version, blob }));
      return { items, cursor: String(this.sequence), more: false };
    }
    if (method === "PUT" && path === "/api/prekeys") {
      this.uploads.push(body);
      return {};
    }
    if (method === "GET" && path === "/api/prekeys") return { one_time: this.oneTimeLeft };
    if (method === "GET" && path.startsWith("/api/bundle/")) {
      const bundle = this.bundles.get(decodeURIComponent(path.slice("/api/bundle/".length)));
      if (!bundle) throw new ApiError("not_found", "No such account.");
      return bundle;
    }
    throw new ApiError("not_found", `${method} ${path} is not faked.`);
  };

  // The websocket, shaped like connection.js's `createConnection` result.
  connection() {
    return {
      ready: true,
      request: async (frame) => {
        this.failing(frame.type);
        if (frame.type === "send") {
          const stored = this.sent.find((sent) => sent.cmid === frame.cmid);
          if (!stored) {
            this.commit(frame.vault);
            this.sent.push(frame);
          }
          return { type: "sent", cmid: frame.cmid };
        }
        if (frame.type === "ack") {
          if (this.acked.has(frame.id)) throw new ApiError("not_found", "Already acknowledged.");
          this.commit(frame.vault);
          this.acked.add(frame.id);
          return { type: "acked", id: frame.id };
        }
        throw new ApiError("malformed", `${frame.type} is not faked.`);
      },
    };
  }
}

// One account's keys: its identity and a first set of prekeys, with the
// bundle a server would hand out for it.
export function newAccount() {
  const identity = identityFromSeed(generateIdentitySeed());
  const { item, upload } = createPrekeys(identity, Math.floor(Date.now() / 1000), {
    oneTime: 2,
  });
  const account = b64uEncode(sodium.randombytes_buf(16));
  const bundle = {
    account,
    identity_key: b64uEncode(identity.publicKey),
    signed_prekey: upload.signed_prekey,
    pq_prekey: upload.pq_prekey,
    one_time_prekey: upload.one_time_prekeys[0],
  };
  return { identity, account, prekeys: item, upload, bundle };
}

// Waits until `condition()` holds, letting the app's promise chains run;
// a bound on turns, not on time, so a slow machine does not fail it. Every
// TIMER_EVERY turns also lets a 10 ms timer run, so that the app's own
// pauses (a retry after vault_conflict waits up to 750 ms in all,
// app/vaultstore.js) end within the bound: 2000 turns wait at least 1 s.
// A test that mocks the clock passes `tick`, called at those turns to move
// its clock on, since the app's pauses then wait on the mocked clock; this
// wait itself keeps the real timer taken before any test could mock it.
const TURNS = 2000;
const TIMER_EVERY = 20;
const realSetTimeout = globalThis.setTimeout;
export async function until(condition, what, { tick = () => {} } = {}) {
  for (let turn = 0; turn < TURNS; turn += 1) {
    if (condition()) return;
    if (turn % TIMER_EVERY === TIMER_EVERY - 1) {
      tick();
      await new Promise((resolve) => realSetTimeout(resolve, 10));
    } else {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  throw new Error(`Never happened: ${what}`);
}

// One signed-in device as workspace.js builds it (vault, sender, receiver),
// on a FakeServer of its own account, with what it reported kept in lists.
// `secondOf` opens another device of the same account, on the same server.
export async function openDevice(account, { secondOf = null } = {}) {
  const server = secondOf?.server ?? new FakeServer();
  const vaultKey = secondOf?.vaultKey ?? sodium.randombytes_buf(32);
  const vault = createVault({ token: () => "token", vaultKey, request: server.request });
  if (secondOf) {
    await vault.sync();
  } else {
    await vault.commit([
      vault.write(null, { kind: "identity", account: account.account }),
      vault.write(null, account.prekeys),
    ]);
  }
  const conn = server.connection();
  const serial = createSerial();
  const seen = { changes: [], messages: [], unreadable: [] };
  const sender = createSender({
    identity: account.identity,
    token: () => "token",
    request: server.request,
    vault,
    conn,
    serial,
    emit: (peer) => seen.changes.push(peer),
    onUnauthorized: () => {},
  });
  const receiver = createReceiver({
    identity: account.identity,
    vault,
    conn,
    serial,
    sender,
    emit: (peer) => seen.changes.push(peer),
    isViewing: () => false,
    labelFor: () => "Therapist",
    onMessage: (peer) => seen.messages.push(peer),
    onUnreadable: (_peer, error) => seen.unreadable.push(error),
  });
  return { account, server, vaultKey, vault, conn, serial, sender, receiver, seen };
}

// The envelope of a stored `send`, as the server would deliver it.
export function deliveryOf(from, frame) {
  return { type: "envelope", id: frame.cmid, from: from.account.account, env: frame.env };
}
