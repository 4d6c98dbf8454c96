// tests/vectors/session_record.json: both sides of a conversation set up a
// session at the same moment (PROTOCOL.md 5.8). Every step is replayed: the
// envelopes sent, the record after each step, which session is active, and
// the errors; then the record encoding's valid and invalid cases.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { hexDecode, hexEncode, utf8Encode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import { identityFromSeed, x25519FromPrivate } from "../lib/keys.js";
import { decodePayload } from "../lib/payload.js";
import { encodeState } from "../lib/ratchet.js";
import { decryptEnvelope, encryptPayload, startSession } from "../lib/session.js";
import { decodeRecord, encodeRecord, mergeRecords } from "../lib/session_record.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/session_record.json", import.meta.url), "utf8"),
);
const { setup, events } = vectors;
const OTHER = { alice: "bob", bob: "alice" };

// GENERATE_DH for one step: the recorded pair to every attempt that asks.
function generatorFor(event) {
  const generator = () => {
    generator.used = true;
    assert.notEqual(event.ratchet_private, null, `step ${event.step} generated a key`);
    return x25519FromPrivate(hexDecode(event.ratchet_private));
  };
  generator.used = false;
  return generator;
}

function start(who) {
  const party = setup[who];
  return [
    startSession(identityFromSeed(hexDecode(party.seed)), setup[OTHER[who]].bundle, {
      ephemeral: x25519FromPrivate(hexDecode(party.ephemeral_private)),
      encapsulate: () => ({
        ciphertext: hexDecode(party.kem.ciphertext),
        sharedSecret: hexDecode(party.kem.shared_secret),
      }),
      ratchetPair: x25519FromPrivate(hexDecode(party.ratchet_private)),
    }).state,
  ];
}

test("both parties start in the recorded records", () => {
  for (const who of ["alice", "bob"]) {
    assert.equal(hexEncode(encodeRecord(start(who))), setup[who].record);
  }
});

test("a simultaneous set-up gives the recorded envelopes, records and errors", () => {
  const identities = {
    alice: identityFromSeed(hexDecode(setup.alice.seed)),
    bob: identityFromSeed(hexDecode(setup.bob.seed)),
  };
  const records = { alice: start("alice"), bob: start("bob") };
  const prekeys = { alice: setup.alice.prekeys, bob: setup.bob.prekeys };
  let newSessions = 0;
  let errors = 0;
  for (const event of events) {
    const where = `step ${event.step}: ${event.actor} ${event.action}`;
    const before = records[event.actor];
    if (event.action === "send") {
      const sent = encryptPayload(before[0], utf8Encode(event.payload));
      assert.equal(hexEncode(sent.envelope), event.envelope, where);
      records[event.actor] = [sent.state, ...before.slice(1)];
    } else {
      const generateDh = generatorFor(event);
      const open = () =>
        decryptEnvelope(
          { identity: identities[event.actor], prekeys: prekeys[event.actor], record: before },
          hexDecode(event.envelope),
          { generateDh },
        );
      if (event.error !== null) {
        assert.throws(open, errorForCode(event.error), where);
        errors += 1;
      } else {
        const received = open();
        assert.deepEqual(received.payload, decodePayload(utf8Encode(event.payload)), where);
        assert.equal(received.newSession, event.new_session, where);
        assert.equal(received.state, received.record[0], where);
        newSessions += received.newSession ? 1 : 0;
        prekeys[event.actor] = received.prekeys;
        records[event.actor] = received.record;
      }
      assert.equal(generateDh.used, event.ratchet_private !== null, where);
    }
    assert.equal(hexEncode(encodeRecord(records[event.actor])), event.record, where);
    assert.equal(hexEncode(records[event.actor][0].ek), event.active_ek, where);
  }
  assert.equal(newSessions, 2);
  assert.equal(errors, 2);
  assert.equal(hexEncode(records.alice[0].ek), hexEncode(records.bob[0].ek));
});

test("valid records decode to their sessions and re-encode to the same bytes", () => {
  assert.ok(vectors.valid.length > 0);
  for (const { name, hex, states } of vectors.valid) {
    const record = decodeRecord(hexDecode(hex));
    assert.equal(hexEncode(encodeRecord(record)), hex, name);
    assert.deepEqual(
      record.map((state) => hexEncode(encodeState(state))),
      states,
      name,
    );
  }
});

test("invalid records fail with the recorded error", () => {
  assert.ok(vectors.invalid.length > 0);
  for (const { name, hex, error } of vectors.invalid) {
    assert.throws(() => decodeRecord(hexDecode(hex)), errorForCode(error), name);
  }
});

test("several records of one peer merge into the recorded record, or fail as recorded", () => {
  assert.ok(vectors.merge.length > 0);
  for (const { name, records, merged, error } of vectors.merge) {
    const decoded = records.map((hex) => decodeRecord(hexDecode(hex)));
    if (error !== undefined) {
      assert.throws(() => mergeRecords(decoded), errorForCode(error), name);
    } else {
      assert.equal(hexEncode(encodeRecord(mergeRecords(decoded))), merged, name);
    }
  }
});
