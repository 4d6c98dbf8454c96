// Receiving (app/receiver.js) against a fake server: a message is stored
// together with its acknowledgement, a second delivery of it changes
// nothing, a conflict on the acknowledgement opens it again from the synced
// vault, a conflict that outlasts its retries leaves it stored, and a
// message another device opened first is shown from the synced vault.
import assert from "node:assert/strict";
import test from "node:test";

import { messageItem, sessionItem, sessionRecord, storedSessions } from "../app/records.js";
import { changePrekeys } from "../app/upkeep.js";
import { VAULT_CONFLICT_RETRIES } from "../lib/constants.js";
import { b64uEncode } from "../lib/encoding.js";
import { addOneTimePrekeys } from "../lib/prekeys.js";
import { encodeState } from "../lib/ratchet.js";
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

// PROTOCOL.md 5.8 through the app: both write first, each sets up a session,
// and both first messages and the answers under the crossed sessions are read.
test("both sides writing first at once: both messages read, answers read", async () => {
  const client = await openDevice(newAccount());
  const therapist = await openDevice(newAccount());
  const toTherapist = therapist.account.account;
  const toClient = client.account.account;
  client.server.bundles.set(toTherapist, therapist.account.bundle);
  therapist.server.bundles.set(toClient, client.account.bundle);
  const deliver = async (from, to, index, count) => {
    to.receiver.onEnvelope(deliveryOf(from, from.server.sent[index]));
    await until(() => to.seen.messages.length === count, "the message is read");
  };
  client.sender.queueText(toTherapist, "first from the client", { label: "T" });
  therapist.sender.queueText(toClient, "first from the therapist", { label: "C" });
  await until(() => client.server.sent.length === 1, "the client's first");
  await until(() => therapist.server.sent.length === 1, "the therapist's first");
  await deliver(client, therapist, 0, 1);
  await deliver(therapist, client, 0, 1);
  const records = [
    sessionRecord(sessionItem(client.vault, toTherapist)),
    sessionRecord(sessionItem(therapist.vault, toClient)),
  ];
  assert.deepEqual(
    records.map((record) => record.length),
    [2, 2],
  );
  // The answers (after each side's delivered receipt) go under the crossed
  // sessions and still open on the other side.
  await until(() => client.server.sent.length === 2, "the client's receipt");
  await until(() => therapist.server.sent.length === 2, "the therapist's receipt");
  client.sender.queueText(toTherapist, "client again", { label: "T" });
  therapist.sender.queueText(toClient, "therapist again", { label: "C" });
  await until(() => client.server.sent.length === 3, "the client's answer");
  await until(() => therapist.server.sent.length === 3, "the therapist's answer");
  for (const index of [1, 2]) {
    therapist.receiver.onEnvelope(deliveryOf(client, client.server.sent[index]));
    client.receiver.onEnvelope(deliveryOf(therapist, therapist.server.sent[index]));
  }
  await until(() => therapist.seen.messages.length === 2, "the therapist reads the answer");
  await until(() => client.seen.messages.length === 2, "the client reads the answer");
  assert.deepEqual(therapist.seen.unreadable, []);
  assert.deepEqual(client.seen.unreadable, []);
  const bodies = (device, peer) =>
    device.vault
      .list("message")
      .filter((item) => item.data.peer === peer)
      .map((item) => `${item.data.dir} ${item.data.body}`)
      .sort();
  assert.deepEqual(bodies(client, toTherapist), [
    "in first from the therapist",
    "in therapist again",
    "out client again",
    "out first from the client",
  ]);
  assert.deepEqual(bodies(therapist, toClient), [
    "in client again",
    "in first from the client",
    "out first from the therapist",
    "out therapist again",
  ]);
});

test("a session item in the older single-session form is read and upgraded", async () => {
  const { client, therapist, delivery } = await written();
  therapist.receiver.onEnvelope(delivery);
  await until(() => therapist.seen.messages.length === 1, "the message is read");
  const peer = therapist.account.account;
  const item = sessionItem(client.vault, peer);
  const [state] = sessionRecord(item);
  const { sessions: _record, ...older } = item.data;
  await client.vault.commit([
    client.vault.write(item.id, { ...older, state: b64uEncode(encodeState(state)) }),
  ]);
  assert.equal(sessionItem(client.vault, peer).data.sessions, undefined);
  assert.equal(sessionRecord(sessionItem(client.vault, peer)).length, 1);
  client.sender.queueText(peer, "after the upgrade", { label: "T" });
  await until(() => client.server.sent.length === 2, "the second message");
  const upgraded = sessionItem(client.vault, peer).data;
  assert.equal(upgraded.state, undefined);
  assert.equal(sessionRecord({ data: upgraded }).length, 1);
  therapist.receiver.onEnvelope(deliveryOf(client, client.server.sent[1]));
  await until(() => therapist.seen.messages.length === 2, "it opens on the other side");
});

test("two devices starting with one peer at once: both items read as one, then one left", async () => {
  const therapistAccount = newAccount();
  const office = await openDevice(therapistAccount);
  const laptop = await openDevice(therapistAccount, { secondOf: office });
  const client = await openDevice(newAccount());
  const toClient = client.account.account;
  office.server.bundles.set(toClient, client.account.bundle);
  client.server.bundles.set(therapistAccount.account, therapistAccount.bundle);
  // Neither device has seen the other's session: each creates an item.
  office.sender.queueText(toClient, "from the office", { label: "C" });
  await until(() => office.server.sent.length === 1, "the office's first message");
  // The server hands each one-time prekey out once.
  office.server.bundles.set(toClient, { ...client.account.bundle, one_time_prekey: null });
  laptop.sender.queueText(toClient, "from the laptop", { label: "C" });
  await until(() => office.server.sent.length === 2, "the laptop's first message");
  await office.vault.sync();
  const peerItems = (device) =>
    device.vault.list("session").filter((item) => item.data.peer === toClient);
  assert.equal(peerItems(office).length, 2);
  assert.equal(storedSessions(office.vault, toClient).record.length, 2);
  for (const frame of office.server.sent) client.receiver.onEnvelope(deliveryOf(office, frame));
  await until(() => client.seen.messages.length === 2, "the client reads both");
  // The client's answer goes under the last session set up; the office
  // reads both items as one record, and its write keeps one item.
  client.sender.queueText(therapistAccount.account, "one answer", { label: "T" });
  await until(() => client.server.sent.some((frame) => frame.vault?.length), "the client's answer");
  const answer = client.server.sent.find((frame) => frame.vault?.length);
  office.receiver.onEnvelope(deliveryOf(client, answer));
  await until(() => office.seen.messages.length === 1, "the office reads the answer");
  assert.deepEqual(office.seen.unreadable, []);
  assert.equal(peerItems(office).length, 1);
  assert.equal(sessionRecord(peerItems(office)[0]).length, 2);
});
