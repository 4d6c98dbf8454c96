// Peer-support groups over the server (twin of client_py/groups.py;
// docs/API.md "Groups"). The protocol work is app/group_items.js's; this
// module moves its bytes to and from the server and commits every change to
// the `group` item together with what caused it:
//
// - a stream item (roster, message, tombstone) is acknowledged with the vault
//   writes it causes (`group_ack`), through retryOnConflict, so no message is
//   handled twice or lost;
// - envelopes between member keys (sender keys, join requests, declines,
//   reports) are sealed into the item's `outbox` and committed before any of
//   them leaves, then sent with their cmid, so a retry is stored once;
// - a signed roster is verified before anything is encrypted, and the events
//   a person sees ("X joined", "X was removed") come from it alone.
//
// Items the vault gains besides `group`: `group_message`, `group_event` and
// `group_report` (a member's private report, kept by the moderator).

import {
  ED25519_PUBLIC_KEY_BYTES,
  GROUP_LISTING_TEXT_CHARS,
  ID_BYTES,
  MAX_GROUP_LISTING_BYTES,
  MAX_GROUP_MEMBERS,
  MEMBER_ADMITTED,
  MEMBER_LEFT,
  MEMBER_MUTED,
  MEMBER_REMOVED,
  ROSTER_FLAG_INVITE_ONLY,
  ROSTER_FLAG_PAUSED,
} from "../lib/constants.js";
import { b64uDecode, b64uEncode, utf8Encode } from "../lib/encoding.js";
import {
  MalformedError,
  MissingSenderKeyError,
  NotAMemberError,
  ProtocolError,
  RosterOutdatedError,
  StaleSenderKeyError,
} from "../lib/errors.js";
import { parseGroupMessage } from "../lib/group_message.js";
import { rosterEntry, stateOf } from "../lib/group_roster.js";
import { decodePayload, encodeGroupKey, encodeGroupListing, encodeText } from "../lib/payload.js";
import { needsRotation } from "../lib/sender_key.js";
import { startSession } from "../lib/session.js";
import { signGroupListing, verifyGroupListing } from "../lib/signatures.js";
import { ComposeError } from "./errors.js";
import * as items from "./group_items.js";
import { newId, nowSeconds } from "./ids.js";
import { checkBody } from "./sender.js";
import { retryOnConflict, toWire } from "./vaultstore.js";
import { describe } from "./wording.js";

// Refusals of a group message that waiting does not change: it is dropped.
const FINAL_SEND_REFUSALS = new Set([
  "group_paused",
  "muted",
  "not_a_member",
  "malformed",
  "too_large",
  "not_found",
  "forbidden",
]);
// Stream ids remembered per group, so an item seen twice is handled once.
export const HANDLED_KEPT = 500;
// Group messages that wait for their sender's key (it travels on another path).
export const PENDING_KEPT = 200;

export const EVENT_WORDS = {
  joined: (name) => `${name} joined`,
  left: (name) => `${name} left`,
  removed: (name) => `${name} was removed`,
  muted: (name) => `${name} was muted by the moderator`,
  unmuted: (name) => `${name} can write again`,
};
export const WARN_UNLISTED =
  "Someone the moderator did not admit tried to reach you in this group. Nothing was shared with them.";
export const WARN_UNREADABLE =
  "A group message came under a key no listed member shared with you. It was not opened.";
export const WARN_NOT_MEMBER =
  "The server delivered messages of a group this account is not a member of. They were not opened.";

export const STATUS_WORDS = {
  requested: "Request sent; waiting for the moderator",
  member: "Member",
  declined: "Request declined",
  left: "You left",
  removed: "You were removed",
};

export function eventText(event) {
  const words = EVENT_WORDS[event.event];
  return words ? words(event.name || "A member") : `${event.name}: the member list changed`;
}

// The listing's bytes as signed, after the limits the server applies.
export function listingBytes(listing) {
  for (const [name, limit] of Object.entries(GROUP_LISTING_TEXT_CHARS)) {
    const value = listing[name] ?? "";
    if (typeof value !== "string" || [...value].length > limit) {
      throw new ComposeError(`The group's ${name} must be at most ${limit} characters.`);
    }
  }
  if (!String(listing.name ?? "").trim()) throw new ComposeError("A group needs a name.");
  const bytes = utf8Encode(JSON.stringify(listing));
  if (bytes.length > MAX_GROUP_LISTING_BYTES) {
    throw new ComposeError("The group's description and rules are too long together.");
  }
  return bytes;
}

// An open group of the directory whose signed listing verifies, or null.
export function verifiedListing(entry) {
  try {
    const key = b64uDecode(entry.identity_key, { length: ED25519_PUBLIC_KEY_BYTES });
    const bytes = b64uDecode(entry.listing);
    verifyGroupListing(key, bytes, b64uDecode(entry.sig));
    const listing = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    if (!listing || typeof listing !== "object" || listing.group !== entry.group) return null;
    b64uDecode(entry.moderator, { length: ID_BYTES });
    return {
      group: entry.group,
      moderator: entry.moderator,
      identityKey: entry.identity_key,
      listing,
    };
  } catch {
    return null;
  }
}

// A private group's listing from a `group_listing` payload (PROTOCOL.md 15.9),
// held once a moderator of the signed roster signed it; else MalformedError.
export function acceptListing(value, payload) {
  const bytes = b64uDecode(payload.listing, { maxLength: MAX_GROUP_LISTING_BYTES });
  const sig = b64uDecode(payload.sig);
  const state = items.stateOfItem(value);
  const moderators =
    state === null
      ? [b64uDecode(value.moderator_key, { length: ED25519_PUBLIC_KEY_BYTES })]
      : state.roster.moderators;
  const signedBy = moderators.some((key) => {
    try {
      verifyGroupListing(key, bytes, sig);
      return true;
    } catch {
      return false;
    }
  });
  if (!signedBy) throw new MalformedError("The group's listing is not signed by its moderator.");
  let listing;
  try {
    listing = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new MalformedError("The group's listing is not JSON.");
  }
  if (!listing || typeof listing !== "object" || listing.group !== value.group) {
    throw new MalformedError("The listing names another group.");
  }
  try {
    listingBytes(listing);
  } catch (error) {
    throw new MalformedError(error.message);
  }
  return { ...value, listing };
}

