// Sessions end to end (PROTOCOL.md sections 4 and 7): prekey messages until
// the answer, the responder's rules for prekey messages, and nothing kept
// from a message that fails.
import assert from "node:assert/strict";
import test from "node:test";

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
  exportSession,
  importSession,
  peerIdentityOf,
  startSession,
} from "../lib/session.js";
import { loadSodium } from "../lib/sodium.js";

const sodium = await loadSodium();

function newAccount(oneTime = 2) {
  const identity = identityFromSeed(generateIdentitySeed());
  const { item, upload } = createPrekeys(identity, 1_767_225_600, { oneTime });
  return { identity, account: sodium.randombytes_buf(16), prekeys: item, upload, session: null };
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

function send(from, text) {
  const payload = encodeText({ id: b64uEncode(sodium.randombytes_buf(16)), sent: 1, body: text });
  const out = encryptPayload(from.session, payload);
  from.session = out.state;
  return out.envelope;
}

function receive(to, envelope) {
  const result = decryptEnvelope(
    { identity: to.identity, prekeys: to.prekeys, session: to.session },
    envelope,
  );
  to.session = result.state;
  to.prekeys = result.prekeys;
  return { ...result, text: result.payload.body };
}

function connect() {
  const alice = newAccount();
  const bob = newAccount();
  alice.session = startSession(alice.identity, bundleOf(bob)).state;
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
  assert.equal(alice.session.pending, null);
  const after = send(alice, "after");
  assert.equal(after[1], 2);
  assert.equal(receive(bob, after).text, "after");
  assert.equal(
    hexEncode(peerIdentityOf(alice.session, alice.identity)),
    hexEncode(bob.identity.publicKey),
  );
  assert.equal(
    hexEncode(peerIdentityOf(bob.session, bob.identity)),
    hexEncode(alice.identity.publicKey),
  );
});

test("a session starts without a one-time prekey when none is left", () => {
  const alice = newAccount();
  const bob = newAccount(0);
  alice.session = startSession(alice.identity, bundleOf(bob, { withOneTime: false })).state;
  assert.equal(alice.session.pending.opkId, 0);
  assert.equal(receive(bob, send(alice, "no opk")).text, "no opk");
});

test("a replayed prekey message is refused after the session was replaced", () => {
  const { alice, bob } = connect();
  const old = send(alice, "old session");
  receive(bob, old);
  alice.session = startSession(alice.identity, bundleOf(bob)).state;
  assert.equal(receive(bob, send(alice, "new session")).newSession, true);
  const before = exportSession(bob.session);
  assert.throws(() => receive(bob, old), ReplayedError);
  assert.equal(exportSession(bob.session), before);
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
  alice.session = startSession(alice.identity, bundle).state;
  receive(bob, send(alice, "first use"));
  const carol = newAccount();
  carol.session = startSession(carol.identity, bundle).state;
  const prekeys = JSON.stringify(bob.prekeys);
  // Bob has no session with Carol.
  assert.throws(
    () =>
      decryptEnvelope(
        { identity: bob.identity, prekeys: bob.prekeys, session: null },
        send(carol, "second use"),
      ),
    WrongRecipientError,
  );
  assert.equal(JSON.stringify(bob.prekeys), prekeys);
});

test("messages to the previous signed prekey open after one rotation, not after two", () => {
  const alice = newAccount();
  const bob = newAccount();
  alice.session = startSession(alice.identity, bundleOf(bob)).state;
  const envelope = send(alice, "across a rotation");
  const rotatedOnce = rotatePrekeys(bob.identity, bob.prekeys, 1_767_830_400).item;
  const rotatedTwice = rotatePrekeys(bob.identity, rotatedOnce, 1_768_435_200).item;
  assert.throws(
    () =>
      decryptEnvelope({ identity: bob.identity, prekeys: rotatedTwice, session: null }, envelope),
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
  assert.equal(bob.session, null);
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
          session: null,
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
      session: null,
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
  mallory.session = startSession(mallory.identity, bundleOf(bob)).state;
  const forged = send(mallory, "it's me");
  const before = exportSession(bob.session);
  assert.throws(() => receive(bob, forged), IdentityChangedError);
  assert.equal(exportSession(bob.session), before);
  // Without a session there is nothing to compare with: it is a new contact.
  const opened = decryptEnvelope(
    { identity: bob.identity, prekeys: bob.prekeys, session: null },
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
  const unreadable = encryptPayload(alice.session, utf8Encode("not json"));
  alice.session = unreadable.state;
  const before = exportSession(bob.session);
  assert.throws(() => receive(bob, unreadable.envelope), MalformedError);
  assert.equal(exportSession(bob.session), before);
  const newer = encryptPayload(alice.session, utf8Encode('{"v":2,"type":"text"}'));
  alice.session = newer.state;
  assert.throws(() => receive(bob, newer.envelope), UnsupportedVersionError);
  assert.equal(receive(bob, send(alice, "after")).text, "after");
  const unknown = encryptPayload(alice.session, utf8Encode('{"v":1,"type":"typing"}'));
  alice.session = unknown.state;
  assert.deepEqual(receive(bob, unknown.envelope).payload, { v: 1, type: "typing" });
});

test("a session exported to its vault form and imported goes on working", () => {
  const { alice, bob } = connect();
  receive(bob, send(alice, "one"));
  alice.session = importSession(exportSession(alice.session));
  bob.session = importSession(exportSession(bob.session));
  assert.equal(receive(alice, send(bob, "two")).text, "two");
  assert.equal(receive(bob, send(alice, "three")).text, "three");
  assert.throws(() => importSession("AQ"), MalformedError);
});
