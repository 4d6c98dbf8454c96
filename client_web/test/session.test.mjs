// Sessions end to end (PROTOCOL.md sections 4 and 7): prekey messages until
// the answer, the responder's rules for prekey messages, and nothing kept
// from a message that fails.
import assert from "node:assert/strict";
import test from "node:test";

import { MAX_ARCHIVED_SESSIONS } from "../lib/constants.js";
import { b64uEncode, hexEncode, utf8Encode } from "../lib/encoding.js";
import {
  IdentityChangedError,
  MalformedError,
  ReplayedError,
  TamperedError,
  UnsupportedVersionError,
  WrongRecipientError,
} from "../lib/errors.js";
import { generateIdentitySeed, identityFromSeed } from "../lib/keys.js";
import { encodeText } from "../lib/payload.js";
import { createPrekeys, rotatePrekeys } from "../lib/prekeys.js";
import {
  decryptEnvelope,
  encryptPayload,
  exportRecord,
  importRecord,
  importSession,
  peerIdentityOf,
  startSession,
} from "../lib/session.js";
import { encodeRecord } from "../lib/session_record.js";
import { loadSodium } from "../lib/sodium.js";

const sodium = await loadSodium();

function newAccount(oneTime = 2) {
  const identity = identityFromSeed(generateIdentitySeed());
  const { item, upload } = createPrekeys(identity, 1_767_225_600, { oneTime });
  return { identity, account: sodium.randombytes_buf(16), prekeys: item, upload, record: null };
}

function bundleOf(owner, { withOneTime = true } = {}) {
  return {
    account: b64uEncode(owner.account),
    identity_key: b64uEncode(owner.identity.publicKey),
    signed_prekey: owner.upload.signed_prekey,
    pq_prekey: owner.upload.pq_prekey,
    one_time_prekey: withOneTime ? owner.upload.one_time_prekeys.shift() : null,
  };
}

// New messages go under the record's first, active session (PROTOCOL.md 5.8).
function sendBytes(from, payload) {
  const out = encryptPayload(from.record[0], payload);
  from.record = [out.state, ...from.record.slice(1)];
  return out.envelope;
}

function send(from, text) {
  return sendBytes(
    from,
    encodeText({ id: b64uEncode(sodium.randombytes_buf(16)), sent: 1, body: text }),
  );
}

function start(from, to, options) {
  from.record = [startSession(from.identity, bundleOf(to, options)).state];
}

function receive(to, envelope) {
  const result = decryptEnvelope(
    { identity: to.identity, prekeys: to.prekeys, record: to.record },
    envelope,
  );
  to.record = result.record;
  to.prekeys = result.prekeys;
  return { ...result, text: result.payload.body };
}

function connect() {
  const alice = newAccount();
  const bob = newAccount();
  start(alice, bob);
  return { alice, bob };
}

test("prekey messages until the first answer, then ordinary messages", () => {
  const { alice, bob } = connect();
  const first = send(alice, "first");
  const second = send(alice, "second");
  assert.deepEqual([first[1], second[1]], [1, 1]);
  const opened = receive(bob, second);
  assert.equal(opened.text, "second");
  assert.equal(opened.newSession, true);
  assert.equal(hexEncode(opened.peerIdentity), hexEncode(alice.identity.publicKey));
  assert.equal(bob.prekeys.opk.length, 1, "the one-time prekey is used up");
  assert.equal(bob.prekeys.seen_ek.length, 1);
  const later = receive(bob, first);
  assert.equal(later.text, "first");
  assert.equal(later.newSession, false, "a further prekey message of the same session");
  const answer = send(bob, "answer");
  assert.equal(answer[1], 2);
  assert.equal(receive(alice, answer).text, "answer");
  assert.equal(alice.record[0].pending, null);
  const after = send(alice, "after");
  assert.equal(after[1], 2);
  assert.equal(receive(bob, after).text, "after");
  assert.equal(
    hexEncode(peerIdentityOf(alice.record[0], alice.identity)),
    hexEncode(bob.identity.publicKey),
  );
  assert.equal(
    hexEncode(peerIdentityOf(bob.record[0], bob.identity)),
    hexEncode(alice.identity.publicKey),
  );
});

test("a session starts without a one-time prekey when none is left", () => {
  const alice = newAccount();
  const bob = newAccount(0);
  start(alice, bob, { withOneTime: false });
  assert.equal(alice.record[0].pending.opkId, 0);
  assert.equal(receive(bob, send(alice, "no opk")).text, "no opk");
});

