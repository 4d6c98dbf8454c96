// The vault as a page holds it (app/vaultstore.js): writes are applied only
// once the server confirms them, two devices meet through compare-and-swap,
// and sync brings one device's writes to the other. retryOnConflict, the one
// retry rule of the client: sync and try again on `vault_conflict`, at most
// VAULT_CONFLICT_RETRIES times, then the conflict reaches the caller; every
// other error passes at once.
import assert from "node:assert/strict";
import test from "node:test";

import { ApiError } from "../app/api.js";
import { saveNote } from "../app/mutations.js";
import { noteItem } from "../app/records.js";
import { conflictPause, createVault, retryOnConflict } from "../app/vaultstore.js";
import { VAULT_CONFLICT_PAUSE_MS, VAULT_CONFLICT_RETRIES } from "../lib/constants.js";
import { conflict, FakeServer, sodium } from "../testing/fakes.mjs";

function twoDevices() {
  const server = new FakeServer();
  const vaultKey = sodium.randombytes_buf(32);
  const open = () => createVault({ token: () => "token", vaultKey, request: server.request });
  return { server, phone: open(), laptop: open(), vaultKey };
}

test("a commit is applied here only after the server stored it", async () => {
  const { server, phone } = twoDevices();
  const write = phone.write(null, { kind: "note", peer: "p", body: "first" });
  assert.equal(phone.find("note"), null, "a prepared write changes nothing yet");
  await phone.commit([write]);
  assert.equal(phone.find("note").data.body, "first");
  assert.equal(server.items.get(write.id).version, 1);
});

test("a stale write conflicts, changes nothing, and succeeds after a sync", async () => {
  const { phone, laptop } = twoDevices();
  await phone.commit([phone.write(null, { kind: "settings", idle_minutes: 5 })]);
  await laptop.sync();
  const item = phone.find("settings");
  await phone.commit([phone.write(item.id, { kind: "settings", idle_minutes: 10 })]);
  const stale = laptop.write(item.id, { kind: "settings", idle_minutes: 30 });
  await assert.rejects(laptop.commit([stale]), { code: "vault_conflict" });
  assert.equal(laptop.find("settings").data.idle_minutes, 5, "the refused write is not applied");
  await laptop.sync();
  assert.equal(laptop.find("settings").data.idle_minutes, 10);
  const fresh = laptop.find("settings");
  await laptop.commit([laptop.write(fresh.id, { kind: "settings", idle_minutes: 30 })]);
  await phone.sync();
  assert.equal(phone.find("settings").data.idle_minutes, 30);
});

test("an item that does not open under this vault key is left out", async () => {
  const { server, phone } = twoDevices();
  const stranger = createVault({
    token: () => "token",
    vaultKey: sodium.randombytes_buf(32),
    request: server.request,
  });
  await stranger.commit([stranger.write(null, { kind: "note", peer: "p", body: "x" })]);
  await phone.sync();
  assert.equal(phone.list("note").length, 0);
});

test("a deletion reaches the other device", async () => {
  const { phone, laptop } = twoDevices();
  const write = phone.write(null, { kind: "contact", peer: "p", label: "T" });
  await phone.commit([write]);
  await laptop.sync();
  assert.ok(laptop.find("contact"));
  await phone.commit([phone.remove(write.id)]);
  await laptop.sync();
  assert.equal(laptop.find("contact"), null);
});

test("a change from a screen is made again on top of another device's write", async () => {
  const { server, phone, laptop } = twoDevices();
  const phoneSpace = { vault: phone, emit: () => {} };
  await saveNote(phoneSpace, "peer", "first words");
  await laptop.sync();
  // The phone has not seen the laptop's edit: its first write conflicts.
  await saveNote({ vault: laptop, emit: () => {} }, "peer", "laptop's words");
  await saveNote(phoneSpace, "peer", "phone's words");
  assert.equal(noteItem(phone, "peer").data.body, "phone's words");
  assert.equal(noteItem(phone, "peer").version, 3);
  await laptop.sync();
  assert.equal(noteItem(laptop, "peer").data.body, "phone's words");
  assert.equal(server.items.size, 1);
});

test("a change from a screen gives up after the bound, with the conflict", async () => {
  const { server, phone } = twoDevices();
  server.fail("commit", conflict(), VAULT_CONFLICT_RETRIES + 1);
  await assert.rejects(saveNote({ vault: phone, emit: () => {} }, "peer", "words"), {
    code: "vault_conflict",
  });
  assert.equal(server.items.size, 0);
  assert.equal(server.failures.commit.length, 0, "every allowed attempt was made");
});

test("a conflict is followed by a sync and another attempt", async () => {
  const calls = [];
  let conflicts = 2;
  const result = await retryOnConflict(
    async () => {
      calls.push("attempt");
      if (conflicts-- > 0) throw conflict();
      return "stored";
    },
    async () => calls.push("sync"),
  );
  assert.equal(result, "stored");
  assert.deepEqual(calls, ["attempt", "sync", "attempt", "sync", "attempt"]);
});

test("after the last retry the conflict error itself reaches the caller", async () => {
  let attempts = 0;
  let syncs = 0;
  const error = conflict();
  await assert.rejects(
    retryOnConflict(
      async () => {
        attempts += 1;
        throw error;
      },
      async () => {
        syncs += 1;
      },
    ),
    (thrown) => thrown === error,
  );
  assert.equal(attempts, VAULT_CONFLICT_RETRIES + 1);
  assert.equal(syncs, VAULT_CONFLICT_RETRIES);
});

test("any other error passes at once, without a sync", async () => {
  let syncs = 0;
  await assert.rejects(
    retryOnConflict(
      async () => {
        throw new ApiError("forbidden", "No.");
      },
      async () => {
        syncs += 1;
      },
    ),
    { code: "forbidden" },
  );
  assert.equal(syncs, 0);
});

test("a failed sync ends the retries with its own error", async () => {
  await assert.rejects(
    retryOnConflict(
      async () => {
        throw conflict();
      },
      async () => {
        throw new ApiError("offline", "");
      },
    ),
    { code: "offline" },
  );
});

test("the pause before a retry is drawn below a doubling bound", () => {
  // Two devices that drew differently wait differently; the bound doubles.
  assert.equal(conflictPause(0, 0), 0);
  const bounds = Array.from({ length: VAULT_CONFLICT_RETRIES }, (_, retry) =>
    conflictPause(retry, 1),
  );
  assert.equal(bounds[0], VAULT_CONFLICT_PAUSE_MS);
  for (let retry = 1; retry < bounds.length; retry += 1) {
    assert.equal(bounds[retry], 2 * bounds[retry - 1]);
  }
  assert.equal(conflictPause(2, 0.25), bounds[2] / 4);
  // Every retry spent, the pauses stay under a second.
  assert.ok(bounds.reduce((sum, bound) => sum + bound, 0) < 1000);
});
