// The web client's groups (app/groups.js) against fake servers: a therapist
// hosts a group, two clients ask to join and are admitted, everyone writes;
// a removal rotates every key and the removed client opens nothing new with
// its own keys; a tombstone removes a message everywhere; a member the server
// routes to on its own receives nothing readable and the others are warned.
import assert from "node:assert/strict";
import test from "node:test";

import * as items from "../app/group_items.js";
import {
  acceptListing,
  groupItem,
  isPaused,
  loadListedGroups,
  members,
  reports,
  timeline,
  WARN_UNLISTED,
} from "../app/groups.js";
import { b64uDecode, b64uEncode, utf8Encode } from "../lib/encoding.js";
import { MalformedError, MissingSenderKeyError, NotAMemberError } from "../lib/errors.js";
import { encodeGroupKey } from "../lib/payload.js";
import { signGroupListing } from "../lib/signatures.js";
import { newAccount, openDevice } from "../testing/fakes.mjs";
import { GroupHub } from "../testing/group_hub.mjs";

const FIELDS = { name: "Evening circle", description: "Peer support", rules: "Be kind." };

const texts = (device, group) =>
  timeline(device.vault, group)
    .filter((item) => item.data.kind === "group_message" && !item.data.removed)
    .map((item) => item.data.body);

const eventsOf = (device, group) =>
  timeline(device.vault, group)
    .filter((item) => item.data.kind === "group_event")
    .map((item) => `${item.data.name} ${item.data.event}`);

const itemOf = (device, group) => groupItem(device.vault, group).data;

async function hostedGroup() {
  const hub = new GroupHub();
  const mod = hub.attach(await openDevice(newAccount()));
  const sam = hub.attach(await openDevice(newAccount()));
  const kim = hub.attach(await openDevice(newAccount()));
  const group = await mod.groups.createGroup({ fields: FIELDS, name: "Ana" });
  await sam.groups.requestJoin({ group, name: "Sam", note: "From Tuesdays" });
  await kim.groups.requestJoin({ group, name: "Kim" });
  await hub.deliver();
  const requests = itemOf(mod, group).requests;
  assert.deepEqual(
    requests.map((r) => [r.name, r.note]),
    [
      ["Sam", "From Tuesdays"],
      ["Kim", ""],
    ],
  );
  for (const request of requests) await mod.groups.admit(group, request.member_key);
  await hub.deliver();
  return { hub, mod, sam, kim, group };
}

test("members join from the signed listing, talk, and see joins from the roster", async () => {
  const { hub, mod, sam, kim, group } = await hostedGroup();
  assert.equal(itemOf(sam, group).status, "member");
  await sam.groups.sendText(group, "Hello everyone");
  await kim.groups.sendText(group, "Hi Sam");
  await mod.groups.sendText(group, "Welcome");
  await hub.deliver();
  for (const device of [mod, sam, kim]) {
    assert.deepEqual(
      new Set(texts(device, group)),
      new Set(["Hello everyone", "Hi Sam", "Welcome"]),
    );
  }
  assert.ok(eventsOf(sam, group).includes("Kim joined"));
  assert.deepEqual(eventsOf(kim, group), ["Kim joined"]);
  assert.deepEqual(
    members(itemOf(kim, group))
      .map((m) => [m.name, m.state])
      .sort(),
    [
      ["Ana", "member"],
      ["Kim", "member"],
      ["Sam", "member"],
    ],
  );
});

test("a removed member reads nothing sent after the removal, from its own keys", async () => {
  const { hub, mod, sam, kim, group } = await hostedGroup();
  await sam.groups.sendText(group, "Before");
  await hub.deliver();
  assert.ok(texts(kim, group).includes("Before"));
  const kimKey = members(itemOf(mod, group)).find((m) => m.name === "Kim").memberKey;
  await mod.groups.setMember(group, kimKey, "remove");
  await hub.deliver();
  assert.equal(itemOf(kim, group).status, "removed");
  assert.ok(eventsOf(sam, group).includes("Kim removed"));
  await sam.groups.sendText(group, "After");
  const stream = hub.groups.get(group).stream;
  const after = b64uDecode(stream.filter((i) => i.kind === "message").at(-1).body);
  await hub.deliver();
  assert.ok(texts(mod, group).includes("After"));
  assert.ok(!texts(kim, group).includes("After"));
  assert.throws(
    () => items.decrypt(itemOf(kim, group), after),
    (error) => error instanceof MissingSenderKeyError || error instanceof NotAMemberError,
  );
});

test("a moderator's removal and a member's report", async () => {
  const { hub, mod, sam, kim, group } = await hostedGroup();
  const id = await sam.groups.sendText(group, "Something I regret");
  await hub.deliver();
  await kim.groups.report(group, id, "It names someone");
  await hub.deliver();
  assert.match(reports(mod.vault, group)[0].data.body, /It names someone/);
  await mod.groups.removeMessage(group, id);
  await hub.deliver();
  for (const device of [mod, sam, kim]) {
    assert.ok(!texts(device, group).includes("Something I regret"));
  }
});

