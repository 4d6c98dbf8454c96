// The lock time a page uses (app/mutations.js, app/autolock.js): the
// person's saved choice, else the practice's default, each only within
// IDLE_LOCK_MIN_MINUTES..IDLE_LOCK_MAX_MINUTES; a value outside is never
// bent to fit the range.
import assert from "node:assert/strict";
import test from "node:test";

import { withinIdleBounds } from "../app/autolock.js";
import { idleMinutes, savedIdleMinutes, setIdleMinutes } from "../app/mutations.js";
import { createVault } from "../app/vaultstore.js";
import {
  IDLE_LOCK_DEFAULT_MINUTES,
  IDLE_LOCK_MAX_MINUTES,
  IDLE_LOCK_MIN_MINUTES,
} from "../lib/constants.js";
import { FakeServer, sodium } from "../testing/fakes.mjs";

async function workspaceWith({ saved, practice }) {
  const server = new FakeServer();
  const vault = createVault({
    token: () => "token",
    vaultKey: sodium.randombytes_buf(32),
    request: server.request,
  });
  if (saved !== undefined) {
    await vault.commit([vault.write(null, { kind: "settings", idle_minutes: saved })]);
  }
  return { vault, info: { idle_lock_minutes: practice }, emit: () => {} };
}

test("the bounds are the shared constants, both ends included", () => {
  assert.ok(withinIdleBounds(IDLE_LOCK_MIN_MINUTES));
  assert.ok(withinIdleBounds(IDLE_LOCK_MAX_MINUTES));
  assert.ok(!withinIdleBounds(IDLE_LOCK_MIN_MINUTES - 1));
  assert.ok(!withinIdleBounds(IDLE_LOCK_MAX_MINUTES + 1));
  assert.ok(!withinIdleBounds(2.5));
  assert.ok(!withinIdleBounds("5"));
});

test("a saved choice within the bounds wins over the practice's default", async () => {
  const workspace = await workspaceWith({ saved: 30, practice: 5 });
  assert.equal(idleMinutes(workspace), 30);
});

test("a saved choice outside the bounds is not clamped: the default applies", async () => {
  const workspace = await workspaceWith({ saved: IDLE_LOCK_MAX_MINUTES + 60, practice: 10 });
  assert.equal(idleMinutes(workspace), 10);
  assert.equal(savedIdleMinutes(workspace), IDLE_LOCK_MAX_MINUTES + 60, "kept, to be named");
});

test("with no usable choice or default, the protocol's default applies", async () => {
  const workspace = await workspaceWith({ practice: 0 });
  assert.equal(savedIdleMinutes(workspace), null);
  assert.equal(idleMinutes(workspace), IDLE_LOCK_DEFAULT_MINUTES);
});

test("a new choice is saved in the vault", async () => {
  const workspace = await workspaceWith({ saved: 30, practice: 5 });
  await setIdleMinutes(workspace, 15);
  assert.equal(idleMinutes(workspace), 15);
});