test("a replayed prekey message is refused after the session was replaced", () => {
  const { alice, bob } = connect();
  const old = send(alice, "old session");
  receive(bob, old);
  start(alice, bob);
  assert.equal(receive(bob, send(alice, "new session")).newSession, true);
  const before = exportRecord(bob.record);
  assert.throws(() => receive(bob, old), ReplayedError);
  assert.equal(exportRecord(bob.record), before);
});

test("a prekey message for keys not held is for the wrong recipient", () => {
  const { alice } = connect();
  const envelope = send(alice, "hello");
  const stranger = newAccount();
  const prekeys = JSON.stringify(stranger.prekeys);
  assert.throws(() => receive(stranger, envelope), WrongRecipientError);
  assert.equal(JSON.stringify(stranger.prekeys), prekeys);
});

test("a prekey message naming a one-time prekey already used is refused", () => {
  const alice = newAccount();
  const bob = newAccount(1);
  const bundle = bundleOf(bob);
  alice.record = [startSession(alice.identity, bundle).state];
  receive(bob, send(alice, "first use"));
  const carol = newAccount();
  carol.record = [startSession(carol.identity, bundle).state];
  const prekeys = JSON.stringify(bob.prekeys);
  // Bob has no session with Carol.
  assert.throws(
    () =>
      decryptEnvelope(
        { identity: bob.identity, prekeys: bob.prekeys, record: null },
        send(carol, "second use"),
      ),
    WrongRecipientError,
  );
  assert.equal(JSON.stringify(bob.prekeys), prekeys);
});

test("messages to the previous signed prekey open after one rotation, not after two", () => {
  const alice = newAccount();
  const bob = newAccount();
  start(alice, bob);
  const envelope = send(alice, "across a rotation");
  const rotatedOnce = rotatePrekeys(bob.identity, bob.prekeys, 1_767_830_400).item;
  const rotatedTwice = rotatePrekeys(bob.identity, rotatedOnce, 1_768_435_200).item;
  assert.throws(
    () =>
      decryptEnvelope({ identity: bob.identity, prekeys: rotatedTwice, record: null }, envelope),
    WrongRecipientError,
  );
  bob.prekeys = rotatedOnce;
  assert.equal(receive(bob, envelope).text, "across a rotation");
});

test("a tampered prekey message keeps neither session nor prekey changes", () => {
  const { alice, bob } = connect();
  const envelope = send(alice, "hello");
  envelope[envelope.length - 1] ^= 1;
  const prekeys = JSON.stringify(bob.prekeys);
  assert.throws(() => receive(bob, envelope), TamperedError);
  assert.equal(bob.record, null);
  assert.equal(JSON.stringify(bob.prekeys), prekeys);
});

test("an ordinary message without a session is for the wrong recipient", () => {
  const { alice, bob } = connect();
  receive(bob, send(alice, "hello"));
  const answer = send(bob, "answer");
  const stranger = newAccount();
  assert.throws(() => receive(stranger, answer), WrongRecipientError);
});

test("a prekey message from another identity than the sender account is refused", () => {
  const { alice, bob } = connect();
  const envelope = send(alice, "hello");
  assert.throws(
    () =>
      decryptEnvelope(
        {
          identity: bob.identity,
          prekeys: bob.prekeys,
          record: null,
          expectedPeerIdentity: newAccount().identity.publicKey,
        },
        envelope,
      ),
    IdentityChangedError,
  );
  const opened = decryptEnvelope(
    {
      identity: bob.identity,
      prekeys: bob.prekeys,
      record: null,
      expectedPeerIdentity: alice.identity.publicKey,
    },
    envelope,
  );
  assert.equal(opened.payload.body, "hello");
});

test("a known sender under another identity key is refused (step 0)", () => {
  const { alice, bob } = connect();
  receive(bob, send(alice, "hello"));
  // Someone else, delivered under Alice's account id, sets up a new session.
  const mallory = newAccount();
  start(mallory, bob);
  const forged = send(mallory, "it's me");
  const before = exportRecord(bob.record);
  assert.throws(() => receive(bob, forged), IdentityChangedError);
  assert.equal(exportRecord(bob.record), before);
  // Without a session there is nothing to compare with: it is a new contact.
  const opened = decryptEnvelope(
    { identity: bob.identity, prekeys: bob.prekeys, record: null },
    forged,
  );
  assert.equal(opened.newSession, true);
});

test("step 0 holds for a further prekey message of the same session", () => {
  const { alice, bob } = connect();
  receive(bob, send(alice, "one"));
  const two = send(alice, "two");
  const swapped = two.slice();
  swapped.set(newAccount().identity.publicKey, 2);
  assert.throws(() => receive(bob, swapped), IdentityChangedError);
  assert.equal(receive(bob, two).text, "two");
});

