// Several devices of one account: a `vault_changed` push is followed by a
// sync only when it is ahead of this copy (app/vaultstore.js `isBehind`), and
// the Settings list says what a session is in plain words (app/sessions.js).
import assert from "node:assert/strict";
import test from "node:test";

import { describeSession } from "../app/sessions.js";
import { createVault } from "../app/vaultstore.js";
import { FakeServer, sodium } from "../testing/fakes.mjs";

test("a push ahead of this copy asks for a sync; one already reached does not", async () => {
  const server = new FakeServer();
  const vaultKey = sodium.randombytes_buf(32);
  const open = () => createVault({ token: () => "token", vaultKey, request: server.request });
  const phone = open();
  const laptop = open();
  assert.equal(laptop.isBehind("0"), true, "a copy never synced is behind anything");
  await laptop.sync();
  await phone.commit([phone.write(null, { kind: "note", peer: "p", body: "from the phone" })]);
  const pushed = String(server.sequence);
  assert.equal(laptop.isBehind(pushed), true);
  await laptop.sync();
  assert.equal(laptop.find("note").data.body, "from the phone");
  assert.equal(laptop.isBehind(pushed), false);
  assert.equal(laptop.isBehind("0"), false);
  for (const garbage of ["", "-1", "1e3", "99999999999999999999", "x"]) {
    assert.equal(laptop.isBehind(garbage), false, garbage);
  }
});

test("a session reads as its kind, whether it is this one, and a coarse day", () => {
  const now = Date.UTC(2026, 11, 7, 15) / 1000;
  const today = Date.UTC(2026, 11, 7) / 1000;
  assert.equal(
    describeSession({ kind: "browser", active: today, this: true }, now),
    "Browser · this device · active today",
  );
  assert.equal(
    describeSession({ kind: "cli", active: today - 86400, this: false }, now),
    "Command line · active yesterday",
  );
  assert.match(
    describeSession({ kind: null, active: today - 5 * 86400, this: false }, now),
    /^Device · last active .*2/,
  );
});