const timelineOrder = (a, b) => (a.data.seq ?? 0) - (b.data.seq ?? 0);

export function groupItem(vault, group) {
  return vault.find("group", (data) => data.group === group);
}

// An event's name is looked up again: a member's name arrives with its
// sender key, often after the roster that admitted it.
export function timeline(vault, group) {
  const value = groupItem(vault, group)?.data;
  const named = (item) => {
    const name = value ? items.displayName(value, b64uDecode(item.data.member)) : items.UNNAMED;
    return name === items.UNNAMED ? item : { ...item, data: { ...item.data, name } };
  };
  return [
    ...vault.list("group_message").filter((item) => item.data.group === group),
    ...vault
      .list("group_event")
      .filter((item) => item.data.group === group)
      .map(named),
  ].sort(timelineOrder);
}

export function reports(vault, group) {
  return vault
    .list("group_report")
    .filter((item) => item.data.group === group)
    .sort(timelineOrder);
}

const ENTRY_STATES = {
  [MEMBER_ADMITTED]: "member",
  [MEMBER_MUTED]: "muted",
  [MEMBER_LEFT]: "left",
  [MEMBER_REMOVED]: "removed",
};

// The signed member list as this device verified it.
export function members(value) {
  const roster = items.heldRoster(value);
  const own = b64uEncode(items.memberKeyOf(value));
  return roster.entries.map((entry) => ({
    memberKey: b64uEncode(entry.memberKey),
    name: items.displayName(value, entry.memberKey),
    state: ENTRY_STATES[entry.state],
    you: b64uEncode(entry.memberKey) === own,
  }));
}

export function isPaused(value) {
  const state = items.stateOfItem(value);
  return state !== null && (state.roster.flags & ROSTER_FLAG_PAUSED) !== 0;
}

function queue(value, envelope, route) {
  const entry = { cmid: newId(), env: b64uEncode(envelope), ...route };
  return { ...value, outbox: [...(value.outbox ?? []), entry] };
}

function nextSeq(value) {
  const seq = (value.seq ?? 0) + 1;
  return { value: { ...value, seq }, seq };
}

