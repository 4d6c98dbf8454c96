// Every typed error of PROTOCOL.md section 13: its code, its message, and one
// real input of each kind that raises it.
import assert from "node:assert/strict";
import test from "node:test";

import { MEMBER_REMOVED } from "../lib/constants.js";
import { b64uDecode, b64uEncode, utf8Encode } from "../lib/encoding.js";
import { decodeEnvelope } from "../lib/envelope.js";
import {
  ALL_ERRORS,
  errorForCode,
  IdentityChangedError,
  MalformedError,
  MissingSenderKeyError,
  NotAMemberError,
  ProtocolError,
  ReplayedError,
  RosterOutdatedError,
  RosterRollbackError,
  StaleSenderKeyError,
  TamperedError,
  TooFarSkippedError,
  UnsupportedVersionError,
  WrongRecipientError,
} from "../lib/errors.js";
import { generateIdentitySeed, generateX25519, identityFromSeed } from "../lib/keys.js";
import { encodeText } from "../lib/payload.js";
import { createPrekeys } from "../lib/prekeys.js";
import { initReceiver, initSender, ratchetDecrypt, ratchetEncrypt } from "../lib/ratchet.js";
import { acceptRoster, createSenderKey, groupDecrypt } from "../lib/sender_key.js";
import { decryptEnvelope, encryptPayload, startSession } from "../lib/session.js";
import { loadSodium } from "../lib/sodium.js";
import { decryptItem, encryptItem } from "../lib/vault.js";
import { Group } from "../testing/group_parties.mjs";

const sodium = await loadSodium();

const EXPECTED_CODES = {
  MalformedError: "malformed",
  UnsupportedVersionError: "unsupported_version",
  TamperedError: "tampered",
  ReplayedError: "replayed",
  TooFarSkippedError: "too_far_skipped",
  WrongRecipientError: "wrong_recipient",
  IdentityChangedError: "identity_changed",
  RosterRollbackError: "roster_rollback",
  RosterOutdatedError: "roster_outdated",
  NotAMemberError: "not_a_member",
  StaleSenderKeyError: "stale_sender_key",
  MissingSenderKeyError: "missing_sender_key",
};

test("each error has the code of the document, a message and the common base", () => {
  assert.deepEqual(Object.fromEntries(ALL_ERRORS.map((e) => [e.name, e.code])), EXPECTED_CODES);
  for (const ErrorClass of ALL_ERRORS) {
    const error = new ErrorClass();
    assert.ok(error instanceof ProtocolError && error instanceof Error);
    assert.equal(error.code, EXPECTED_CODES[ErrorClass.name]);
    assert.equal(error.name, ErrorClass.name);
    assert.ok(error.message.length > 20, "the default message says what happened");
    assert.equal(new ErrorClass("Specific.").message, "Specific.");
    assert.equal(errorForCode(error.code), ErrorClass);
  }
  assert.throws(() => errorForCode("no_such_code"), /Unknown protocol error code/);
});

function ratchetPair() {
  const sharedKey = sodium.randombytes_buf(32);
  const ad = sodium.randombytes_buf(64);
  const ek = sodium.randombytes_buf(32);
  const spk = generateX25519();
  return {
    alice: initSender({ sharedKey, remoteRatchetKey: spk.publicKey, ad, ek, pending: null }),
    bob: initReceiver({ sharedKey, signedPrekeyPair: spk, ad, ek }),
  };
}

