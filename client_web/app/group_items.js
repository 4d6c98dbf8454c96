// The `group` vault item and what members and moderators do to it (twin of
// client_py/group_items.py; PROTOCOL.md section 15, item kinds in section 10).
//
// One item per group an account takes part in. It holds the member's group
// state (section 15.8) and what a person sees of the group:
//
//   {kind: "group", group: b64u id, role: "member" | "moderator",
//    moderator_key: b64u identity key trusted from the signed listing,
//    listing: {...}, status: "requested" | "member" | "declined" | "left" | "removed",
//    name: display name in this group, salt, member_seed, state, roster,
//    prekeys: the member key's prekeys item, sessions: {b64u member key: session},
//    muted, cursor, warnings: [text], requests: [...], known: {key: name}}
//
// The member seed is made for this group alone (section 15.1) and the sessions
// that carry sender keys are keyed by member keys, never by accounts, so
// nothing here links a member to its account or to another group.
//
// Every function is pure: it takes item values and bytes and returns new
// values, which the caller commits with whatever caused the change, or not at
// all. Whatever does not verify throws the protocol error and changes nothing.

import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SEED_BYTES,
  GROUP_NAME_SALT_BYTES,
  ID_BYTES,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_MODERATORS,
  MEMBER_ADMITTED,
  MEMBER_LEFT,
  MEMBER_MUTED,
  MEMBER_REMOVED,
  ROSTER_FLAG_INVITE_ONLY,
  ROSTER_FLAG_PAUSED,
} from "../lib/constants.js";
import { b64uDecode, b64uEncode, bytesEqual, hexEncode } from "../lib/encoding.js";
import { MalformedError, NotAMemberError, ProtocolError } from "../lib/errors.js";
import {
  checkDisplayName,
  compareBytes,
  nameCommitment,
  rosterEntry,
  signRoster,
  signTombstone,
  stateOf,
  verifyFirstRoster,
  verifyTombstone as verifySignedTombstone,
} from "../lib/group_roster.js";
import { decodeGroupState, encodeGroupState } from "../lib/group_state.js";
import { identityFromSeed } from "../lib/keys.js";
import { encodeGroupJoin } from "../lib/payload.js";
import { createPrekeys } from "../lib/prekeys.js";
import {
  acceptRoster as acceptNextRoster,
  createSenderKey,
  distributionMessage,
  groupDecrypt,
  groupEncrypt,
  join,
  needsRotation,
  processDistribution,
  recipients as senderKeyRecipients,
} from "../lib/sender_key.js";
import {
  decryptEnvelope,
  encryptPayload,
  exportSession,
  importSession,
  peerIdentityOf,
  startSession,
} from "../lib/session.js";
import { sodium } from "../lib/sodium.js";

const PRESENT = [MEMBER_ADMITTED, MEMBER_MUTED];
// A member's name before its sender key (which carries the name) arrives.
export const UNNAMED = "A member";
// Warnings kept on a group item, newest last; older ones are dropped.
export const MAX_WARNINGS = 20;
// Join requests a moderator keeps waiting at once; the server bounds them too.
export const MAX_REQUESTS = 100;

const isPresent = (roster, key) => PRESENT.includes(stateOf(roster, key));
const GONE_STATUS = { [MEMBER_LEFT]: "left", [MEMBER_REMOVED]: "removed" };

// A group item before admission: a fresh member key and name salt for this group alone.
export function newItem({ groupId, role, moderatorKey, listing, name, now }) {
  checkDisplayName(name);
  const memberSeed = sodium.randombytes_buf(ED25519_SEED_BYTES);
  const prekeys = prekeysFor(memberSeed, now);
  return {
    kind: "group",
    group: b64uEncode(groupId),
    role,
    moderator_key: b64uEncode(moderatorKey),
    listing: { ...listing },
    status: "requested",
    name,
    salt: b64uEncode(sodium.randombytes_buf(GROUP_NAME_SALT_BYTES)),
    member_seed: b64uEncode(memberSeed),
    state: null,
    roster: null,
    prekeys: prekeys.item,
    // The public halves to publish, which registers the member key
    // (docs/API.md, "Groups"); dropped once the server has them.
    key_upload: prekeys.upload,
    sessions: {},
    muted: false,
    cursor: 0,
    warnings: [],
    requests: [],
    known: {},
  };
}