// `emit(group)` tells the views that a group changed; `onUpdate(update)`
// reports what a person should be told ({group, kind, text}).
export function createGroups({ identity, token, request, vault, conn, serial, emit, onUpdate }) {
  const api = (method, path, body) => request(method, path, { token: token(), body });
  const tell = (group, kind, text = "") => {
    const update = { group, kind, text };
    onUpdate?.(update);
    return update;
  };

  function itemOf(group) {
    const item = groupItem(vault, group);
    if (!item) throw new MalformedError("This account takes no part in that group.");
    return item;
  }

  async function commitChange(change) {
    await retryOnConflict(() => vault.commit(change()), vault.sync);
  }

  async function sendOutbox(group) {
    const item = groupItem(vault, group);
    const outbox = item?.data.outbox ?? [];
    if (outbox.length === 0) return;
    const done = new Set();
    for (const entry of outbox) {
      const frame = { type: "send", cmid: entry.cmid, env: entry.env };
      for (const field of ["to", "to_key", "from_key"]) {
        if (entry[field]) frame[field] = entry[field];
      }
      try {
        await conn.request(frame, entry.cmid);
      } catch (error) {
        // A member key that is gone (it left, or was removed) is no address.
        // `forbidden`: a co-moderator no longer named is no address either.
        if (!["not_found", "blocked", "forbidden"].includes(error?.code)) throw error;
      }
      done.add(entry.cmid);
    }
    await commitChange(() => {
      const current = itemOf(group);
      const rest = (current.data.outbox ?? []).filter((entry) => !done.has(entry.cmid));
      return [vault.write(current.id, { ...current.data, outbox: rest })];
    });
  }

  async function memberBundle(value, key) {
    const encoded = b64uEncode(key);
    const answer = await api("GET", `/api/groups/${value.group}/keys/${encoded}/bundle`);
    if (answer?.identity_key !== encoded) {
      throw new MalformedError("The server sent the keys of another member.");
    }
    return items.sessionBundle(items.groupIdOf(value), answer);
  }

  // This member's sender key, sealed to each of `to` over the pairwise sessions (15.3).
  function distribute(start, distribution, to) {
    return sealToMembers(start, encodeGroupKey(distribution), to);
  }

  // A moderator gives a private group's signed listing to members, end to end
  // encrypted (PROTOCOL.md 15.9): the server holds none and never learns its name.
  function shareListing(value, to) {
    const state = items.stateOfItem(value);
    const isPrivate = state !== null && (state.roster.flags & ROSTER_FLAG_INVITE_ONLY) !== 0;
    if (value.role !== "moderator" || !isPrivate || to.length === 0) return value;
    const bytes = listingBytes(value.listing ?? {});
    return sealToMembers(value, encodeGroupListing(bytes, signGroupListing(identity, bytes)), to);
  }

  async function sealToMembers(start, body, to) {
    let value = start;
    const own = b64uEncode(items.memberKeyOf(value));
    for (const key of to) {
      let bundle = null;
      if (!value.sessions?.[b64uEncode(key)]) {
        try {
          bundle = await memberBundle(value, key);
        } catch (error) {
          // Admitted but not registered yet: it fetches ours when it joins.
          if (error?.code === "not_found") continue;
          throw error;
        }
      }
      const sealed = items.sealPairwise(value, key, body, bundle);
      value = queue(sealed.item, sealed.envelope, { to_key: b64uEncode(key), from_key: own });
    }
    return value;
  }

  async function rotate(value) {
    const rotated = items.rotateIfDue(value, nowSeconds());
    if (rotated.distribution === null) return value;
    return distribute(rotated.item, rotated.distribution, items.recipients(rotated.item));
  }

  // A therapist moderates exactly while the signed roster names its identity
  // key; a co-moderator no longer named goes on as a member.
  function roleFromRoster(value) {
    const state = items.stateOfItem(value);
    if (state === null) return value;
    const own = b64uEncode(identity.publicKey);
    const named = state.roster.moderators.some((key) => b64uEncode(key) === own);
    return named === (value.role === "moderator")
      ? value
      : { ...value, role: named ? "moderator" : "member" };
  }

  async function adoptRoster(start, signed, writes) {
    const wasMember = start.status === "member";
    const accepted = items.acceptRoster(start, signed);
    let value = roleFromRoster(accepted.item);
    if (value.requests?.length) {
      // A request the other moderator answered with a roster is no longer waiting.
      const roster = items.heldRoster(value);
      const waiting = value.requests.filter(
        (r) => rosterEntry(roster, b64uDecode(r.member_key)) === null,
      );
      value = { ...value, requests: waiting };
    }
    const updates = [];
    for (const event of accepted.events) {
      const next = nextSeq(value);
      value = next.value;
      const data = {
        kind: "group_event",
        group: value.group,
        version: event.version,
        event: event.kind,
        member: b64uEncode(event.memberKey),
        name: items.displayName(value, event.memberKey),
        seq: next.seq,
      };
      writes.push(vault.write(null, data));
      updates.push(tell(value.group, "event", eventText(data)));
    }
    if (value.status !== "member") return { value, updates };
    const state = items.stateOfItem(value);
    if (!wasMember || needsRotation(state, nowSeconds())) {
      value = await rotate(value);
    } else {
      const own = b64uEncode(items.memberKeyOf(value));
      const joined = accepted.events
        .filter((e) => e.kind === "joined" && b64uEncode(e.memberKey) !== own)
        .map((e) => e.memberKey);
      if (joined.length > 0) value = await distribute(value, items.distributionOf(value), joined);
    }
    const own = b64uEncode(items.memberKeyOf(value));
    const joined = accepted.events
      .filter((e) => e.kind === "joined" && b64uEncode(e.memberKey) !== own)
      .map((e) => e.memberKey);
    value = await shareListing(value, joined);
    value = retryPending(value, writes);
    return { value, updates };
  }

  // The group's latest signed roster, adopted if newer; an older one offered
  // as the latest is a rollback, refused and shown.
  async function latestRoster(value, writes) {
    const answer = await api("GET", `/api/groups/${value.group}`);
    if (typeof answer.roster !== "string" || answer.roster === value.roster) {
      return { value, updates: [] };
    }
    try {
      return await adoptRoster(value, b64uDecode(answer.roster), writes);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      return {
        value: items.warn(value, describe(error)),
        updates: [tell(value.group, "warning", describe(error))],
      };
    }
  }

  function storeText(start, writes, plaintext, sid) {
    let payload;
    try {
      payload = decodePayload(plaintext.payload);
    } catch {
      return { value: start, update: null };
    }
    if (payload.type !== "text") return { value: start, update: null };
    const mark = `${b64uEncode(plaintext.senderKey)}:${plaintext.iteration}`;
    const removed = (start.tombstones ?? []).includes(mark);
    const next = nextSeq(start);
    const name = items.displayName(next.value, plaintext.memberKey);
    writes.push(
      vault.write(null, {
        kind: "group_message",
        group: start.group,
        id: payload.id,
        sid,
        sender: b64uEncode(plaintext.memberKey),
        name,
        sk: b64uEncode(plaintext.senderKey),
        it: plaintext.iteration,
        sent: payload.sent,
        body: removed ? "" : payload.body,
        removed,
        dir: "in",
        seq: next.seq,
      }),
    );
    const text = removed || start.muted ? "" : `${name}: ${payload.body}`;
    return { value: next.value, update: tell(start.group, "message", text) };
  }

  function retryPending(start, writes) {
    let value = start;
    const still = [];
    for (const raw of value.pending ?? []) {
      let opened;
      try {
        opened = items.decrypt(value, b64uDecode(raw));
      } catch (error) {
        if (error instanceof MissingSenderKeyError) still.push(raw);
        continue;
      }
      value = storeText(opened.item, writes, opened.plaintext, null).value;
    }
    return { ...value, pending: still };
  }

  function unreadable(value, body, error) {
    if (error instanceof MissingSenderKeyError && value.status === "member") {
      const pending = [...(value.pending ?? []), b64uEncode(body)].slice(-PENDING_KEPT);
      return { value: { ...value, pending }, updates: [] };
    }
    if (value.status !== "member") return { value, updates: [] };
    const text =
      error instanceof MissingSenderKeyError || error instanceof NotAMemberError
        ? WARN_UNREADABLE
        : describe(error);
    return { value: items.warn(value, text), updates: [tell(value.group, "warning", text)] };
  }

  async function applyStream(value, kind, body, sid, writes) {
    const group = value.group;
    if (kind === "roster") {
      try {
        return await adoptRoster(value, body, writes);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        // Already adopted (from the group's latest, or this device's own change).
        if (error.code === "roster_rollback") return { value, updates: [] };
        const text = "A member list without the moderator's valid signature was refused.";
        return { value: items.warn(value, text), updates: [tell(group, "warning", text)] };
      }
    }
    if (kind === "tombstone") {
      let stone;
      try {
        stone = items.verifyTombstone(value, body);
      } catch {
        const text = "A removal without the moderator's valid signature was ignored.";
        return { value: items.warn(value, text), updates: [tell(group, "warning", text)] };
      }
      const sk = b64uEncode(stone.senderKey);
      const mark = `${sk}:${stone.iteration}`;
      const next = {
        ...value,
        tombstones: [...(value.tombstones ?? []), mark].slice(-HANDLED_KEPT),
      };
      for (const message of vault.list("group_message")) {
        const data = message.data;
        if (data.group === group && data.sk === sk && data.it === stone.iteration) {
          writes.push(vault.write(message.id, { ...data, body: "", removed: true }));
        }
      }
      return { value: next, updates: [tell(group, "removed", "The moderator removed a message.")] };
    }
    if (kind !== "message") return { value, updates: [] };
    const { header } = parseGroupMessage(body);
    if ((value.own_keys ?? []).includes(b64uEncode(header.senderKey))) {
      return { value, updates: [] };
    }
    let opened;
    let current = value;
    try {
      opened = items.decrypt(current, body);
    } catch (error) {
      if (!(error instanceof RosterOutdatedError)) {
        if (error instanceof ProtocolError) return unreadable(current, body, error);
        throw error;
      }
      current = (await latestRoster(current, writes)).value;
      try {
        opened = items.decrypt(current, body);
      } catch (again) {
        if (again instanceof ProtocolError) return unreadable(current, body, again);
        throw again;
      }
    }
    const stored = storeText(opened.item, writes, opened.plaintext, sid);
    return { value: stored.value, updates: stored.update ? [stored.update] : [] };
  }

  async function handleStream(frame) {
    const { group, id: sid, kind } = frame;
    const body = b64uDecode(frame.body);
    let updates = [];
    await retryOnConflict(async () => {
      const item = groupItem(vault, group);
      const writes = [];
      updates = [];
      if (!item) {
        // Named co-moderator and not taken up yet: routed here, nothing is wrong.
        const offered = (await moderationOffers()).includes(group);
        updates = offered ? [] : [tell(group, "warning", WARN_NOT_MEMBER)];
      } else if ((item.data.handled ?? []).includes(sid)) {
        // Handled and acknowledged already (pulled, then pushed live).
        return;
      } else {
        const applied = await applyStream(item.data, kind, body, sid, writes);
        updates = applied.updates;
        const handled = [...(applied.value.handled ?? []), sid].slice(-HANDLED_KEPT);
        writes.push(vault.write(item.id, { ...applied.value, handled }));
      }
      try {
        await conn.request({ type: "group_ack", group, id: sid, vault: toWire(writes) }, sid);
      } catch (error) {
        if (error?.code !== "not_found" && error?.code !== "not_a_member") throw error;
        // Another device handled it first, or the membership ended earlier.
        await vault.sync();
        updates = [];
        return;
      }
      vault.apply(writes);
    }, vault.sync);
    if (groupItem(vault, group)) await sendOutbox(group);
    emit(group);
    return updates;
  }

  async function openGroupEnvelope(start, frame, writes) {
    const group = start.group;
    const data = b64uDecode(frame.env);
    const fromKey = frame.from_key;
    if (!frame.to_key) {
      if (typeof fromKey !== "string" || start.role !== "moderator") {
        throw new NotAMemberError("An envelope to the moderator names no member key.");
      }
      const prekeys = vault.find("prekeys");
      const stored = start.applicants?.[fromKey] ?? null;
      const opened = items.openPairwise(identity, prekeys.data, stored, data);
      if (b64uEncode(opened.peer) !== fromKey) {
        throw new MalformedError("The envelope is not from the member key the server names.");
      }
      if (opened.prekeys) writes.push(vault.write(prekeys.id, opened.prekeys));
      let value = {
        ...start,
        applicants: { ...(start.applicants ?? {}), [fromKey]: opened.session },
      };
      const payload = opened.payload;
      if (payload.type === "group_join") {
        if (payload.member_key !== fromKey) {
          throw new NotAMemberError("A join request must come from the member key it names.");
        }
        value = items.addRequest(value, payload);
        return { value, update: tell(group, "request", `${payload.name} asks to join.`) };
      }
      if (payload.type === "text") {
        const next = nextSeq(value);
        const name = items.displayName(next.value, b64uDecode(fromKey));
        writes.push(
          vault.write(null, {
            kind: "group_report",
            group,
            member: fromKey,
            name,
            sent: payload.sent,
            body: payload.body,
            seq: next.seq,
          }),
        );
        return { value: next.value, update: tell(group, "report", `${name} reported a message.`) };
      }
      return { value, update: tell(group, "none") };
    }
    if (frame.to_key !== b64uEncode(items.memberKeyOf(start))) {
      throw new NotAMemberError("The envelope is for another member key.");
    }
    if (!fromKey) {
      const answered = openFromModerators(start, data);
      let value = answered.value;
      if (answered.payload.type === "text" && value.status === "requested") {
        value = { ...value, status: "declined", declined: answered.payload.body };
        return { value, update: tell(group, "declined", answered.payload.body) };
      }
      return { value, update: tell(group, "none") };
    }
    const sender = b64uDecode(fromKey, { length: ED25519_PUBLIC_KEY_BYTES });
    let value = start;
    const state = items.stateOfItem(value);
    if (state === null || stateOf(state.roster, sender) === null) {
      // The sender, or this member, may have been admitted by a roster this
      // device has not taken in yet: the group's latest is verified first.
      value = (await latestRoster(value, writes)).value;
    }
    const opened = items.openMemberEnvelope(value, sender, data);
    value = opened.item;
    if (opened.payload.type === "group_key") {
      value = items.receiveDistribution(value, b64uDecode(opened.payload.key));
      value = retryPending(value, writes);
      return { value, update: tell(group, "key") };
    }
    if (opened.payload.type === "group_listing") {
      return { value: acceptListing(value, opened.payload), update: tell(group, "listing") };
    }
    return { value, update: tell(group, "none") };
  }

  // A moderator's answer to this member key (a decline): the host's session is
  // tried first, then each co-moderator's this key wrote to; the answer must
  // come from the key of the session it opens in.
  function openFromModerators(start, data) {
    const identity = items.memberIdentity(start);
    if (start.moderator_session) {
      let opened = null;
      try {
        opened = items.openPairwise(identity, start.prekeys, start.moderator_session, data);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
      }
      if (opened) {
        if (b64uEncode(opened.peer) !== start.moderator_key) {
          throw new MalformedError("The answer does not come from the group's moderator.");
        }
        return {
          value: { ...start, moderator_session: opened.session },
          payload: opened.payload,
        };
      }
    }
    for (const [account, known] of Object.entries(start.co_moderators ?? {})) {
      let opened;
      try {
        opened = items.openPairwise(identity, start.prekeys, known.session, data);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        continue;
      }
      if (b64uEncode(opened.peer) !== known.identity_key) {
        throw new MalformedError("The answer does not come from the group's co-moderator.");
      }
      const coModerators = {
        ...start.co_moderators,
        [account]: { ...known, session: opened.session },
      };
      return { value: { ...start, co_moderators: coModerators }, payload: opened.payload };
    }
    throw new MalformedError("There is no session with the moderator.");
  }

  // What an envelope that does not open leaves behind: a key from before a
  // removal, or from a member who has since left, passes silently; a sender
  // the signed list never admitted is shown as a warning.
  function refusedEnvelope(value, fromKey, error) {
    const state = items.stateOfItem(value);
    const listed =
      state !== null &&
      typeof fromKey === "string" &&
      rosterEntry(state.roster, b64uDecode(fromKey)) !== null;
    if (error instanceof StaleSenderKeyError || (error instanceof NotAMemberError && listed)) {
      return value;
    }
    const text = error instanceof NotAMemberError ? WARN_UNLISTED : describe(error);
    tell(value.group, "warning", text);
    return items.warn(value, text);
  }

  async function handleEnvelope(frame) {
    const group = frame.group;
    await retryOnConflict(async () => {
      const item = groupItem(vault, group);
      const writes = [];
      if (!item) {
        tell(group, "warning", WARN_NOT_MEMBER);
      } else {
        let value;
        try {
          value = (await openGroupEnvelope(item.data, frame, writes)).value;
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          writes.length = 0;
          value = refusedEnvelope(item.data, frame.from_key, error);
        }
        writes.push(vault.write(item.id, value));
      }
      try {
        await conn.request({ type: "ack", id: frame.id, vault: toWire(writes) }, frame.id);
      } catch (error) {
        if (error?.code !== "not_found") throw error;
        await vault.sync();
        return;
      }
      vault.apply(writes);
    }, vault.sync);
    if (groupItem(vault, group)) await sendOutbox(group);
    emit(group);
  }

  // Frames the receiver hands over: a stream item, or an envelope of a group.
  function onFrame(frame) {
    if (frame.type === "group_left") {
      // A member left through the server: the moderator signs it into the list.
      return serial(() => moderateDepartures(frame.group))
        .then(() => emit(frame.group))
        .catch(() => {
          // Done again when the group is next opened.
        });
    }
    const work = frame.type === "group" ? () => handleStream(frame) : () => handleEnvelope(frame);
    return serial(work).catch(() => {
      // Left stored on the server: it is delivered again.
    });
  }

  // Everything of the stream after this member's cursor (on opening a group).
  async function pull(group) {
    const status = itemOf(group).data.status;
    if (["declined", "left", "removed"].includes(status)) return;
    await serial(async () => {
      for (;;) {
        let answer;
        try {
          answer = await api("GET", `/api/groups/${group}/messages`);
        } catch (error) {
          // Not admitted yet: the roster that admits it opens the stream.
          if (status === "requested" && ["not_found", "not_a_member"].includes(error?.code)) return;
          throw error;
        }
        const stream = Array.isArray(answer.messages) ? answer.messages : [];
        for (const entry of stream) await handleStream({ ...entry, group });
        if (stream.length === 0 || answer.more !== true) break;
      }
      await moderateDepartures(group);
      await flushUnsent(group);
    });
    emit(group);
  }

  async function register(itemId) {
    const item = vault.list("group").find((candidate) => candidate.id === itemId);
    if (!item?.data.key_upload) return;
    const key = b64uEncode(items.memberKeyOf(item.data));
    await api("PUT", `/api/groups/${item.data.group}/keys/${key}`, item.data.key_upload);
    await commitChange(() => {
      const current = vault.list("group").find((candidate) => candidate.id === itemId);
      const { key_upload: _sent, ...rest } = current.data;
      return [vault.write(itemId, rest)];
    });
  }

  async function createGroup({ fields, name, inviteOnly = false, maxMembers = MAX_GROUP_MEMBERS }) {
    const created = items.createGroup(identity, {
      listing: {},
      name,
      now: nowSeconds(),
      maxMembers,
      inviteOnly,
    });
    const listing = { group: created.item.group, ...fields, max_members: maxMembers };
    const bytes = listingBytes(listing);
    const body = { roster: b64uEncode(created.signed) };
    if (!inviteOnly) {
      body.listing = b64uEncode(bytes);
      body.sig = b64uEncode(signGroupListing(identity, bytes));
    }
    await serial(async () => {
      // Private keys are committed before anything refers to them.
      const write = vault.write(null, { ...created.item, listing });
      await vault.commit([write]);
      await api("POST", "/api/groups", body);
      await register(write.id);
    });
    emit(created.item.group);
    return created.item.group;
  }

  // The moderator's account and identity key, trusted only from signed data:
  // the signed listing of an open group, or the signed directory.
  async function trustedModerator(group, directory) {
    const answer = await api("GET", "/api/directory");
    for (const entry of answer.groups ?? []) {
      const listed = verifiedListing(entry);
      if (listed && listed.group === group) return listed;
    }
    const about = await api("GET", `/api/groups/${group}`);
    for (const moderator of about.moderators ?? []) {
      const therapist = directory.find((t) => t.account === moderator.account);
      if (therapist && b64uEncode(therapist.identityKey) === moderator.identity_key) {
        return {
          group,
          moderator: moderator.account,
          identityKey: moderator.identity_key,
          listing: { group, name: "Private group" },
        };
      }
    }
    throw new MalformedError("No therapist of the directory hosts this group.");
  }

  async function requestJoin({ group, name, note = "", directory = [] }) {
    if (groupItem(vault, group)) {
      throw new ComposeError("You already take part in this group, or asked to.");
    }
    const listed = await trustedModerator(group, directory);
    let value = items.newItem({
      groupId: b64uDecode(group, { length: ID_BYTES }),
      role: "member",
      moderatorKey: b64uDecode(listed.identityKey, { length: ED25519_PUBLIC_KEY_BYTES }),
      listing: listed.listing,
      name,
      now: nowSeconds(),
    });
    value.moderator = listed.moderator;
    const bundle = await api("GET", `/api/bundle/${encodeURIComponent(listed.moderator)}`);
    const started = startSession(items.memberIdentity(value), bundle);
    if (b64uEncode(started.peer.identityKey) !== listed.identityKey) {
      throw new MalformedError("The moderator's keys are not those of the signed listing.");
    }
    const joinPayload = items.joinRequest(value, note);
    value = sealToModerator(value, joinPayload, started.state);
    value = await toCoModerators(value, joinPayload, directory);
    await serial(async () => {
      const write = vault.write(null, value);
      await vault.commit([write]);
      await register(write.id);
      await sendOutbox(group);
    });
    emit(group);
  }

  // A join request (or report) to each co-moderator too, so either can answer.
  // With `directory` (when asking to join), a co-moderator is any other
  // moderator the server names whose identity key the signed directory lists
  // for the same account; a report goes to those the request went to.
  async function toCoModerators(start, payload, directory = null) {
    let value = start;
    const known = { ...(value.co_moderators ?? {}) };
    if (directory !== null) {
      const about = await api("GET", `/api/groups/${value.group}`);
      for (const moderator of about.moderators ?? []) {
        const therapist = directory.find((t) => t.account === moderator.account);
        if (!therapist || b64uEncode(therapist.identityKey) !== moderator.identity_key) continue;
        if (moderator.account === value.moderator) continue;
        if (moderator.identity_key === value.moderator_key) continue;
        known[moderator.account] = { identity_key: moderator.identity_key, session: null };
      }
    }
    const own = b64uEncode(items.memberKeyOf(value));
    for (const [account, entry] of Object.entries(known)) {
      let started = null;
      if (!entry.session) {
        const bundle = await api("GET", `/api/bundle/${encodeURIComponent(account)}`);
        started = startSession(items.memberIdentity(value), bundle).state;
      }
      const key = b64uDecode(entry.identity_key, { length: ED25519_PUBLIC_KEY_BYTES });
      const sealed = items.sealToCoModerator(value, account, key, payload, started);
      value = queue(sealed.item, sealed.envelope, { to: account, from_key: own });
    }
    return value;
  }

  function sealToModerator(value, payload, startedState) {
    const sealed = items.sealToModerator(value, payload, startedState);
    return queue(sealed.item, sealed.envelope, {
      to: value.moderator,
      from_key: b64uEncode(items.memberKeyOf(value)),
    });
  }

  async function publish(group, signed, before = (value) => value) {
    await api("PUT", `/api/groups/${group}/roster`, { roster: b64uEncode(signed) });
    await retryOnConflict(async () => {
      const item = itemOf(group);
      const writes = [];
      const adopted = await adoptRoster(before(item.data), signed, writes);
      writes.push(vault.write(item.id, adopted.value));
      await vault.commit(writes);
    }, vault.sync);
    await sendOutbox(group);
  }

  function moderatorItem(group) {
    const item = itemOf(group);
    if (item.data.role !== "moderator") {
      throw new ComposeError("Only the group's moderator can do that.");
    }
    return item;
  }

  const act = (group, work) =>
    serial(work).finally(() => {
      emit(group);
    });

  const admit = (group, memberKey) =>
    act(group, async () => {
      const item = await latestModeratorItem(group);
      const signed = items.admit(identity, item.data, items.findRequest(item.data, memberKey));
      await publish(group, signed, (value) => items.dropRequest(value, memberKey, true));
    });

  const decline = (group, memberKey, reason = "") =>
    act(group, async () => {
      const text = reason.trim() || "The moderator did not admit this request.";
      await commitChange(() => {
        const item = moderatorItem(group);
        items.findRequest(item.data, memberKey);
        const body = encodeText({ id: newId(), sent: nowSeconds(), body: text });
        const sealed = items.sealToApplicant(item.data, memberKey, body);
        let value = items.dropRequest(sealed.item, memberKey, false);
        value = queue(value, sealed.envelope, { to_key: memberKey });
        return [vault.write(item.id, value)];
      });
      await sendOutbox(group);
    });

  const MEMBER_ACTIONS = { mute: MEMBER_MUTED, unmute: MEMBER_ADMITTED, remove: MEMBER_REMOVED };

  const setMember = (group, memberKey, action) =>
    act(group, async () => {
      const item = await latestModeratorItem(group);
      const key = b64uDecode(memberKey, { length: ED25519_PUBLIC_KEY_BYTES });
      await publish(group, items.setMemberState(identity, item.data, key, MEMBER_ACTIONS[action]));
    });

  const setPaused = (group, paused) =>
    act(group, async () => {
      const item = await latestModeratorItem(group);
      await publish(group, items.setPaused(identity, item.data, paused));
    });

  const editListing = (group, changes) =>
    act(group, async () => {
      const item = moderatorItem(group);
      const listing = { ...item.data.listing, ...changes };
      const bytes = listingBytes(listing);
      if ((items.heldRoster(item.data).flags & ROSTER_FLAG_INVITE_ONLY) === 0) {
        await api("PUT", `/api/groups/${group}/listing`, {
          listing: b64uEncode(bytes),
          sig: b64uEncode(signGroupListing(identity, bytes)),
        });
      }
      await retryOnConflict(async () => {
        const current = itemOf(group);
        // A private group's members hear of the change only from the moderator.
        const value = await shareListing(
          { ...current.data, listing },
          items.recipients({ ...current.data, listing }),
        );
        await vault.commit([vault.write(current.id, value)]);
      }, vault.sync);
      await sendOutbox(group);
    });

  function messageItem(group, id) {
    const found = vault.find("group_message", (data) => data.group === group && data.id === id);
    if (!found) throw new ComposeError("That message is no longer here.");
    return found;
  }

  const removeMessage = (group, id) =>
    act(group, async () => {
      const item = moderatorItem(group);
      const message = messageItem(group, id);
      const signed = items.tombstone(
        identity,
        item.data,
        b64uDecode(message.data.sk, { length: ED25519_PUBLIC_KEY_BYTES }),
        message.data.it,
      );
      await api("POST", `/api/groups/${group}/tombstones`, { tombstone: b64uEncode(signed) });
      await commitChange(() => {
        const current = messageItem(group, id);
        return [vault.write(current.id, { ...current.data, body: "", removed: true })];
      });
    });

  const leave = (group) =>
    act(group, async () => {
      const item = itemOf(group);
      if (item.data.role === "moderator") {
        throw new ComposeError("A moderator closes a group rather than leaving it.");
      }
      await api("DELETE", `/api/groups/${group}/membership`);
      await commitChange(() => {
        const current = itemOf(group);
        return [
          vault.write(current.id, { ...current.data, status: "left", sessions: {}, outbox: [] }),
        ];
      });
    });

  const report = (group, id, reason = "") =>
    act(group, async () => {
      const item = itemOf(group);
      const message = messageItem(group, id);
      let text = `Report about a message by ${message.data.name || "a member"}: “${String(message.data.body).slice(0, 300)}”`;
      if (reason.trim()) text += `\n${reason.trim()}`;
      const body = encodeText({ id: newId(), sent: nowSeconds(), body: text });
      let started = null;
      if (!item.data.moderator_session) {
        const bundle = await api("GET", `/api/bundle/${encodeURIComponent(item.data.moderator)}`);
        started = startSession(items.memberIdentity(item.data), bundle);
        if (b64uEncode(started.peer.identityKey) !== item.data.moderator_key) {
          throw new MalformedError("The moderator's keys are not those of the signed listing.");
        }
      }
      let value = sealToModerator(item.data, body, started?.state ?? null);
      value = await toCoModerators(value, body);
      await vault.commit([vault.write(item.id, value)]);
      await sendOutbox(group);
    });

  const setMuted = (group, muted) =>
    act(group, () =>
      commitChange(() => {
        const current = itemOf(group);
        return [vault.write(current.id, { ...current.data, muted })];
      }),
    );

  async function latestAndRotate(group) {
    await retryOnConflict(async () => {
      const item = itemOf(group);
      const writes = [];
      let { value } = await latestRoster(item.data, writes);
      if (value.status === "member") value = await rotate(value);
      // Nothing new: writing the item anyway would only make another device
      // of this account, sending at the same moment, start over.
      if (value === item.data && writes.length === 0) return;
      writes.push(vault.write(item.id, value));
      await vault.commit(writes);
    }, vault.sync);
    await sendOutbox(group);
  }

  // The moderator's item after taking in the latest roster: with a
  // co-moderator, the other may have signed newer versions.
  async function latestModeratorItem(group) {
    await latestAndRotate(group);
    return moderatorItem(group);
  }

  // Name (add) or stop naming a therapist of the signed directory
  // ({account, identityKey}) as co-moderator, in a roster signed here.
  const setCoModerator = (group, therapist, add = true) =>
    act(group, async () => {
      const item = await latestModeratorItem(group);
      const key = therapist.identityKey;
      const current = items.heldRoster(item.data).moderators;
      const named = current.some((k) => b64uEncode(k) === b64uEncode(key));
      if (add === named) {
        throw new ComposeError(
          add
            ? "That therapist already moderates this group."
            : "That therapist does not moderate this group.",
        );
      }
      const wanted = add
        ? [...current, key]
        : current.filter((k) => b64uEncode(k) !== b64uEncode(key));
      await publish(group, items.setModerators(identity, item.data, wanted));
    });

  // Groups another therapist named this account co-moderator of, not taken up yet.
  async function moderationOffers() {
    const answer = await api("GET", "/api/groups");
    return (answer.groups ?? [])
      .filter((entry) => entry.role === "moderator" && !groupItem(vault, entry.group))
      .map((entry) => entry.group);
  }

  // Become co-moderator: the latest roster must name this identity key and be
  // signed by a therapist of the signed `directory`; this device then admits
  // a member key of its own in a roster it signs.
  async function takeUpModeration({ group, name, directory = [] }) {
    if (groupItem(vault, group)) {
      throw new ComposeError("You already take part in this group.");
    }
    const about = await api("GET", `/api/groups/${group}`);
    if (typeof about.roster !== "string") {
      throw new MalformedError("No other moderator has named this account in that group.");
    }
    let listing = { group, name: "Private group" };
    const listedAnswer = await api("GET", "/api/directory");
    for (const entry of listedAnswer.groups ?? []) {
      const listed = verifiedListing(entry);
      if (listed && listed.group === group) listing = listed.listing;
    }
    const own = b64uEncode(identity.publicKey);
    let taken = null;
    for (const moderator of about.moderators ?? []) {
      const therapist = directory.find((t) => b64uEncode(t.identityKey) === moderator.identity_key);
      if (!therapist || moderator.identity_key === own) continue;
      const fresh = items.newItem({
        groupId: b64uDecode(group, { length: ID_BYTES }),
        role: "moderator",
        moderatorKey: therapist.identityKey,
        listing,
        name,
        now: nowSeconds(),
      });
      try {
        taken = {
          fresh,
          ...items.takeUpModeration(
            identity,
            fresh,
            b64uDecode(about.roster),
            therapist.identityKey,
          ),
        };
        break;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
      }
    }
    if (taken === null) {
      throw new MalformedError("No therapist of the directory named this account moderator.");
    }
    await serial(async () => {
      // Private keys are committed before anything refers to them.
      const write = vault.write(null, { ...taken.fresh, status: "requested" });
      await vault.commit([write]);
      await register(write.id);
      await api("PUT", `/api/groups/${group}/roster`, { roster: b64uEncode(taken.signed) });
      await retryOnConflict(async () => {
        const current = itemOf(group);
        let value = {
          ...current.data,
          moderator_key: own,
          state: taken.item.state,
          roster: taken.item.roster,
          status: taken.item.status,
        };
        // Its first key goes to every member, as for anyone who joins.
        value = await rotate(value);
        await vault.commit([vault.write(current.id, value)]);
      }, vault.sync);
      await sendOutbox(group);
    });
    emit(group);
  }

  // Sends committed group messages to the stream; a retry of a stored one is
  // stored once. A final refusal (the group paused, this member muted or
  // removed) drops the message and its item, as nothing was sent; with
  // `report` the refusal then reaches the caller. A passing one (offline,
  // rate limited) leaves the message to be sent later.
  async function flushUnsent(group, { report = false } = {}) {
    const item = groupItem(vault, group);
    const unsent = item?.data.unsent ?? [];
    if (unsent.length === 0) return;
    const done = new Set();
    const refused = new Map();
    for (const [id, message] of unsent) {
      try {
        await conn.request({ type: "group_send", cmid: id, group, msg: message }, id);
      } catch (error) {
        if (!FINAL_SEND_REFUSALS.has(error?.code)) throw error;
        refused.set(id, error);
      }
      done.add(id);
    }
    await commitChange(() => {
      const current = itemOf(group);
      const rest = (current.data.unsent ?? []).filter(([id]) => !done.has(id));
      const dropped = vault
        .list("group_message")
        .filter((m) => m.data.group === group && m.data.dir === "out" && refused.has(m.data.id))
        .map((m) => vault.remove(m.id));
      return [vault.write(current.id, { ...current.data, unsent: rest }), ...dropped];
    });
    if (report && refused.size > 0) throw [...refused.values()][0];
  }

  // Encrypts a text once for the whole group and sends it to the stream.
  const sendText = (group, body) => {
    checkBody(body);
    return act(group, async () => {
      await latestAndRotate(group);
      let messageId = null;
      await commitChange(() => {
        const item = itemOf(group);
        if (item.data.status !== "member") {
          throw new ComposeError("You are not a member of this group now.");
        }
        messageId = newId();
        const sent = nowSeconds();
        const encrypted = items.encrypt(item.data, encodeText({ id: messageId, sent, body }));
        const { header } = parseGroupMessage(encrypted.message);
        const next = nextSeq(encrypted.item);
        const sk = b64uEncode(header.senderKey);
        const value = {
          ...next.value,
          own_keys: [...new Set([...(next.value.own_keys ?? []), sk])].sort(),
          unsent: [...(next.value.unsent ?? []), [messageId, b64uEncode(encrypted.message)]],
        };
        return [
          vault.write(item.id, value),
          vault.write(null, {
            kind: "group_message",
            group,
            id: messageId,
            sid: null,
            sender: b64uEncode(items.memberKeyOf(value)),
            name: value.name,
            sk,
            it: header.iteration,
            sent,
            body,
            removed: false,
            dir: "out",
            seq: next.seq,
          }),
        ];
      });
      await flushUnsent(group, { report: true });
      return messageId;
    });
  };

  // A moderator records, in a signed roster, the members who left through the server.
  async function moderateDepartures(group) {
    const item = groupItem(vault, group);
    if (item?.data.role !== "moderator") return;
    const answer = await api("GET", `/api/groups/${group}`);
    for (const key of answer.left ?? []) {
      let signed;
      try {
        const raw = b64uDecode(key, { length: ED25519_PUBLIC_KEY_BYTES });
        signed = items.setMemberState(identity, itemOf(group).data, raw, MEMBER_LEFT);
      } catch {
        continue;
      }
      try {
        await publish(group, signed);
      } catch (error) {
        // The other moderator recorded it first; its roster comes with the stream.
        if (error?.code !== "roster_rollback") throw error;
      }
    }
  }

  return {
    onFrame,
    pull,
    createGroup,
    requestJoin,
    admit,
    decline,
    setMember,
    setPaused,
    setCoModerator,
    moderationOffers,
    takeUpModeration,
    editListing,
    removeMessage,
    leave,
    report,
    setMuted,
    sendText,
  };
}

// Open groups in the directory whose signed listing verifies.
export async function loadListedGroups(request, token) {
  const answer = await request("GET", "/api/directory", { token: token() });
  return (answer.groups ?? []).map(verifiedListing).filter((listed) => listed !== null);
}