test("a member the server routes to on its own gets nothing readable, and others are warned", async () => {
  const { hub, sam, group } = await hostedGroup();
  const eve = hub.attach(await openDevice(newAccount()));
  // The server adds Eve on its own: a registered key, routed to, never in the roster.
  await eve.groups.requestJoin({ group, name: "Eve" });
  await hub.deliver();
  const eveItem = itemOf(eve, group);
  const eveKey = b64uEncode(items.memberKeyOf(eveItem));
  const forged = hub.groups.get(group);
  const routing = hub.routing.bind(hub);
  hub.routing = (g) => (g === forged ? new Set([...routing(g), eve.account.account]) : routing(g));
  await sam.groups.sendText(group, "Private words");
  await hub.deliver();
  assert.ok(!texts(eve, group).includes("Private words"));
  assert.notEqual(itemOf(eve, group).status, "member");
  // Nobody seals a sender key to Eve's member key.
  assert.ok(![...hub.queues.values()].flat().some((frame) => frame.to_key === eveKey));
  // Eve writes to Sam's member key as if a member: Sam refuses it and is warned.
  const samKey = items.memberKeyOf(itemOf(sam, group));
  const sealed = items.sealPairwise(
    eveItem,
    samKey,
    encodeGroupKey(new Uint8Array(10)),
    items.sessionBundle(items.groupIdOf(eveItem), {
      account: group,
      identity_key: b64uEncode(samKey),
      signed_prekey: hub.keys.get(b64uEncode(samKey)).upload.signed_prekey,
      pq_prekey: hub.keys.get(b64uEncode(samKey)).upload.pq_prekey,
      one_time_prekey: null,
    }),
  );
  hub.queues.get(sam.account.account).push({
    type: "envelope",
    id: "forged",
    group,
    from_key: eveKey,
    to_key: b64uEncode(samKey),
    env: b64uEncode(sealed.envelope),
  });
  await hub.deliver();
  assert.ok(itemOf(sam, group).warnings.includes(WARN_UNLISTED));
});

test("muting stops a member writing; leaving is signed into the roster", async () => {
  const { hub, mod, sam, kim, group } = await hostedGroup();
  const kimKey = members(itemOf(mod, group)).find((m) => m.name === "Kim").memberKey;
  await mod.groups.setMember(group, kimKey, "mute");
  await hub.deliver();
  assert.ok(eventsOf(kim, group).includes("Kim muted"));
  await assert.rejects(kim.groups.sendText(group, "Let me"), NotAMemberError);
  await sam.groups.leave(group);
  // The server tells the moderator live; its device signs the departure.
  await hub.deliver();
  assert.ok(eventsOf(kim, group).includes("Sam left"));
  assert.equal(itemOf(sam, group).status, "left");
});

test("a pause refuses members' messages and drops them; decline, rules, muting for oneself", async () => {
  const { hub, mod, sam, kim, group } = await hostedGroup();
  await mod.groups.setPaused(group, true);
  await hub.deliver();
  assert.ok(isPaused(itemOf(sam, group)));
  await assert.rejects(sam.groups.sendText(group, "Anyone?"), (e) => e.code === "group_paused");
  assert.ok(!texts(sam, group).includes("Anyone?"), "nothing was sent, so nothing is kept");
  await mod.groups.setPaused(group, false);
  await hub.deliver();
  await sam.groups.sendText(group, "Back again");
  await hub.deliver();
  assert.ok(texts(kim, group).includes("Back again"));

  await mod.groups.editListing(group, { rules: "Be kind. No names." });
  const request = (method, path, options) =>
    hub.request(sam.account.account, method, path, options);
  const listed = await loadListedGroups(request, () => "token");
  assert.equal(listed.find((g) => g.group === group).listing.rules, "Be kind. No names.");

  const lee = hub.attach(await openDevice(newAccount()));
  await lee.groups.requestJoin({ group, name: "Lee" });
  await hub.deliver();
  const [asked] = itemOf(mod, group).requests;
  await mod.groups.decline(group, asked.member_key, "Full this month.");
  await hub.deliver();
  assert.equal(itemOf(lee, group).status, "declined");
  assert.equal(itemOf(lee, group).declined, "Full this month.");

  await kim.groups.setMuted(group, true);
  assert.equal(itemOf(kim, group).muted, true);
});