// The member key's prekeys (its pairwise channel, section 15.1) and their upload.
export function prekeysFor(memberSeed, now) {
  return createPrekeys(identityFromSeed(memberSeed), now);
}

export const groupIdOf = (item) => b64uDecode(item.group, { length: ID_BYTES });

// The member key as an identity: it signs distributions and keys the pairwise sessions.
export function memberIdentity(item) {
  return identityFromSeed(b64uDecode(item.member_seed, { length: ED25519_SEED_BYTES }));
}

export const memberKeyOf = (item) => memberIdentity(item).publicKey;

export function stateOfItem(item) {
  return item.state === null || item.state === undefined
    ? null
    : decodeGroupState(b64uDecode(item.state));
}

export const withState = (item, state) => ({ ...item, state: b64uEncode(encodeGroupState(state)) });

export function warn(item, text) {
  return { ...item, warnings: [...(item.warnings ?? []), text].slice(-MAX_WARNINGS) };
}

// The `group_join` payload (section 6) the moderator receives over the member-key session.
export function joinRequest(item, note) {
  return encodeGroupJoin({
    group: item.group,
    memberKey: b64uEncode(memberKeyOf(item)),
    name: item.name,
    salt: item.salt,
    note,
  });
}

// The moderator's side.

// A new group hosted by `moderator`: its item and the first signed roster.
// The moderator takes part like any member, under a member key of its own.
export function createGroup(
  moderator,
  { listing, name, now, maxMembers = MAX_GROUP_MEMBERS, inviteOnly = false },
) {
  const groupId = sodium.randombytes_buf(ID_BYTES);
  const fresh = newItem({
    groupId,
    role: "moderator",
    moderatorKey: moderator.publicKey,
    listing,
    name,
    now,
  });
  const key = memberKeyOf(fresh);
  const salt = b64uDecode(fresh.salt, { length: GROUP_NAME_SALT_BYTES });
  const signed = signRoster(moderator.seed, {
    groupId,
    version: 1,
    flags: inviteOnly ? ROSTER_FLAG_INVITE_ONLY : 0,
    maxMembers,
    moderators: [moderator.publicKey],
    entries: [
      {
        memberKey: key,
        state: MEMBER_ADMITTED,
        since: 1,
        nameCommitment: nameCommitment(groupId, key, name, salt),
      },
    ],
  });
  return { item: acceptRoster(fresh, signed).item, signed };
}

export function heldRoster(item) {
  const state = stateOfItem(item);
  if (state === null) {
    throw new NotAMemberError("This device holds no verified member list of the group yet.");
  }
  return state.roster;
}

function nextRoster(roster, entries, flags = roster.flags) {
  return {
    ...roster,
    version: roster.version + 1,
    flags,
    entries: [...entries].sort((a, b) => compareBytes(a.memberKey, b.memberKey)),
  };
}

// Keeps a decoded `group_join` payload for the moderator to admit or decline.
export function addRequest(item, joinPayload) {
  if (joinPayload.group !== item.group) {
    throw new MalformedError("The join request names another group.");
  }
  const requests = (item.requests ?? []).filter((r) => r.member_key !== joinPayload.member_key);
  const request = {
    member_key: joinPayload.member_key,
    name: joinPayload.name,
    salt: joinPayload.salt,
    note: joinPayload.note,
  };
  return { ...item, requests: [...requests, request].slice(-MAX_REQUESTS) };
}

export function findRequest(item, key) {
  const request = (item.requests ?? []).find((r) => r.member_key === key);
  if (!request) throw new MalformedError("There is no such join request.");
  return { ...request };
}

