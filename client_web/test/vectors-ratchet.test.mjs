// tests/vectors/ratchet.json: one whole conversation through the session layer,
// with reordering, loss, replays and a forgery, replayed step by step: every
// envelope sent, every state after every step and every error must agree.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { b64uEncode, hexDecode, hexEncode, utf8Encode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import { identityFromSeed, x25519FromPrivate } from "../lib/keys.js";
import { decodePayload } from "../lib/payload.js";
import { encodeState } from "../lib/ratchet.js";
import { decryptEnvelope, encryptPayload, startSession } from "../lib/session.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const { setup, events } = JSON.parse(
  await readFile(new URL("../../tests/vectors/ratchet.json", import.meta.url), "utf8"),
);

const EMPTY_PREKEYS = { kind: "prekeys", spk: [], pq: [], opk: [], seen_ek: [], rotated: 0 };

// GENERATE_DH for one step: the vector's key pair, or (when the vector says no
// key was generated) a pair whose use the test then reports.
function generatorFor(event) {
  const generator = () => {
    generator.used = true;
    return x25519FromPrivate(hexDecode(event.ratchet_private ?? hexEncode(new Uint8Array(32))));
  };
  generator.used = false;
  return generator;
}

function startAlice() {
  const alice = identityFromSeed(hexDecode(setup.alice_seed));
  return startSession(alice, setup.bundle, {
    ephemeral: x25519FromPrivate(hexDecode(setup.ephemeral_private)),
    encapsulate: () => ({
      ciphertext: hexDecode(setup.kem.ciphertext),
      sharedSecret: hexDecode(setup.kem.shared_secret),
    }),
    ratchetPair: x25519FromPrivate(hexDecode(setup.alice_ratchet_private)),
  }).state;
}

test("the initiator starts in the recorded state", () => {
  assert.equal(hexEncode(encodeState(startAlice())), setup.alice_state);
});

test("every step of the conversation gives the recorded envelope, state or error", () => {
  assert.ok(events.length > 0);
  assert.ok(
    events.some((event) => event.error !== null),
    "the vectors include failures",
  );
  const identities = {
    alice: identityFromSeed(hexDecode(setup.alice_seed)),
    bob: identityFromSeed(hexDecode(setup.bob_seed)),
  };
  const states = { alice: startAlice(), bob: null };
  const prekeys = { alice: EMPTY_PREKEYS, bob: setup.bob_prekeys };
  for (const event of events) {
    const where = `step ${event.step}: ${event.actor} ${event.action}`;
    const before = states[event.actor];
    if (event.action === "send") {
      const sent = encryptPayload(before, utf8Encode(event.payload));
      assert.equal(hexEncode(sent.envelope), event.envelope, where);
      states[event.actor] = sent.state;
    } else if (event.error !== null) {
      const generateDh = generatorFor(event);
      assert.throws(
        () =>
          decryptEnvelope(
            {
              identity: identities[event.actor],
              prekeys: prekeys[event.actor],
              record: before === null ? null : [before],
            },
            hexDecode(event.envelope),
            { generateDh },
          ),
        errorForCode(event.error),
        where,
      );
    } else {
      const generateDh = generatorFor(event);
      const received = decryptEnvelope(
        {
          identity: identities[event.actor],
          prekeys: prekeys[event.actor],
          record: before === null ? null : [before],
        },
        hexDecode(event.envelope),
        { generateDh },
      );
      assert.equal(generateDh.used, event.ratchet_private !== null, where);
      assert.deepEqual(received.payload, decodePayload(utf8Encode(event.payload)), where);
      assert.equal(received.newSession, event.prekeys_changed !== null, where);
      if (event.prekeys_changed === null) {
        assert.equal(received.prekeys, prekeys[event.actor], where);
      } else {
        const { spk_id: spkId, opk_id: opkId, ek } = event.prekeys_changed;
        assert.ok(!received.prekeys.opk.some((entry) => entry.id === opkId), where);
        assert.deepEqual(
          received.prekeys.seen_ek.at(-1),
          { spk: spkId, ek: b64uEncode(hexDecode(ek)) },
          where,
        );
        prekeys[event.actor] = received.prekeys;
      }
      states[event.actor] = received.state;
    }
    // After a failure this is the state from before the step: nothing changed.
    assert.equal(hexEncode(encodeState(states[event.actor])), event.state, where);
  }
});
