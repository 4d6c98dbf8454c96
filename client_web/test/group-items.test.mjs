// The web client's group logic (app/group_items.js) with real keys, no server:
// the same cases as tests/client/test_group_items.py. A moderator creates a
// group, clients ask to join under fresh member keys, sender keys travel over
// pairwise sessions between member keys, and every roster is verified first.
import assert from "node:assert/strict";
import test from "node:test";

import * as groups from "../app/group_items.js";
import {
  MEMBER_LEFT,
  MEMBER_MUTED,
  MEMBER_REMOVED,
  SENDER_KEY_ROTATE_SECONDS,
} from "../lib/constants.js";
import { b64uDecode, b64uEncode, bytesEqual, utf8Decode, utf8Encode } from "../lib/encoding.js";
import {
  MalformedError,
  MissingSenderKeyError,
  NotAMemberError,
  RosterRollbackError,
  StaleSenderKeyError,
} from "../lib/errors.js";
import { parseGroupMessage } from "../lib/group_message.js";
import { generateIdentitySeed, identityFromSeed } from "../lib/keys.js";
import { decodePayload, encodeGroupKey } from "../lib/payload.js";
import { currentUpload } from "../lib/prekeys.js";
import { loadSodium } from "../lib/sodium.js";

await loadSodium();
const NOW = 1_800_000_000;
const LISTING = { name: "Evening circle", description: "Peer support", rules: "Be kind." };

// The bundle the server hands out for a member key (docs/API.md, Groups).
function bundleOf(item) {
  const upload = currentUpload(groups.memberIdentity(item), item.prekeys);
  const key = b64uEncode(groups.memberKeyOf(item));
  return groups.sessionBundle(groups.groupIdOf(item), {
    member_key: key,
    identity_key: key,
    signed_prekey: upload.signed_prekey,
    pq_prekey: upload.pq_prekey,
    one_time_prekey: null,
  });
}

class Party {
  constructor(names) {
    this.moderator = identityFromSeed(generateIdentitySeed());
    this.items = new Map();
    const created = groups.createGroup(this.moderator, { listing: LISTING, name: "Ana", now: NOW });
    this.items.set("mod", created.item);
    this.rosters = [created.signed];
    for (const name of names) this.join(name);
  }

  applicant(name) {
    return groups.newItem({
      groupId: groups.groupIdOf(this.items.get("mod")),
      role: "member",
      moderatorKey: this.moderator.publicKey,
      listing: LISTING,
      name,
      now: NOW,
    });
  }

  join(name) {
    const item = this.applicant(name);
    const request = decodePayload(groups.joinRequest(item, "It's me, from Tuesdays"));
    const mod = groups.addRequest(this.items.get("mod"), request);
    const signed = groups.admit(this.moderator, mod, groups.findRequest(mod, request.member_key));
    this.items.set("mod", groups.dropRequest(mod, request.member_key, true));
    this.items.set(name, item);
    this.publish(signed);
  }

  publish(signed) {
    this.rosters.push(signed);
    let events = [];
    for (const [name, item] of this.items) {
      const accepted = groups.acceptRoster(item, signed);
      this.items.set(name, accepted.item);
      events = accepted.events;
    }
    return events;
  }

  nameOf(key) {
    return [...this.items].find(([, item]) => bytesEqual(groups.memberKeyOf(item), key))[0];
  }

  rotate(name) {
    const rotated = groups.rotateIfDue(this.items.get(name), NOW);
    assert.ok(rotated.distribution);
    this.items.set(name, rotated.item);
    for (const key of groups.recipients(rotated.item)) {
      const other = this.nameOf(key);
      const sealed = groups.sealPairwise(
        this.items.get(name),
        key,
        encodeGroupKey(rotated.distribution),
        bundleOf(this.items.get(other)),
      );
      this.items.set(name, sealed.item);
      const opened = groups.openMemberEnvelope(
        this.items.get(other),
        groups.memberKeyOf(sealed.item),
        sealed.envelope,
      );
      assert.ok(bytesEqual(opened.peer, groups.memberKeyOf(sealed.item)));
      this.items.set(
        other,
        groups.receiveDistribution(opened.item, b64uDecode(opened.payload.key)),
      );
    }
  }

  send(name, text) {
    const sent = groups.encrypt(this.items.get(name), utf8Encode(text));
    this.items.set(name, sent.item);
    return sent.message;
  }

  read(name, message) {
    const opened = groups.decrypt(this.items.get(name), message);
    this.items.set(name, opened.item);
    return utf8Decode(opened.plaintext.payload);
  }
}

const kinds = (events) => events.map((e) => [e.kind, b64uEncode(e.memberKey)]);

test("a join request carries a fresh member key and the name, not the account", () => {
  const party = new Party([]);
  const item = party.applicant("Sam");
  const other = party.applicant("Sam");
  const request = decodePayload(groups.joinRequest(item, ""));
  assert.equal(request.member_key, b64uEncode(groups.memberKeyOf(item)));
  assert.ok(!bytesEqual(groups.memberKeyOf(item), groups.memberKeyOf(other)));
  assert.equal(item.status, "requested");
  assert.equal(item.state, null);
});

test("members exchange messages and see joins from the signed roster", () => {
  const party = new Party(["sam", "kim"]);
  assert.equal(party.items.get("sam").status, "member");
  for (const name of ["mod", "sam", "kim"]) party.rotate(name);
  const message = party.send("sam", "hello all");
  assert.equal(party.read("mod", message), "hello all");
  assert.equal(party.read("kim", message), "hello all");
  const sam = groups.memberKeyOf(party.items.get("sam"));
  assert.equal(groups.displayName(party.items.get("kim"), sam), "sam");
  assert.equal(groups.displayName(party.items.get("mod"), sam), "sam");
  const late = party.applicant("Lee");
  const mod = groups.addRequest(
    party.items.get("mod"),
    decodePayload(groups.joinRequest(late, "")),
  );
  const signed = groups.admit(party.moderator, mod, mod.requests.at(-1));
  const { events } = groups.acceptRoster(party.items.get("kim"), signed);
  assert.deepEqual(kinds(events), [["joined", b64uEncode(groups.memberKeyOf(late))]]);
});