// The item without the request; an admitted member's name is remembered for the list.
export function dropRequest(item, key, admitted) {
  const request = findRequest(item, key);
  const known = { ...(item.known ?? {}) };
  if (admitted) known[key] = request.name;
  return { ...item, requests: item.requests.filter((r) => r.member_key !== key), known };
}

// The next signed roster, with the requesting member key admitted under its name.
export function admit(moderator, item, request) {
  const roster = heldRoster(item);
  const key = b64uDecode(request.member_key, { length: ED25519_PUBLIC_KEY_BYTES });
  if (rosterEntry(roster, key) !== null) {
    throw new MalformedError("This member key is already in the group's member list.");
  }
  const present = roster.entries.filter((e) => PRESENT.includes(e.state)).length;
  if (present >= roster.maxMembers) {
    throw new MalformedError(`The group is full (${roster.maxMembers} members).`);
  }
  const salt = b64uDecode(request.salt, { length: GROUP_NAME_SALT_BYTES });
  const entry = {
    memberKey: key,
    state: MEMBER_ADMITTED,
    since: roster.version + 1,
    nameCommitment: nameCommitment(roster.groupId, key, request.name, salt),
  };
  return signRoster(moderator.seed, nextRoster(roster, [...roster.entries, entry]));
}

// The next signed roster with one member muted, unmuted, left or removed.
export function setMemberState(signer, item, key, state) {
  const roster = heldRoster(item);
  const entry = rosterEntry(roster, key);
  if (entry === null || !PRESENT.includes(entry.state)) {
    throw new NotAMemberError("That member is not in the group now.");
  }
  const changed = { ...entry, state, since: roster.version + 1 };
  const entries = roster.entries.map((e) => (bytesEqual(e.memberKey, key) ? changed : e));
  return signRoster(signer.seed, nextRoster(roster, entries));
}

export function setPaused(moderator, item, paused) {
  const roster = heldRoster(item);
  const flags = paused ? roster.flags | ROSTER_FLAG_PAUSED : roster.flags & ~ROSTER_FLAG_PAUSED;
  return signRoster(moderator.seed, nextRoster(roster, roster.entries, flags));
}

// A signed removal of the message (sender key, iteration) for everyone (section 15.6).
// The next signed roster naming `moderators` (a co-moderator added or removed).
// The signer stays a moderator: a moderator hands a group over by deleting it.
export function setModerators(signer, item, moderators) {
  const roster = heldRoster(item);
  if (!moderators.some((key) => bytesEqual(key, signer.publicKey))) {
    throw new MalformedError("A moderator cannot sign itself out of its group.");
  }
  const distinct = new Set(moderators.map((key) => b64uEncode(key))).size;
  if (
    moderators.length < 1 ||
    moderators.length > MAX_GROUP_MODERATORS ||
    distinct !== moderators.length
  ) {
    throw new MalformedError(`A group has 1 to ${MAX_GROUP_MODERATORS} different moderators.`);
  }
  return signRoster(signer.seed, {
    ...nextRoster(roster, roster.entries),
    moderators: [...moderators],
  });
}

// A co-moderator's first step: verify the roster naming it against `trusted`
// (the naming moderator's identity key from the signed directory), then sign
// the next roster with its own new member key admitted. From then on its own
// key is its anchor and it trusts rosters signed by either moderator.
export function takeUpModeration(coModerator, item, signed, trusted) {
  const groupId = groupIdOf(item);
  const roster = verifyFirstRoster(signed, groupId, trusted);
  if (!roster.moderators.some((key) => bytesEqual(key, coModerator.publicKey))) {
    throw new NotAMemberError("The roster does not name this account as a moderator.");
  }
  const present = roster.entries.filter((e) => PRESENT.includes(e.state)).length;
  if (present >= roster.maxMembers) {
    throw new MalformedError(`The group is full (${roster.maxMembers} members).`);
  }
  const key = memberKeyOf(item);
  const salt = b64uDecode(item.salt, { length: GROUP_NAME_SALT_BYTES });
  const entry = {
    memberKey: key,
    state: MEMBER_ADMITTED,
    since: roster.version + 1,
    nameCommitment: nameCommitment(groupId, key, item.name, salt),
  };
  const others = roster.entries.filter((e) => !bytesEqual(e.memberKey, key));
  const ownSigned = signRoster(coModerator.seed, nextRoster(roster, [...others, entry]));
  const anchored = { ...item, moderator_key: b64uEncode(coModerator.publicKey) };
  return { item: acceptRoster(anchored, ownSigned).item, signed: ownSigned };
}

