// Groups (PROTOCOL.md section 15) with random keys: removal and rotation,
// muting, any delivery order within the skip bound, and that a failed step
// changes nothing. The fixed-key cases are in vectors-groups.test.mjs.
import assert from "node:assert/strict";
import test from "node:test";

import {
  MEMBER_LEFT,
  MEMBER_MUTED,
  MEMBER_REMOVED,
  SENDER_KEY_MAX_SKIP,
} from "../lib/constants.js";
import { utf8Decode } from "../lib/encoding.js";
import {
  MalformedError,
  MissingSenderKeyError,
  NotAMemberError,
  ProtocolError,
  ReplayedError,
  RosterRollbackError,
  StaleSenderKeyError,
  TooFarSkippedError,
} from "../lib/errors.js";
import { parseGroupMessage } from "../lib/group_message.js";
import {
  acceptRoster,
  createSenderKey,
  distributionMessage,
  groupDecrypt,
  needsRotation,
  processDistribution,
} from "../lib/sender_key.js";
import { loadSodium } from "../lib/sodium.js";
import { Group } from "../testing/group_parties.mjs";

const sodium = await loadSodium();
test("removed and departed members read nothing sent after the rotation", () => {
  const group = new Group(["alice", "bob", "carol", "dave"]);
  for (const name of group.states.keys()) group.rotate(name);
  group.set("carol", MEMBER_REMOVED);
  group.set("dave", MEMBER_LEFT);
  group.publish();
  assert.equal(needsRotation(group.states.get("alice"), 0), true);
  assert.throws(() => group.send("alice", "too early"), StaleSenderKeyError);
  group.rotate("alice");
  const message = group.send("alice", "after");
  const { plaintext } = groupDecrypt(group.states.get("bob"), message);
  assert.equal(utf8Decode(plaintext.payload), "after");
  for (const gone of ["carol", "dave"]) {
    assert.throws(() => groupDecrypt(group.states.get(gone), message), MissingSenderKeyError);
  }
  const senders = [...group.states.get("bob").received.values()].map((r) => r.memberKey);
  assert.deepEqual(senders, [group.keys.get("alice")]);
});

test("a muted member reads but cannot send", () => {
  const group = new Group();
  for (const name of group.states.keys()) group.rotate(name);
  group.set("carol", MEMBER_MUTED);
  group.publish();
  const { plaintext } = groupDecrypt(group.states.get("carol"), group.send("alice", "hi"));
  assert.equal(utf8Decode(plaintext.payload), "hi");
  assert.throws(() => group.send("carol", "let me"), NotAMemberError);
});

test("a name that does not match the roster's commitment is refused", () => {
  const group = new Group();
  const alice = createSenderKey(group.states.get("alice"), 0);
  const bytes = distributionMessage(alice, "Someone Else", group.salts.get("alice"));
  assert.throws(() => processDistribution(group.states.get("bob"), bytes), MalformedError);
});

test("an older roster after a newer one is refused and the newer kept", () => {
  const group = new Group();
  const first = group.sign();
  group.set("carol", MEMBER_REMOVED);
  const second = group.sign();
  const state = acceptRoster(acceptRoster(group.states.get("alice"), first), second);
  assert.throws(() => acceptRoster(state, first), RosterRollbackError);
  assert.equal(state.roster.version, group.version);
});

function shuffled(count) {
  const order = [...Array(count).keys()];
  for (let i = count - 1; i > 0; i -= 1) {
    const j = sodium.randombytes_uniform(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

test("any delivery order opens each message exactly once; corruptions change nothing", () => {
  for (let round = 0; round < 20; round += 1) {
    const group = new Group(["alice", "bob"]);
    group.rotate("alice");
    const sent = Array.from({ length: 8 }, (_, i) => group.send("alice", `message ${i}`));
    let state = group.states.get("bob");
    for (const index of shuffled(sent.length)) {
      const forged = sent[index].slice();
      forged[sodium.randombytes_uniform(forged.length)] ^= 1 + sodium.randombytes_uniform(255);
      const snapshot = structuredClone(state);
      assert.throws(() => groupDecrypt(state, forged), ProtocolError);
      assert.deepEqual(state, snapshot);
      const opened = groupDecrypt(state, sent[index]);
      state = opened.state;
      assert.equal(utf8Decode(opened.plaintext.payload), `message ${index}`);
      assert.equal(opened.plaintext.iteration, index);
      assert.throws(() => groupDecrypt(state, sent[index]), ReplayedError);
    }
    assert.equal([...state.received.values()][0].skipped.size, 0);
  }
});

test("no message key is used twice: iterations count up and ciphertexts differ", () => {
  const group = new Group(["alice", "bob"]);
  group.rotate("alice");
  const messages = Array.from({ length: 12 }, () => group.send("alice", "same text"));
  const parsed = messages.map(parseGroupMessage);
  assert.deepEqual(
    parsed.map((message) => message.header.iteration),
    [...Array(12).keys()],
  );
  const ciphertexts = new Set(
    parsed.map((message) => Buffer.from(message.ciphertext).toString("hex")),
  );
  assert.equal(ciphertexts.size, 12);
});

test("skipping beyond the bound is refused; within it works", () => {
  const group = new Group(["alice", "bob"]);
  group.rotate("alice");
  const sent = Array.from({ length: SENDER_KEY_MAX_SKIP + 2 }, () => group.send("alice", "x"));
  let bob = group.states.get("bob");
  assert.throws(() => groupDecrypt(bob, sent.at(-1)), TooFarSkippedError);
  const opened = groupDecrypt(bob, sent.at(-2));
  assert.equal(opened.plaintext.iteration, SENDER_KEY_MAX_SKIP);
  bob = groupDecrypt(opened.state, sent[0]).state;
  assert.ok(bob.received.size === 1);
});
