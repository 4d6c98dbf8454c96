// The Double Ratchet on its own (PROTOCOL.md section 5): reordering and loss,
// tampering and replays that leave the state unchanged, the skip limits, the
// memory of earlier ratchet keys and the state encoding.
import assert from "node:assert/strict";
import test from "node:test";

import { MAX_PREVIOUS_RATCHET_KEYS, MAX_SKIP, MAX_SKIPPED_KEYS } from "../lib/constants.js";
import { hexEncode, utf8Decode, utf8Encode } from "../lib/encoding.js";
import { ReplayedError, TamperedError, TooFarSkippedError } from "../lib/errors.js";
import { generateX25519 } from "../lib/keys.js";
import {
  decodeState,
  encodeState,
  initReceiver,
  initSender,
  ratchetDecrypt,
  ratchetEncrypt,
} from "../lib/ratchet.js";
import { loadSodium } from "../lib/sodium.js";

const sodium = await loadSodium();

// Two parties sharing SK and AD, as PQXDH would leave them.
function newConversation() {
  const sharedKey = sodium.randombytes_buf(32);
  const ad = sodium.randombytes_buf(64);
  const ek = sodium.randombytes_buf(32);
  const spk = generateX25519();
  return {
    alice: initSender({ sharedKey, remoteRatchetKey: spk.publicKey, ad, ek, pending: null }),
    bob: initReceiver({ sharedKey, signedPrekeyPair: spk, ad, ek }),
  };
}

function sendMany(parties, from, prefix, count) {
  return Array.from({ length: count }, (_, i) => send(parties, from, `${prefix}${i}`));
}

function send(parties, from, text) {
  const sent = ratchetEncrypt(parties[from], utf8Encode(text));
  parties[from] = sent.state;
  return { header: sent.header, ciphertext: sent.ciphertext, text };
}

function receive(parties, to, message) {
  const opened = ratchetDecrypt(parties[to], message.header, message.ciphertext);
  parties[to] = opened.state;
  return utf8Decode(opened.plaintext);
}

const stateHex = (state) => hexEncode(encodeState(state));

test("a conversation with reordering across chains and lost messages", () => {
  const parties = newConversation();
  const a1 = send(parties, "alice", "a1");
  const a2 = send(parties, "alice", "a2");
  send(parties, "alice", "a3 is lost");
  const a4 = send(parties, "alice", "a4");
  assert.equal(receive(parties, "bob", a2), "a2");
  assert.equal(receive(parties, "bob", a4), "a4");
  const b1 = send(parties, "bob", "b1");
  const b2 = send(parties, "bob", "b2");
  assert.equal(receive(parties, "alice", b2), "b2");
  const a5 = send(parties, "alice", "a5");
  assert.equal(receive(parties, "bob", a5), "a5");
  assert.equal(receive(parties, "bob", a1), "a1", "a late message of a finished chain");
  const b3 = send(parties, "bob", "b3");
  send(parties, "bob", "b4 is lost");
  const b5 = send(parties, "bob", "b5");
  assert.equal(receive(parties, "alice", b5), "b5");
  assert.equal(receive(parties, "alice", b3), "b3");
  assert.equal(receive(parties, "alice", b1), "b1");
  // Two skipped keys remain: a3 and b4 were never delivered.
  assert.equal(parties.alice.skipped.size + parties.bob.skipped.size, 2);
});

test("a tampered message is refused and leaves the state unchanged", () => {
  const parties = newConversation();
  const message = send(parties, "alice", "hello");
  const before = stateHex(parties.bob);
  for (const field of ["ciphertext", "header"]) {
    const forged = { ...message, [field]: message[field].slice() };
    forged[field][forged[field].length - 1] ^= 1;
    assert.throws(() => receive(parties, "bob", forged), TamperedError, field);
    assert.equal(stateHex(parties.bob), before, field);
  }
  assert.equal(receive(parties, "bob", message), "hello", "the genuine message still opens");
});