export function tombstone(moderator, item, senderKey, iteration) {
  return signTombstone(moderator.seed, { groupId: groupIdOf(item), senderKey, iteration });
}

// Everyone's side: rosters, sender keys, messages.

// What the signed list says happened between `old` and `next`, never what the server says.
export function rosterEvents(old, next) {
  const events = [];
  for (const entry of next.entries) {
    const before = old === null ? null : stateOf(old, entry.memberKey);
    if (before === entry.state) continue;
    let kind;
    if (entry.state === MEMBER_LEFT) kind = "left";
    else if (entry.state === MEMBER_REMOVED) kind = "removed";
    else if (entry.state === MEMBER_MUTED) kind = "muted";
    else kind = [null, MEMBER_LEFT, MEMBER_REMOVED].includes(before) ? "joined" : "unmuted";
    events.push({ version: next.version, kind, memberKey: entry.memberKey });
  }
  return events;
}

// Verifies a signed roster and adopts it: {item, events}. The first is checked
// against the moderator key of the signed listing, later ones against the
// moderators held, never an older version (RosterRollbackError).
// A first roster signed by the host the member trusts, or by a co-moderator
// it wrote its request to (a therapist of the signed directory) in a roster
// that names the host too (PROTOCOL.md 15.2, "Co-moderation").
function verifyFirst(item, signed, groupId) {
  const host = b64uDecode(item.moderator_key, { length: ED25519_PUBLIC_KEY_BYTES });
  try {
    return { moderatorKey: host, roster: verifyFirstRoster(signed, groupId, host) };
  } catch (error) {
    for (const known of Object.values(item.co_moderators ?? {})) {
      const key = b64uDecode(known.identity_key, { length: ED25519_PUBLIC_KEY_BYTES });
      let roster;
      try {
        roster = verifyFirstRoster(signed, groupId, key);
      } catch {
        continue;
      }
      if (roster.moderators.some((k) => bytesEqual(k, host))) return { moderatorKey: key, roster };
    }
    throw error;
  }
}

export function acceptRoster(item, signed) {
  const state = stateOfItem(item);
  const groupId = groupIdOf(item);
  let next;
  let events;
  if (state === null) {
    const { moderatorKey, roster } = verifyFirst(item, signed, groupId);
    const own = stateOf(roster, memberKeyOf(item));
    if (!PRESENT.includes(own)) {
      // Verified, but not (or no longer) for this member: nothing to hold.
      return { item: { ...item, status: GONE_STATUS[own] ?? item.status }, events: [] };
    }
    const seed = b64uDecode(item.member_seed, { length: ED25519_SEED_BYTES });
    next = join(signed, groupId, moderatorKey, seed);
    // Who was there before is the member list, not news: only "you joined".
    events = rosterEvents(null, roster).filter((e) => bytesEqual(e.memberKey, next.memberKey));
  } else {
    next = acceptNextRoster(state, signed);
    events = rosterEvents(state.roster, next.roster);
  }
  const status = GONE_STATUS[stateOf(next.roster, next.memberKey)] ?? "member";
  const present = new Set(
    next.roster.entries
      .filter((e) => PRESENT.includes(e.state))
      .map((e) => b64uEncode(e.memberKey)),
  );
  const keep = (slot) =>
    status === "member"
      ? Object.fromEntries(Object.entries(item[slot] ?? {}).filter(([k]) => present.has(k)))
      : {};
  const updated = withState(
    {
      ...item,
      roster: b64uEncode(signed),
      status,
      sessions: keep("sessions"),
      old_sessions: keep("old_sessions"),
    },
    next,
  );
  return { item: updated, events };
}

