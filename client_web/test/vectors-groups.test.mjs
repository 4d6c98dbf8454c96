// tests/vectors/groups.json: signed rosters, sender keys, group messages and
// tombstones (PROTOCOL.md section 15), replayed event by event with the same
// injected keys as crypto/sender_key.py.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

import { hexDecode, hexEncode, utf8Decode, utf8Encode } from "../lib/encoding.js";
import { errorForCode } from "../lib/errors.js";
import {
  decodeRoster,
  encodeRoster,
  nameCommitment,
  signRoster,
  verifyFirstRoster,
  verifyNextRoster,
  verifyTombstone,
} from "../lib/group_roster.js";
import { decodeGroupState, encodeGroupState } from "../lib/group_state.js";
import {
  acceptRoster,
  createSenderKey,
  distributionMessage,
  groupDecrypt,
  groupEncrypt,
  join,
  needsRotation,
  processDistribution,
  recipients,
} from "../lib/sender_key.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const vectors = JSON.parse(
  await readFile(new URL("../../tests/vectors/groups.json", import.meta.url), "utf8"),
);
const { setup } = vectors;
const groupId = hexDecode(setup.group_id);
const moderatorKey = hexDecode(setup.moderator_key);

function rosterFromFields(fields) {
  return {
    groupId: hexDecode(fields.group_id),
    version: fields.version,
    flags: fields.flags,
    maxMembers: fields.max_members,
    moderators: fields.moderators.map(hexDecode),
    entries: fields.entries.map((entry) => ({
      memberKey: hexDecode(entry.member_key),
      state: entry.state,
      since: entry.since,
      nameCommitment: hexDecode(entry.name_commitment),
    })),
  };
}

const signedRoster = (name) =>
  hexDecode(setup.rosters.find((roster) => roster.name === name).signed);
const heldRoster = (name) => {
  const signed = signedRoster(name);
  return decodeRoster(signed.slice(0, signed.length - 64));
};

test("rosters encode, sign and verify byte for byte", () => {
  for (const vector of setup.rosters) {
    const roster = rosterFromFields(vector.fields);
    assert.equal(hexEncode(encodeRoster(roster)), vector.encoded);
    assert.deepEqual(decodeRoster(hexDecode(vector.encoded)), roster);
    const signed = signRoster(hexDecode(setup.moderator_seed), roster);
    assert.equal(hexEncode(signed), vector.signed, vector.name);
    assert.deepEqual(verifyFirstRoster(signed, groupId, moderatorKey), roster);
  }
  for (const member of Object.values(setup.members)) {
    const commitment = nameCommitment(
      groupId,
      hexDecode(member.member_key),
      member.display_name,
      hexDecode(member.name_salt),
    );
    assert.equal(hexEncode(commitment), member.name_commitment);
  }
});

test("forged rosters are refused with their error", () => {
  assert.ok(vectors.roster_invalid.length > 0);
  for (const vector of vectors.roster_invalid) {
    const signed = hexDecode(vector.signed);
    const attempt =
      vector.held === null
        ? () => verifyFirstRoster(signed, groupId, moderatorKey)
        : () => verifyNextRoster(signed, heldRoster(vector.held));
    assert.throws(attempt, errorForCode(vector.error), vector.name);
  }
});

test("tombstones verify against the moderators of the roster", () => {
  for (const vector of vectors.tombstones) {
    const roster = heldRoster(vector.roster);
    const signed = hexDecode(vector.signed);
    if (vector.error === null) {
      const tombstone = verifyTombstone(signed, roster);
      assert.equal(hexEncode(tombstone.senderKey), vector.sender_key);
      assert.equal(tombstone.iteration, vector.iteration);
    } else {
      assert.throws(() => verifyTombstone(signed, roster), errorForCode(vector.error), vector.name);
    }
  }
});

function runStep(states, produced, event) {
  const member = setup.members[event.actor];
  const state = states.get(event.actor);
  switch (event.action) {
    case "join":
      states.set(
        event.actor,
        join(signedRoster(event.roster), groupId, moderatorKey, hexDecode(member.seed)),
      );
      return;
    case "accept_roster":
      states.set(event.actor, acceptRoster(state, signedRoster(event.roster)));
      return;
    case "create_sender_key": {
      const next = createSenderKey(state, event.now, {
        signingSeed: hexDecode(event.signing_seed),
        chainKey: hexDecode(event.chain_key),
      });
      assert.equal(hexEncode(next.own.senderKey), event.sender_key);
      states.set(event.actor, next);
      return;
    }
    case "distribute": {
      const bytes = distributionMessage(state, member.display_name, hexDecode(member.name_salt));
      assert.equal(hexEncode(bytes), event.message);
      assert.deepEqual(recipients(state).map(hexEncode), event.recipients);
      produced.set(event.label, bytes);
      return;
    }
    case "receive_distribution":
      states.set(event.actor, processDistribution(state, hexDecode(event.message)));
      return;
    case "encrypt": {
      const { state: next, message } = groupEncrypt(state, utf8Encode(event.payload));
      assert.equal(hexEncode(message), event.message);
      states.set(event.actor, next);
      return;
    }
    case "decrypt": {
      const { state: next, plaintext } = groupDecrypt(state, hexDecode(event.message));
      assert.equal(utf8Decode(plaintext.payload), event.payload);
      assert.equal(hexEncode(plaintext.memberKey), event.member_key);
      assert.equal(plaintext.iteration, event.iteration);
      states.set(event.actor, next);
      return;
    }
    case "needs_rotation":
      assert.equal(needsRotation(state, event.now), event.result);
      return;
    default:
      throw new Error(`unknown action ${event.action}`);
  }
}

test("the group conversation replays event by event, failures changing nothing", () => {
  const states = new Map();
  const produced = new Map();
  assert.ok(vectors.events.length > 50);
  for (const event of vectors.events) {
    const before = states.get(event.actor);
    const snapshot = before === undefined ? undefined : structuredClone(before);
    if (event.error === null) {
      runStep(states, produced, event);
    } else {
      assert.throws(
        () => runStep(states, produced, event),
        errorForCode(event.error),
        `step ${event.step}`,
      );
      assert.equal(states.get(event.actor), before);
      assert.deepEqual(before, snapshot);
    }
    const current = states.get(event.actor);
    assert.equal(
      current === undefined ? null : hexEncode(encodeGroupState(current)),
      event.state,
      `state after step ${event.step}`,
    );
    if (current !== undefined) {
      assert.deepEqual(decodeGroupState(hexDecode(event.state)), current);
    }
  }
});

test("invalid group states are refused with their error", () => {
  assert.ok(vectors.state_invalid.length > 0);
  for (const vector of vectors.state_invalid) {
    assert.throws(
      () => decodeGroupState(hexDecode(vector.hex)),
      errorForCode(vector.error),
      vector.name,
    );
  }
});
