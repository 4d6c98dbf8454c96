// Sending (app/sender.js) against a fake server: a text is sealed once and
// stored with its message item, a conflict on the riding items sends the
// same envelope again with fresh writes, a conflict that outlasts its
// retries is shown on the message, and receipts for one peer merge.
import assert from "node:assert/strict";
import test from "node:test";

import { newId } from "../app/ids.js";
import { messageItem, sessionItem, sessionRecord } from "../app/records.js";
import { describe } from "../app/wording.js";
import { VAULT_CONFLICT_RETRIES } from "../lib/constants.js";
import { b64uDecode } from "../lib/encoding.js";
import { decryptEnvelope } from "../lib/session.js";
import { conflict, deliveryOf, newAccount, openDevice, until } from "../testing/fakes.mjs";

async function pair() {
  const client = await openDevice(newAccount());
  const therapist = await openDevice(newAccount());
  client.server.bundles.set(therapist.account.account, therapist.account.bundle);
  therapist.server.bundles.set(client.account.account, client.account.bundle);
  return { client, therapist };
}

// Opens a stored envelope without keeping anything, to read what was sent.
function peek(to, from, frame) {
  const item = sessionItem(to.vault, from.account.account);
  return decryptEnvelope(
    {
      identity: to.account.identity,
      prekeys: to.vault.find("prekeys").data,
      record: sessionRecord(item),
    },
    b64uDecode(frame.env),
  ).payload;
}

function recordRequests(device) {
  const frames = [];
  const request = device.conn.request;
  device.conn.request = (frame, ref) => {
    frames.push(frame);
    return request(frame, ref);
  };
  return frames;
}

test("a text is sealed, stored with its message item, and sent once", async () => {
  const { client, therapist } = await pair();
  const peer = therapist.account.account;
  const entry = client.sender.queueText(peer, "Hello", { label: "Therapist" });
  await until(() => client.server.sent.length === 1, "the send");
  await until(() => !client.sender.hasUnsent(), "the outbox empties");
  const stored = messageItem(client.vault, peer, entry.message.id, "out");
  assert.equal(stored.data.state, "sent");
  assert.equal(stored.data.body, "Hello");
  assert.ok(sessionItem(client.vault, peer), "the session is stored before the envelope leaves");
  assert.equal(peek(therapist, client, client.server.sent[0]).body, "Hello");
});

test("a conflict on the riding items sends the same envelope with fresh writes", async () => {
  const { client, therapist } = await pair();
  const frames = recordRequests(client);
  client.server.fail("send", conflict());
  client.sender.queueText(therapist.account.account, "Hello", { label: "Therapist" });
  await until(() => client.server.sent.length === 1, "the send after the conflict");
  assert.equal(frames.length, 2);
  assert.equal(frames[1].env, frames[0].env, "the sealed envelope is never sealed again");
  assert.notEqual(frames[1].cmid, frames[0].cmid, "the writes were prepared afresh");
  therapist.receiver.onEnvelope(deliveryOf(client, client.server.sent[0]));
  await until(() => therapist.seen.messages.length === 1, "the therapist reads it");
});

test("a conflict that outlasts its retries is shown on the message, nothing lost", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const { client, therapist } = await pair();
  const peer = therapist.account.account;
  client.server.fail("send", conflict(), VAULT_CONFLICT_RETRIES + 1);
  client.sender.queueText(peer, "Hello", { label: "Therapist" });
  // The retries' pauses run on the mocked clock: move it on in steps that
  // stay, all together, below the outbox's own wait after the last retry.
  await until(() => client.sender.pendingFor(peer)[0]?.notice, "the notice", {
    tick: () => t.mock.timers.tick(100),
  });
  const [waiting] = client.sender.pendingFor(peer);
  assert.equal(waiting.notice, describe(conflict()));
  assert.equal(waiting.status, "sending", "it is tried again, not marked failed");
  assert.equal(client.server.failures.send.length, 0, "every allowed attempt was made");
  assert.equal(client.server.sent.length, 0);
  t.mock.timers.tick(60_000);
  await until(() => client.server.sent.length === 1, "the later send");
  await until(() => !client.sender.hasUnsent(), "the outbox empties");
});

test("receipts for one peer and state merge into one envelope, each id once", async () => {
  const { client, therapist } = await pair();
  const peer = client.account.account;
  const [a, b, c] = [newId(), newId(), newId()];
  therapist.conn.ready = false;
  therapist.sender.queueReceipt(peer, "delivered", [a, b]);
  therapist.sender.queueReceipt(peer, "delivered", [b, c]);
  therapist.sender.queueReceipt(peer, "read", [a]);
  // Sending needs a session: the client writes first, and its message adds
  // one more id to the waiting delivered receipt.
  const entry = client.sender.queueText(therapist.account.account, "Hello", { label: "T" });
  await until(() => client.server.sent.length === 1, "the client's message");
  therapist.receiver.onEnvelope(deliveryOf(client, client.server.sent[0]));
  await until(() => therapist.seen.messages.length === 1, "the therapist reads it");
  assert.equal(therapist.server.sent.length, 0, "nothing leaves while offline");
  therapist.conn.ready = true;
  await therapist.sender.pump();
  await until(() => therapist.server.sent.length === 2, "the receipts");
  const [delivered, read] = therapist.server.sent.map((frame) => peek(client, therapist, frame));
  assert.equal(delivered.state, "delivered");
  assert.deepEqual(delivered.ids, [b, c, entry.message.id], "a read id is not sent as delivered");
  assert.equal(read.state, "read");
  assert.deepEqual(read.ids, [a]);
});

test("a first message is refused when the bundle belongs to someone else", async () => {
  const client = await openDevice(newAccount());
  const peer = newAccount().account;
  client.server.bundles.set(peer, newAccount().bundle);
  const entry = client.sender.queueText(peer, "Hello", { label: "Therapist" });
  await until(() => entry.status === "failed", "the refusal");
  assert.equal(client.server.sent.length, 0);
  assert.equal(sessionItem(client.vault, peer), null, "no session with the wrong keys");
});