// A member's name in this group: its own, from its distribution, or from a join request.
export function displayName(item, key) {
  if (bytesEqual(key, memberKeyOf(item))) return item.name;
  const state = stateOfItem(item);
  const named = state?.names.get(hexEncode(key));
  if (named) return named.name;
  return item.known?.[b64uEncode(key)] ?? UNNAMED;
}

// Member keys the server lists that the signed roster does not admit (never sent to).
export function unexpectedMembers(item, listed) {
  const roster = heldRoster(item);
  return listed.filter((key) => !isPresent(roster, key));
}

// A new sender key when one is due (section 15.3): {item, distribution};
// distribution is null when the current key may go on being used.
export function rotateIfDue(item, now) {
  const state = stateOfItem(item);
  if (state === null || !isPresent(state.roster, state.memberKey) || !needsRotation(state, now)) {
    return { item, distribution: null };
  }
  const next = createSenderKey(state, now);
  return { item: withState(item, next), distribution: distributionOf(item, next) };
}

export function distributionOf(item, state = stateOfItem(item)) {
  if (state === null) throw new NotAMemberError();
  return distributionMessage(
    state,
    item.name,
    b64uDecode(item.salt, { length: GROUP_NAME_SALT_BYTES }),
  );
}

export function recipients(item) {
  const state = stateOfItem(item);
  return state === null ? [] : senderKeyRecipients(state);
}

export function receiveDistribution(item, bytes) {
  const state = stateOfItem(item);
  if (state === null) {
    throw new NotAMemberError("This device holds no member list of the group yet.");
  }
  return withState(item, processDistribution(state, bytes));
}

export function encrypt(item, payload) {
  const state = stateOfItem(item);
  if (state === null) throw new NotAMemberError();
  const sent = groupEncrypt(state, payload);
  return { item: withState(item, sent.state), message: sent.message };
}

export function decrypt(item, bytes) {
  const state = stateOfItem(item);
  if (state === null) throw new NotAMemberError();
  const opened = groupDecrypt(state, bytes);
  return { item: withState(item, opened.state), plaintext: opened.plaintext };
}

export function verifyTombstone(item, signed) {
  return verifySignedTombstone(signed, heldRoster(item));
}

// The pairwise channel between member keys (section 15.1).

// A member key's bundle (docs/API.md, Groups) in the shape session set-up
// reads. The server names the member key instead of an account; the account
// field is not part of any key agreement (the associated data holds the
// identity keys), so the group id stands in for it.
export function sessionBundle(groupId, answer) {
  if (!answer || (answer.member_key ?? answer.identity_key) !== answer.identity_key) {
    throw new MalformedError("The server sent the bundle of another key.");
  }
  return {
    account: b64uEncode(groupId),
    identity_key: answer.identity_key,
    signed_prekey: answer.signed_prekey,
    pq_prekey: answer.pq_prekey,
    one_time_prekey: answer.one_time_prekey ?? null,
  };
}

// Encrypts a payload to another member key, starting a session from its bundle if needed.
export function sealPairwise(item, peer, payloadBytes, bundle) {
  const key = b64uEncode(peer);
  const stored = item.sessions?.[key];
  let state;
  if (stored) {
    state = importSession(stored);
  } else {
    if (!bundle) throw new MalformedError("A first message to a member needs its bundle.");
    const started = startSession(memberIdentity(item), bundle);
    if (!bytesEqual(started.peer.identityKey, peer)) {
      throw new MalformedError("The keys offered are not the member key of the roster.");
    }
    state = started.state;
  }
  const sealed = encryptPayload(state, payloadBytes);
  return {
    item: { ...item, sessions: { ...(item.sessions ?? {}), [key]: exportSession(sealed.state) } },
    envelope: sealed.envelope,
  };
}