test("a removal rotates keys and the removed member reads nothing new", () => {
  const party = new Party(["sam", "kim", "lee"]);
  for (const name of ["mod", "sam", "kim", "lee"]) party.rotate(name);
  const lee = groups.memberKeyOf(party.items.get("lee"));
  const events = party.publish(
    groups.setMemberState(party.moderator, party.items.get("mod"), lee, MEMBER_REMOVED),
  );
  assert.deepEqual(kinds(events), [["removed", b64uEncode(lee)]]);
  assert.equal(party.items.get("lee").status, "removed");
  assert.throws(() => party.send("sam", "too early"), StaleSenderKeyError);
  party.rotate("sam");
  const message = party.send("sam", "after removal");
  assert.equal(party.read("kim", message), "after removal");
  assert.throws(() => groups.decrypt(party.items.get("lee"), message), MissingSenderKeyError);
  assert.ok(!groups.recipients(party.items.get("sam")).some((k) => bytesEqual(k, lee)));
});

test("an older roster is refused and the newer kept", () => {
  const party = new Party(["sam"]);
  const sam = party.items.get("sam");
  assert.throws(() => groups.acceptRoster(sam, party.rosters[0]), RosterRollbackError);
  assert.equal(groups.heldRoster(sam).version, party.rosters.length);
});

test("a roster not signed by the moderator is refused", () => {
  const party = new Party(["sam"]);
  const impostor = identityFromSeed(generateIdentitySeed());
  const forged = groups.setPaused(impostor, party.items.get("mod"), true);
  assert.throws(() => groups.acceptRoster(party.items.get("sam"), forged), MalformedError);
});

test("a member the server adds is flagged and gets nothing", () => {
  const party = new Party(["sam"]);
  let intruder = party.applicant("Eve");
  const intruderKey = groups.memberKeyOf(intruder);
  const listed = [groups.memberKeyOf(party.items.get("sam")), intruderKey];
  assert.deepEqual(groups.unexpectedMembers(party.items.get("sam"), listed), [intruderKey]);
  party.rotate("sam");
  assert.ok(!groups.recipients(party.items.get("sam")).some((k) => bytesEqual(k, intruderKey)));
  const sealed = groups.sealPairwise(
    intruder,
    groups.memberKeyOf(party.items.get("sam")),
    encodeGroupKey(new Uint8Array(10)),
    bundleOf(party.items.get("sam")),
  );
  assert.throws(
    () => groups.openMemberEnvelope(party.items.get("sam"), null, sealed.envelope),
    NotAMemberError,
  );
  intruder = groups.acceptRoster(intruder, party.rosters.at(-1)).item;
  assert.equal(intruder.status, "requested");
  assert.equal(intruder.state, null);
  assert.throws(() => groups.decrypt(intruder, party.send("sam", "private")), NotAMemberError);
});

test("a muted member reads but cannot send, and leaving is shown", () => {
  const party = new Party(["sam", "kim"]);
  for (const name of ["mod", "sam", "kim"]) party.rotate(name);
  const kim = groups.memberKeyOf(party.items.get("kim"));
  let events = party.publish(
    groups.setMemberState(party.moderator, party.items.get("mod"), kim, MEMBER_MUTED),
  );
  assert.deepEqual(kinds(events), [["muted", b64uEncode(kim)]]);
  assert.equal(party.read("kim", party.send("sam", "still here")), "still here");
  assert.throws(() => party.send("kim", "me too"), NotAMemberError);
  const sam = groups.memberKeyOf(party.items.get("sam"));
  events = party.publish(
    groups.setMemberState(party.moderator, party.items.get("mod"), sam, MEMBER_LEFT),
  );
  assert.deepEqual(kinds(events), [["left", b64uEncode(sam)]]);
  assert.equal(party.items.get("sam").status, "left");
});

test("a tombstone from the moderator verifies and a forged one does not", () => {
  const party = new Party(["sam"]);
  party.rotate("sam");
  const { header } = parseGroupMessage(party.send("sam", "remove me"));
  const signed = groups.tombstone(
    party.moderator,
    party.items.get("mod"),
    header.senderKey,
    header.iteration,
  );
  const stone = groups.verifyTombstone(party.items.get("sam"), signed);
  assert.ok(bytesEqual(stone.senderKey, header.senderKey));
  assert.equal(stone.iteration, header.iteration);
  const impostor = identityFromSeed(generateIdentitySeed());
  const forged = groups.tombstone(impostor, party.items.get("mod"), header.senderKey, 0);
  assert.throws(() => groups.verifyTombstone(party.items.get("sam"), forged), MalformedError);
});

test("sender keys rotate on the timer", () => {
  const party = new Party(["sam"]);
  party.rotate("sam");
  const item = party.items.get("sam");
  assert.equal(groups.rotateIfDue(item, NOW + SENDER_KEY_ROTATE_SECONDS - 1).distribution, null);
  const rotated = groups.rotateIfDue(item, NOW + SENDER_KEY_ROTATE_SECONDS);
  assert.ok(rotated.distribution);
  const before = groups.stateOfItem(item).own.senderKey;
  const after = groups.stateOfItem(rotated.item).own.senderKey;
  assert.ok(!bytesEqual(before, after));
});