test("an invalid identity key in a prekey message is malformed", () => {
  const { alice, bob } = connect();
  const envelope = send(alice, "hello");
  envelope.fill(0, 2, 34);
  envelope[2] = 1;
  assert.throws(() => receive(bob, envelope), MalformedError);
});

test("an unreadable payload is refused and changes nothing; later messages still open", () => {
  const { alice, bob } = connect();
  receive(bob, send(alice, "first"));
  const unreadable = sendBytes(alice, utf8Encode("not json"));
  const before = exportRecord(bob.record);
  assert.throws(() => receive(bob, unreadable), MalformedError);
  assert.equal(exportRecord(bob.record), before);
  const newer = sendBytes(alice, utf8Encode('{"v":2,"type":"text"}'));
  assert.throws(() => receive(bob, newer), UnsupportedVersionError);
  assert.equal(receive(bob, send(alice, "after")).text, "after");
  const unknown = sendBytes(alice, utf8Encode('{"v":1,"type":"typing"}'));
  assert.deepEqual(receive(bob, unknown).payload, { v: 1, type: "typing" });
});

test("a session exported to its vault form and imported goes on working", () => {
  const { alice, bob } = connect();
  receive(bob, send(alice, "one"));
  alice.record = importRecord(exportRecord(alice.record));
  bob.record = importRecord(exportRecord(bob.record));
  assert.equal(receive(alice, send(bob, "two")).text, "two");
  assert.equal(receive(bob, send(alice, "three")).text, "three");
  assert.throws(() => importRecord("AQ"), MalformedError);
  assert.throws(() => importSession("AQ"), MalformedError);
});

test("a simultaneous set-up keeps both sessions and loses nothing (5.8)", () => {
  const alice = newAccount();
  const bob = newAccount();
  start(alice, bob);
  start(bob, alice);
  // Both send a first message before either has the other's.
  const fromAlice = send(alice, "hello from alice");
  const fromBob = send(bob, "hello from bob");
  assert.equal(receive(alice, fromBob).text, "hello from bob");
  assert.equal(receive(bob, fromAlice).text, "hello from alice");
  assert.deepEqual([alice.record.length, bob.record.length], [2, 2]);
  // Each answers under the session the other set up, at the same time again.
  const crossedA = send(alice, "a2");
  const crossedB = send(bob, "b2");
  assert.equal(receive(bob, crossedA).text, "a2");
  assert.equal(receive(alice, crossedB).text, "b2");
  for (let turn = 0; turn < 6; turn += 1) {
    const [from, to] = turn % 2 === 0 ? [alice, bob] : [bob, alice];
    assert.equal(receive(to, send(from, `turn ${turn}`)).text, `turn ${turn}`);
  }
  assert.equal(hexEncode(alice.record[0].ek), hexEncode(bob.record[0].ek));
  const lateA = send(alice, "late a");
  const lateB = send(bob, "late b");
  assert.equal(receive(bob, lateA).text, "late a");
  assert.equal(receive(alice, lateB).text, "late b");
  assert.equal(hexEncode(alice.record[0].ek), hexEncode(bob.record[0].ek));
});

test("a message under an earlier session opens there and makes it active", () => {
  const { alice, bob } = connect();
  receive(bob, send(alice, "old 1"));
  const inFlight = send(alice, "old 2");
  const oldEk = hexEncode(alice.record[0].ek);
  start(alice, bob);
  assert.equal(receive(bob, send(alice, "new")).newSession, true);
  assert.deepEqual(
    bob.record.map((s) => hexEncode(s.ek)),
    [hexEncode(alice.record[0].ek), oldEk],
  );
  const late = receive(bob, inFlight);
  assert.equal(late.text, "old 2");
  assert.equal(hexEncode(bob.record[0].ek), oldEk);
});

test("a record keeps at most MAX_ARCHIVED_SESSIONS earlier sessions", () => {
  const alice = newAccount();
  const bob = newAccount(MAX_ARCHIVED_SESSIONS + 3);
  const first = [];
  for (let i = 0; i <= MAX_ARCHIVED_SESSIONS + 1; i += 1) {
    start(alice, bob);
    receive(bob, send(alice, `start ${i}`));
    first.push(alice.record[0]);
  }
  assert.equal(bob.record.length, 1 + MAX_ARCHIVED_SESSIONS);
  // A further message of the dropped session: its EK was accepted before.
  alice.record = [first[0]];
  assert.throws(() => receive(bob, send(alice, "dropped")), ReplayedError);
  assert.throws(() => encodeRecord([...bob.record, first[0]]), MalformedError);
});