const TRIGGERS = {
  malformed: () => b64uDecode("AB"),
  unsupported_version: () => decodeEnvelope(Uint8Array.of(2, 2, ...new Uint8Array(312))),
  tampered: () => {
    const key = sodium.randombytes_buf(32);
    const id = sodium.randombytes_buf(16);
    decryptItem(key, id, 2, encryptItem(key, id, 1, { kind: "note" }));
  },
  replayed: () => {
    const { alice, bob } = ratchetPair();
    const sent = ratchetEncrypt(alice, utf8Encode("once"));
    const { state } = ratchetDecrypt(bob, sent.header, sent.ciphertext);
    ratchetDecrypt(state, sent.header, sent.ciphertext);
  },
  too_far_skipped: () => {
    let { alice, bob } = ratchetPair();
    let sent;
    for (let i = 0; i < 1002; i += 1) {
      sent = ratchetEncrypt(alice, utf8Encode("x"));
      alice = sent.state;
    }
    ratchetDecrypt(bob, sent.header, sent.ciphertext);
  },
  wrong_recipient: () => {
    const alice = identityFromSeed(generateIdentitySeed());
    const bob = identityFromSeed(generateIdentitySeed());
    const { upload } = createPrekeys(bob, 0, { oneTime: 0 });
    const { state } = startSession(alice, {
      account: b64uEncode(new Uint8Array(16)),
      identity_key: b64uEncode(bob.publicKey),
      signed_prekey: upload.signed_prekey,
      pq_prekey: upload.pq_prekey,
      one_time_prekey: null,
    });
    const { envelope } = encryptPayload(state, utf8Encode("{}"));
    const { item: othersPrekeys } = createPrekeys(bob, 0, { oneTime: 0 });
    decryptEnvelope({ identity: bob, prekeys: othersPrekeys, record: null }, envelope);
  },
  identity_changed: () => {
    const bob = identityFromSeed(generateIdentitySeed());
    const { item, upload } = createPrekeys(bob, 0, { oneTime: 0 });
    const bundle = {
      account: b64uEncode(new Uint8Array(16)),
      identity_key: b64uEncode(bob.publicKey),
      signed_prekey: upload.signed_prekey,
      pq_prekey: upload.pq_prekey,
      one_time_prekey: null,
    };
    const text = encodeText({ id: b64uEncode(new Uint8Array(16)), sent: 1, body: "hi" });
    const sendFrom = (seed) =>
      encryptPayload(startSession(identityFromSeed(seed), bundle).state, text).envelope;
    const first = decryptEnvelope(
      { identity: bob, prekeys: item, record: null },
      sendFrom(generateIdentitySeed()),
    );
    decryptEnvelope(
      { identity: bob, prekeys: first.prekeys, record: first.record },
      sendFrom(generateIdentitySeed()),
    );
  },
  roster_rollback: () => {
    const group = new Group();
    const old = group.sign();
    const newer = acceptRoster(acceptRoster(group.states.get("alice"), old), group.sign());
    acceptRoster(newer, old);
  },
  roster_outdated: () => {
    const group = new Group();
    group.rotate("alice");
    group.states.set("alice", acceptRoster(group.states.get("alice"), group.sign()));
    groupDecrypt(group.states.get("bob"), group.send("alice", "ahead"));
  },
  not_a_member: () => {
    const group = new Group();
    group.set("carol", MEMBER_REMOVED);
    group.publish();
    createSenderKey(group.states.get("carol"), 0);
  },
  stale_sender_key: () => {
    const group = new Group();
    group.rotate("alice");
    group.set("carol", MEMBER_REMOVED);
    group.publish();
    group.send("alice", "stale");
  },
  missing_sender_key: () => {
    const group = new Group();
    group.states.set("alice", createSenderKey(group.states.get("alice"), 0));
    groupDecrypt(group.states.get("bob"), group.send("alice", "unshared"));
  },
};

test("every error is raised by real input of its kind", () => {
  assert.deepEqual(Object.keys(TRIGGERS).sort(), Object.values(EXPECTED_CODES).sort());
  for (const [code, trigger] of Object.entries(TRIGGERS)) {
    assert.throws(trigger, errorForCode(code), code);
  }
  assert.equal(errorForCode("malformed"), MalformedError);
  assert.equal(errorForCode("unsupported_version"), UnsupportedVersionError);
  assert.equal(errorForCode("tampered"), TamperedError);
  assert.equal(errorForCode("replayed"), ReplayedError);
  assert.equal(errorForCode("too_far_skipped"), TooFarSkippedError);
  assert.equal(errorForCode("wrong_recipient"), WrongRecipientError);
  assert.equal(errorForCode("identity_changed"), IdentityChangedError);
  assert.equal(errorForCode("roster_rollback"), RosterRollbackError);
  assert.equal(errorForCode("roster_outdated"), RosterOutdatedError);
  assert.equal(errorForCode("not_a_member"), NotAMemberError);
  assert.equal(errorForCode("stale_sender_key"), StaleSenderKeyError);
  assert.equal(errorForCode("missing_sender_key"), MissingSenderKeyError);
});