test("an invite-only group is joined by its id, its host trusted from the directory", async () => {
  const hub = new GroupHub();
  const mod = hub.attach(await openDevice(newAccount()));
  const sam = hub.attach(await openDevice(newAccount()));
  const group = await mod.groups.createGroup({
    fields: { name: "Closed circle" },
    name: "Ana",
    inviteOnly: true,
  });
  assert.equal(hub.groups.get(group).listing, null, "no listing reaches the server");
  const directory = [{ account: mod.account.account, identityKey: mod.account.identity.publicKey }];
  await sam.groups.requestJoin({ group, name: "Sam", directory });
  await hub.deliver();
  const [asked] = itemOf(mod, group).requests;
  await mod.groups.admit(group, asked.member_key);
  await hub.deliver();
  await sam.groups.pull(group);
  // Name and rules reach Sam end to end encrypted, signed by the moderator (PROTOCOL.md 15.9).
  assert.equal(itemOf(sam, group).listing.name, "Closed circle");
  await sam.groups.sendText(group, "Thank you for the invitation");
  await hub.deliver();
  assert.ok(texts(mod, group).includes("Thank you for the invitation"));
  await mod.groups.editListing(group, { rules: "Invited only." });
  await hub.deliver();
  assert.equal(itemOf(sam, group).listing.rules, "Invited only.");
  assert.equal(hub.groups.get(group).listing, null, "still no listing on the server");
  // A listing signed by anyone but a moderator of the roster is refused.
  const forged = utf8Encode(JSON.stringify({ group, name: "Renamed", max_members: 50 }));
  assert.throws(
    () =>
      acceptListing(itemOf(sam, group), {
        listing: b64uEncode(forged),
        sig: b64uEncode(signGroupListing(sam.account.identity, forged)),
      }),
    MalformedError,
  );
  const stranger = hub.attach(await openDevice(newAccount()));
  await assert.rejects(stranger.groups.requestJoin({ group, name: "Eve", directory: [] }));
});

test("a co-moderator takes up the group, moderates, and can be named off", async () => {
  const { hub, mod, sam, kim, group } = await hostedGroup();
  const bo = hub.attach(await openDevice(newAccount()));
  const therapistOf = (device) => ({
    account: device.account.account,
    identityKey: device.account.identity.publicKey,
  });
  const directory = [therapistOf(mod), therapistOf(bo)];
  await mod.groups.setCoModerator(group, therapistOf(bo));
  await hub.deliver();
  // Routed to Bo before he takes it up: no warning, an offer.
  assert.ok(!hub.updates.some((u) => u.account === bo.account.account && u.kind === "warning"));
  assert.deepEqual(await bo.groups.moderationOffers(), [group]);
  await bo.groups.takeUpModeration({ group, name: "Bo", directory });
  await hub.deliver();
  assert.deepEqual(await bo.groups.moderationOffers(), []);
  assert.equal(itemOf(bo, group).role, "moderator");
  assert.equal(itemOf(bo, group).status, "member");
  assert.equal(itemOf(bo, group).listing.name, "Evening circle");
  const moderators = items.heldRoster(itemOf(sam, group)).moderators.map((k) => b64uEncode(k));
  assert.deepEqual(
    new Set(moderators),
    new Set([mod, bo].map((d) => b64uEncode(d.account.identity.publicKey))),
  );

  await bo.groups.sendText(group, "Hello, I co-moderate");
  const id = await sam.groups.sendText(group, "Welcome Bo");
  await hub.deliver();
  for (const device of [mod, sam, kim]) {
    assert.ok(texts(device, group).includes("Hello, I co-moderate"));
  }
  assert.ok(texts(bo, group).includes("Welcome Bo"));

  // Rosters and removals Bo signs are honoured by every member.
  const kimKey = members(itemOf(bo, group)).find((m) => m.name === "Kim").memberKey;
  await bo.groups.setMember(group, kimKey, "mute");
  await hub.deliver();
  assert.ok(eventsOf(kim, group).includes("Kim muted"));
  await bo.groups.setPaused(group, true);
  await hub.deliver();
  assert.ok(isPaused(itemOf(sam, group)));
  await bo.groups.setPaused(group, false);
  await bo.groups.removeMessage(group, id);
  await hub.deliver();
  for (const device of [mod, sam, kim, bo]) {
    assert.ok(!texts(device, group).includes("Welcome Bo"));
  }

  // A request reaches both moderators; Bo admits, and the host's copy goes.
  const lee = hub.attach(await openDevice(newAccount()));
  await lee.groups.requestJoin({ group, name: "Lee", note: "Bo knows me", directory });
  await hub.deliver();
  for (const device of [mod, bo]) {
    assert.deepEqual(
      itemOf(device, group).requests.map((r) => r.note),
      ["Bo knows me"],
    );
  }
  await bo.groups.admit(group, itemOf(bo, group).requests[0].member_key);
  await hub.deliver();
  assert.equal(itemOf(lee, group).status, "member");
  assert.deepEqual(itemOf(mod, group).requests, []);
  // A report reaches both, privately.
  const reported = await bo.groups.sendText(group, "A message to report");
  await hub.deliver();
  await lee.groups.report(group, reported, "Testing reports");
  await hub.deliver();
  for (const device of [mod, bo]) {
    assert.match(reports(device.vault, group)[0].data.body, /Testing reports/);
  }

  // The host, who has not seen Bo's last rosters yet, signs on top of them.
  await mod.groups.setCoModerator(group, therapistOf(bo), false);
  await hub.deliver();
  assert.equal(itemOf(bo, group).role, "member");
  await assert.rejects(bo.groups.setPaused(group, true));
  await sam.groups.sendText(group, "Still here");
  await hub.deliver();
  assert.ok(texts(bo, group).includes("Still here"));
});