// Opens an envelope to `identity` (a member key, or for a join request the
// moderator's identity): {peer, payload, session, prekeys}.
export function openPairwise(identity, prekeys, session, bytes) {
  // A pairwise group session is one state (section 15): it is opened as a
  // record of one, and the session that opened the message is kept.
  const opened = decryptEnvelope(
    { identity, prekeys, record: session ? [importSession(session)] : null },
    bytes,
  );
  return {
    peer: opened.peerIdentity,
    payload: opened.payload,
    session: exportSession(opened.state),
    prekeys: opened.newSession ? opened.prekeys : null,
  };
}

// Opens a pairwise envelope to this member: {item, peer, payload}. Only a
// member present in the held roster is a sender this member talks to. Two
// members may start a session with each other at the same moment; each then
// answers in the session the other started, so the session a new one
// replaced is kept (`old_sessions`) and tried when the current one fails.
export function openMemberEnvelope(item, sender, bytes) {
  const key = sender ? b64uEncode(sender) : null;
  const current = key ? (item.sessions?.[key] ?? null) : null;
  const previous = key ? (item.old_sessions?.[key] ?? null) : null;
  const identity = memberIdentity(item);
  let slot = "sessions";
  let opened;
  try {
    opened = openPairwise(identity, item.prekeys, current, bytes);
  } catch (error) {
    if (!(error instanceof ProtocolError) || previous === null) throw error;
    opened = openPairwise(identity, item.prekeys, previous, bytes);
    slot = "old_sessions";
  }
  if (!isPresent(heldRoster(item), opened.peer)) {
    throw new NotAMemberError("The sender is not in the group's signed member list.");
  }
  const peerKey = b64uEncode(opened.peer);
  const next = { ...item, [slot]: { ...(item[slot] ?? {}), [peerKey]: opened.session } };
  if (opened.prekeys) {
    next.prekeys = opened.prekeys;
    if (slot === "sessions" && current !== null) {
      next.old_sessions = { ...(item.old_sessions ?? {}), [peerKey]: current };
    }
  }
  return { item: next, peer: opened.peer, payload: opened.payload };
}

// Encrypts a payload from the member key to the moderator's account (a join
// request, a report). The session's initiator identity is the member key, so
// the moderator learns which account asks only if the note says so (15.3).
// `started` is a session begun from the moderator's bundle, for the first one.
export function sealToModerator(item, payloadBytes, started) {
  let state;
  if (item.moderator_session) {
    state = importSession(item.moderator_session);
  } else {
    if (!started) throw new MalformedError("A first message to the moderator needs their bundle.");
    const peer = peerIdentityOf(started, memberIdentity(item));
    if (b64uEncode(peer) !== item.moderator_key) {
      throw new MalformedError("The keys offered are not the moderator's signed identity key.");
    }
    state = started;
  }
  const sealed = encryptPayload(state, payloadBytes);
  return {
    item: { ...item, moderator_session: exportSession(sealed.state) },
    envelope: sealed.envelope,
  };
}

// The moderator answers a member key in the session its request set up.
// A join request or report to a co-moderator's account, as to the host; its
// session is kept under `co_moderators[account]`.
export function sealToCoModerator(item, account, key, payloadBytes, started) {
  const stored = item.co_moderators?.[account]?.session;
  let state;
  if (stored) {
    state = importSession(stored);
  } else {
    if (!started || !bytesEqual(peerIdentityOf(started, memberIdentity(item)), key)) {
      throw new MalformedError("The keys offered are not the co-moderator's identity key.");
    }
    state = started;
  }
  const sealed = encryptPayload(state, payloadBytes);
  const entry = { identity_key: b64uEncode(key), session: exportSession(sealed.state) };
  return {
    item: { ...item, co_moderators: { ...(item.co_moderators ?? {}), [account]: entry } },
    envelope: sealed.envelope,
  };
}

export function sealToApplicant(item, key, payloadBytes) {
  const stored = item.applicants?.[key];
  if (!stored) throw new MalformedError("There is no session with this member key to answer in.");
  const sealed = encryptPayload(importSession(stored), payloadBytes);
  return {
    item: {
      ...item,
      applicants: { ...(item.applicants ?? {}), [key]: exportSession(sealed.state) },
    },
    envelope: sealed.envelope,
  };
}
