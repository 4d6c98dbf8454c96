// Prekey upkeep (app/upkeep.js) against a fake server: private halves are
// committed before public halves are published, a change made on top of
// another device's change publishes once, and a conflict that outlasts its
// retries publishes nothing and reaches the caller.
import assert from "node:assert/strict";
import test from "node:test";

import { changePrekeys, checkPrekeys, topUpIfLow } from "../app/upkeep.js";
import { OPK_BATCH, OPK_LOW_WATER, VAULT_CONFLICT_RETRIES } from "../lib/constants.js";
import { addOneTimePrekeys } from "../lib/prekeys.js";
import { conflict, newAccount, openDevice } from "../testing/fakes.mjs";

function upkeepOf(device) {
  return { vault: device.vault, token: () => "token", request: device.server.request };
}

test("a top-up is made only when the server holds too few", async () => {
  const account = newAccount();
  const phone = await openDevice(account);
  phone.server.oneTimeLeft = OPK_LOW_WATER;
  await topUpIfLow(upkeepOf(phone), account.identity);
  assert.equal(phone.server.uploads.length, 0);
  phone.server.oneTimeLeft = OPK_LOW_WATER - 1;
  await topUpIfLow(upkeepOf(phone), account.identity);
  assert.equal(phone.server.uploads.length, 1);
  assert.equal(phone.server.uploads[0].one_time_prekeys.length, OPK_BATCH);
  const stored = phone.vault.find("prekeys");
  assert.equal(stored.data.opk.length, 2 + OPK_BATCH, "private halves kept before publishing");
  assert.equal(phone.server.items.get(stored.id).version, 2);
});

test("a change on top of another device's change is published once", async () => {
  const account = newAccount();
  const phone = await openDevice(account);
  const laptop = await openDevice(account, { secondOf: phone });
  const addOne = (data) => addOneTimePrekeys(account.identity, data, 1);
  await changePrekeys(upkeepOf(laptop), addOne);
  await changePrekeys(upkeepOf(phone), addOne);
  assert.equal(phone.server.uploads.length, 2, "one upload per change");
  const stored = phone.vault.find("prekeys");
  assert.equal(stored.version, 3);
  assert.equal(stored.data.opk.length, 4, "both devices' keys are kept");
});

test("a conflict that outlasts its retries publishes nothing", async () => {
  const account = newAccount();
  const phone = await openDevice(account);
  phone.server.fail("commit", conflict(), VAULT_CONFLICT_RETRIES + 1);
  await assert.rejects(
    changePrekeys(upkeepOf(phone), (data) => addOneTimePrekeys(account.identity, data, 1)),
    { code: "vault_conflict" },
  );
  assert.equal(phone.server.uploads.length, 0);
  assert.equal(phone.vault.find("prekeys").version, 1);
});

test("at sign-in, prekeys past their rotation date are rotated", async () => {
  const account = newAccount();
  account.prekeys = { ...account.prekeys, rotated: 0 };
  const phone = await openDevice(account);
  phone.server.oneTimeLeft = OPK_LOW_WATER;
  await checkPrekeys(upkeepOf(phone), account.identity);
  assert.equal(phone.server.uploads.length, 1);
  assert.ok(phone.server.uploads[0].signed_prekey, "a new signed prekey is published");
  assert.equal(phone.vault.find("prekeys").data.spk.length, 2, "the previous one is kept");
});