test("replays are refused: current chain, used skipped keys, finished chains", () => {
  const parties = newConversation();
  const a1 = send(parties, "alice", "a1");
  const a2 = send(parties, "alice", "a2");
  receive(parties, "bob", a2);
  receive(parties, "bob", a1);
  for (const message of [a1, a2]) {
    const before = stateHex(parties.bob);
    assert.throws(() => receive(parties, "bob", message), ReplayedError);
    assert.equal(stateHex(parties.bob), before);
  }
  receive(parties, "alice", send(parties, "bob", "b1"));
  receive(parties, "bob", send(parties, "alice", "a3"));
  assert.throws(() => receive(parties, "bob", a1), ReplayedError, "a chain that has ended");
});

test("MAX_SKIP keys may be skipped in one chain, one more is refused", () => {
  const parties = newConversation();
  const messages = sendMany(parties, "alice", "m", MAX_SKIP + 2);
  const before = stateHex(parties.bob);
  assert.throws(() => receive(parties, "bob", messages[MAX_SKIP + 1]), TooFarSkippedError);
  assert.equal(stateHex(parties.bob), before);
  assert.equal(receive(parties, "bob", messages[MAX_SKIP]), `m${MAX_SKIP}`);
  assert.equal(parties.bob.skipped.size, MAX_SKIP);
  assert.equal(receive(parties, "bob", messages[0]), "m0");
});

test("at most MAX_SKIPPED_KEYS are stored, the oldest evicted first", () => {
  const parties = newConversation();
  const firstChain = sendMany(parties, "alice", "a", MAX_SKIP + 1);
  receive(parties, "bob", firstChain[MAX_SKIP]);
  receive(parties, "alice", send(parties, "bob", "b"));
  const secondChain = sendMany(parties, "alice", "c", MAX_SKIP + 1);
  receive(parties, "bob", secondChain[MAX_SKIP]);
  assert.equal(parties.bob.skipped.size, MAX_SKIPPED_KEYS);
  receive(parties, "alice", send(parties, "bob", "b"));
  const thirdChain = [send(parties, "alice", "d0"), send(parties, "alice", "d1")];
  receive(parties, "bob", thirdChain[1]);
  assert.equal(parties.bob.skipped.size, MAX_SKIPPED_KEYS);
  assert.throws(() => receive(parties, "bob", firstChain[0]), ReplayedError, "evicted");
  assert.equal(receive(parties, "bob", firstChain[1]), "a1", "the next oldest is kept");
  assert.equal(receive(parties, "bob", thirdChain[0]), "d0");
  assert.equal(decodeState(encodeState(parties.bob)).skipped.size, MAX_SKIPPED_KEYS - 2);
});

test("at most MAX_PREVIOUS_RATCHET_KEYS earlier keys are remembered", () => {
  const parties = newConversation();
  const first = send(parties, "alice", "first");
  receive(parties, "bob", first);
  const retained = send(parties, "alice", "retained");
  for (let round = 0; round < MAX_PREVIOUS_RATCHET_KEYS + 2; round += 1) {
    receive(parties, "alice", send(parties, "bob", "b"));
    receive(parties, "bob", send(parties, "alice", "a"));
  }
  assert.equal(parties.bob.previous.length, MAX_PREVIOUS_RATCHET_KEYS);
  // The key of the chain `first` came in is forgotten, but its skipped key is
  // still stored, so its late message opens; a replay of `first` is no longer
  // recognised as one and fails authentication instead.
  assert.equal(receive(parties, "bob", retained), "retained");
  assert.throws(() => receive(parties, "bob", first), TamperedError);
});

test("the state survives encoding at every step of a conversation", () => {
  const parties = newConversation();
  const roundTrip = (who) => {
    const bytes = encodeState(parties[who]);
    parties[who] = decodeState(bytes);
    assert.equal(stateHex(parties[who]), hexEncode(bytes));
  };
  for (let round = 0; round < 4; round += 1) {
    const a = [send(parties, "alice", `a${round}.0`), send(parties, "alice", `a${round}.1`)];
    roundTrip("alice");
    assert.equal(receive(parties, "bob", a[1]), `a${round}.1`);
    roundTrip("bob");
    assert.equal(receive(parties, "bob", a[0]), `a${round}.0`);
    const b = send(parties, "bob", `b${round}`);
    roundTrip("bob");
    assert.equal(receive(parties, "alice", b), `b${round}`);
    roundTrip("alice");
  }
});

test("the responder cannot send before it has received", () => {
  const { bob } = newConversation();
  assert.throws(() => ratchetEncrypt(bob, utf8Encode("too early")), { code: "malformed" });
});
