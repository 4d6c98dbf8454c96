// Receiving (app/receiver.js) against a fake server: a message is stored
// together with its acknowledgement, a second delivery of it changes
// nothing, a conflict on the acknowledgement opens it again from the synced
// vault, a conflict that outlasts its retries leaves it stored, and a
// message another device opened first is shown from the synced vault.
import assert from "node:assert/strict";
import test from "node:test";

import { messageItem } from "../app/records.js";
import { changePrekeys } from "../app/upkeep.js";
import { VAULT_CONFLICT_RETRIES } from "../lib/constants.js";
import { addOneTimePrekeys } from "../lib/prekeys.js";
import { conflict, deliveryOf, newAccount, openDevice, until } from "../testing/fakes.mjs";

async function written(text = "Hello") {
  const client = await openDevice(newAccount());
  const therapist = await openDevice(newAccount());
  client.server.bundles.set(therapist.account.account, therapist.account.bundle);
  const entry = client.sender.queueText(therapist.account.account, text, { label: "T" });
  await until(() => client.server.sent.length === 1, "the client's message");
  const delivery = deliveryOf(client, client.server.sent[0]);
  return { client, therapist, entry, delivery };
}

function stored(therapist, client, entry) {
  return messageItem(therapist.vault, client.account.account, entry.message.id, "in");
}

test("a message is stored with its acknowledgement, and a receipt goes back", async () => {
  const { client, therapist, entry, delivery } = await written();
  therapist.receiver.onEnvelope(delivery);
  await until(() => therapist.server.acked.has(delivery.id), "the acknowledgement");
  assert.equal(stored(therapist, client, entry).data.body, "Hello");
  assert.deepEqual(therapist.seen.messages, [client.account.account]);
  await until(() => therapist.server.sent.length === 1, "the delivered receipt");
  client.receiver.onEnvelope(deliveryOf(therapist, therapist.server.sent[0]));
  await until(
    () =>
      messageItem(client.vault, therapist.account.account, entry.message.id, "out")?.data.state ===
      "delivered",
    "the client sees it delivered",
  );
});

test("a second delivery of the same envelope changes nothing", async () => {
  const { client, therapist, entry, delivery } = await written();
  therapist.receiver.onEnvelope(delivery);
  therapist.receiver.onEnvelope(delivery);
  await until(() => therapist.server.acked.has(delivery.id), "the acknowledgement");
  await until(() => therapist.server.sent.length === 1, "the delivered receipt");
  const copies = therapist.vault
    .list("message")
    .filter((item) => item.data.id === entry.message.id);
  assert.equal(copies.length, 1);
  assert.equal(stored(therapist, client, entry).version, 1);
  assert.equal(therapist.seen.messages.length, 1, "the person is told once");
  assert.deepEqual(therapist.seen.unreadable, [], "a replay is not reported as unreadable");
});

test("a conflict on the acknowledgement: sync, open again, acknowledge", async () => {
  const { client, therapist, entry, delivery } = await written();
  // Another device of the therapist adds one-time prekeys first, so the
  // acknowledgement's write of the prekeys item is one version behind.
  const laptop = await openDevice(therapist.account, { secondOf: therapist });
  await changePrekeys(
    { vault: laptop.vault, token: () => "token", request: laptop.server.request },
    (data) => addOneTimePrekeys(therapist.account.identity, data, 1),
  );
  therapist.receiver.onEnvelope(delivery);
  await until(() => therapist.server.acked.has(delivery.id), "the acknowledgement");
  const prekeys = therapist.vault.find("prekeys");
  assert.equal(prekeys.version, 3, "the used prekey is dropped from the laptop's version");
  assert.equal(prekeys.data.opk.length, 2, "the laptop's new prekey is kept");
  assert.equal(stored(therapist, client, entry).data.body, "Hello");
  assert.equal(therapist.seen.messages.length, 1);
});

test("a conflict that outlasts its retries leaves the envelope stored", async () => {
  const { client, therapist, entry, delivery } = await written();
  therapist.server.fail("ack", conflict(), VAULT_CONFLICT_RETRIES + 1);
  therapist.receiver.onEnvelope(delivery);
  await until(() => therapist.server.failures.ack.length === 0, "every allowed attempt");
  await therapist.serial(() => {});
  assert.equal(therapist.server.acked.size, 0, "not acknowledged: it is delivered again");
  assert.equal(stored(therapist, client, entry), null);
  assert.deepEqual(therapist.seen.messages, []);
  therapist.receiver.onEnvelope(delivery);
  await until(() => therapist.server.acked.has(delivery.id), "the second delivery");
  assert.equal(stored(therapist, client, entry).data.body, "Hello");
});

test("a message another device opened first is shown here from the synced vault", async () => {
  const { client, therapist, entry, delivery } = await written();
  const laptop = await openDevice(therapist.account, { secondOf: therapist });
  laptop.receiver.onEnvelope(delivery);
  await until(() => laptop.server.acked.has(delivery.id), "the laptop's acknowledgement");
  // This device gets the same envelope: the laptop's writes arrive by sync,
  // and the `vault_changed` push that follows finds nothing new to sync, so
  // the views must redraw now.
  therapist.receiver.onEnvelope(delivery);
  await until(() => stored(therapist, client, entry) !== null, "the message from the vault");
  await therapist.serial(() => {});
  assert.equal(stored(therapist, client, entry).data.body, "Hello");
  assert.ok(therapist.seen.changes.includes(null), "every view redraws after the sync");
  assert.deepEqual(therapist.seen.unreadable, [], "not reported as unreadable");
});
