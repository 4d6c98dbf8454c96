"""The `group` vault item and what members and moderators do to it (twin of app/group_items.js).

One item per group an account takes part in (docs/PROTOCOL.md section 15,
vault item kinds in section 10). It holds the member's `GroupState`
(section 15.8) and what a person sees of the group:

    {"kind": "group", "group": b64u id, "role": "member" | "moderator",
     "moderator_key": b64u identity key trusted from the signed listing,
     "listing": {...}, "status": "requested" | "member" | "declined" | "left" | "removed",
     "name": display name in this group, "salt": b64u, "member_seed": b64u,
     "state": b64u group state or null, "roster": b64u signed roster or null,
     "prekeys": the member key's prekeys item, "sessions": {b64u member key: session},
     "muted": bool, "cursor": int, "warnings": [text], "requests": [...] (moderators)}

The member seed is made for this group alone (section 15.1); the sessions that
carry sender keys are keyed by member keys, never by accounts, so nothing here
links the member to its account or to another group.

Every function is pure: it takes item values (dicts) and bytes and returns
new values, so the caller commits the new item together with whatever caused
the change (an acknowledgement, a send) or not at all. Whatever does not
verify raises the protocol error of crypto/ and changes nothing.
"""

import secrets
from dataclasses import dataclass
from typing import Any

from client_py import upkeep
from crypto import group_roster, sender_key
from crypto import payload as payloads
from crypto import session as sessions
from crypto.constants import (
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
)
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import MalformedError, NotAMemberError, ProtocolError
from crypto.group_roster import Roster, RosterEntry, Tombstone
from crypto.group_state import decode_group_state, encode_group_state
from crypto.keys import IdentityKeyPair
from crypto.prekeys import store_from_item, store_to_item
from crypto.sender_key import GroupPlaintext, GroupState
from crypto.session_state import decode_state, encode_state
from crypto.x3dh import Bundle, parse_bundle

PRESENT = (MEMBER_ADMITTED, MEMBER_MUTED)
# A member's name before its sender key (which carries the name) arrives.
UNNAMED = "A member"
# Warnings kept on a group item, newest last; older ones are dropped.
MAX_WARNINGS = 20
# Join requests a moderator keeps waiting at once; the server bounds them too.
MAX_REQUESTS = 100


@dataclass(frozen=True)
class RosterEvent:
    """What a new signed roster changed for one member: shown as "X joined", "X left", ..."""

    version: int
    kind: str  # joined, left, removed, muted, unmuted
    member_key: bytes


def new_item(
    group_id: bytes,
    role: str,
    moderator_key: bytes,
    listing: dict[str, Any],
    name: str,
    now: int,
) -> dict[str, Any]:
    """A group item before admission: a fresh member key and name salt for this group alone."""
    group_roster.check_display_name(name)
    member_seed = secrets.token_bytes(ED25519_SEED_BYTES)
    prekeys, upload = prekeys_for(member_seed, now)
    return {
        "kind": "group",
        "group": b64u_encode(group_id),
        "role": role,
        "moderator_key": b64u_encode(moderator_key),
        "listing": dict(listing),
        "status": "requested",
        "name": name,
        "salt": b64u_encode(secrets.token_bytes(GROUP_NAME_SALT_BYTES)),
        "member_seed": b64u_encode(member_seed),
        "state": None,
        "roster": None,
        "prekeys": prekeys,
        # The public halves to publish, which registers the member key
        # (docs/API.md, "Groups"); dropped once the server has them.
        "key_upload": upload,
        "sessions": {},
        "muted": False,
        "cursor": 0,
        "warnings": [],
        "requests": [],
        "known": {},
    }


def prekeys_for(member_seed: bytes, now: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The member key's prekeys (its pairwise channel, section 15.1) and their upload."""
    return upkeep.initial(member_seed, now)


def group_id(item: dict[str, Any]) -> bytes:
    return b64u_decode(item["group"], ID_BYTES)


def member_identity(item: dict[str, Any]) -> IdentityKeyPair:
    """The member key as an identity: it signs distributions and keys the pairwise sessions."""
    return IdentityKeyPair.from_seed(b64u_decode(item["member_seed"], ED25519_SEED_BYTES))


def member_key(item: dict[str, Any]) -> bytes:
    return member_identity(item).public


def state_of(item: dict[str, Any]) -> GroupState | None:
    raw = item.get("state")
    return None if raw is None else decode_group_state(b64u_decode(raw))


def with_state(item: dict[str, Any], state: GroupState) -> dict[str, Any]:
    return {**item, "state": b64u_encode(encode_group_state(state))}


def warn(item: dict[str, Any], text: str) -> dict[str, Any]:
    """The item with one more warning shown on the group (the oldest dropped past the limit)."""
    warnings = [*item.get("warnings", []), text]
    return {**item, "warnings": warnings[-MAX_WARNINGS:]}


def join_request(item: dict[str, Any], note: str) -> bytes:
    """The `group_join` payload (section 6) the moderator receives over the member-key session."""
    return payloads.encode_group_join(
        group_id(item),
        member_key(item),
        item["name"],
        b64u_decode(item["salt"], GROUP_NAME_SALT_BYTES),
        note,
    )


# The moderator's side.


def create(
    moderator: IdentityKeyPair,
    listing: dict[str, Any],
    name: str,
    now: int,
    max_members: int = MAX_GROUP_MEMBERS,
    invite_only: bool = False,
) -> tuple[dict[str, Any], bytes]:
    """A new group hosted by `moderator`: its item and the first signed roster.

    The moderator takes part like any member, under a member key of its own,
    so that it can write in the group and receive sender keys.
    """
    new_id = secrets.token_bytes(ID_BYTES)
    item = new_item(new_id, "moderator", moderator.public, listing, name, now)
    entry = _entry_for(new_id, item, MEMBER_ADMITTED, 1)
    roster = Roster(
        group_id=new_id,
        version=1,
        flags=ROSTER_FLAG_INVITE_ONLY if invite_only else 0,
        max_members=max_members,
        moderators=(moderator.public,),
        entries=(entry,),
    )
    signed = group_roster.sign_roster(moderator.seed, roster)
    item, _events = accept_roster(item, signed)
    return item, signed


def _entry_for(gid: bytes, item: dict[str, Any], state: int, since: int) -> RosterEntry:
    key = member_key(item)
    salt = b64u_decode(item["salt"], GROUP_NAME_SALT_BYTES)
    return RosterEntry(
        key, state, since, group_roster.name_commitment(gid, key, item["name"], salt)
    )


def held_roster(item: dict[str, Any]) -> Roster:
    state = state_of(item)
    if state is None:
        raise NotAMemberError("This device holds no verified member list of the group yet.")
    return state.roster


def _next(roster: Roster, entries: list[RosterEntry], flags: int | None = None) -> Roster:
    return Roster(
        group_id=roster.group_id,
        version=roster.version + 1,
        flags=roster.flags if flags is None else flags,
        max_members=roster.max_members,
        moderators=roster.moderators,
        entries=tuple(sorted(entries, key=lambda e: e.member_key)),
    )


def add_request(item: dict[str, Any], join: dict[str, Any]) -> dict[str, Any]:
    """Keep a parsed `group_join` payload for the moderator to admit or decline."""
    if join.get("group") != item["group"]:
        raise MalformedError("The join request names another group.")
    requests = [r for r in item.get("requests", []) if r["member_key"] != join["member_key"]]
    request = {
        "member_key": join["member_key"],
        "name": join["name"],
        "salt": join["salt"],
        "note": join["note"],
    }
    return {**item, "requests": [*requests, request][-MAX_REQUESTS:]}


def find_request(item: dict[str, Any], key: str) -> dict[str, Any]:
    for request in item.get("requests", []):
        if request["member_key"] == key:
            return dict(request)
    raise MalformedError("There is no such join request.")


def drop_request(item: dict[str, Any], key: str, admitted: bool) -> dict[str, Any]:
    """The item without the request; an admitted member's name is remembered for the list."""
    request = find_request(item, key)
    known = dict(item.get("known", {}))
    if admitted:
        known[key] = request["name"]
    requests = [r for r in item.get("requests", []) if r["member_key"] != key]
    return {**item, "requests": requests, "known": known}


def admit(moderator: IdentityKeyPair, item: dict[str, Any], request: dict[str, Any]) -> bytes:
    """The next signed roster, with the requesting member key admitted under its name."""
    roster = held_roster(item)
    key = b64u_decode(request["member_key"], ED25519_PUBLIC_KEY_BYTES)
    if roster.entry(key) is not None:
        raise MalformedError("This member key is already in the group's member list.")
    commitment = group_roster.name_commitment(
        roster.group_id, key, request["name"], b64u_decode(request["salt"], GROUP_NAME_SALT_BYTES)
    )
    present = sum(1 for e in roster.entries if e.state in PRESENT)
    if present >= roster.max_members:
        raise MalformedError(f"The group is full ({roster.max_members} members).")
    entry = RosterEntry(key, MEMBER_ADMITTED, roster.version + 1, commitment)
    return group_roster.sign_roster(moderator.seed, _next(roster, [*roster.entries, entry]))


def set_member_state(
    signer: IdentityKeyPair, item: dict[str, Any], key: bytes, state: int
) -> bytes:
    """The next signed roster with one member muted, unmuted, left or removed.

    A moderator signs every change; a member who leaves tells the server, and
    the moderator's device records the departure in the next roster.
    """
    roster = held_roster(item)
    entry = roster.entry(key)
    if entry is None or entry.state not in PRESENT:
        raise NotAMemberError("That member is not in the group now.")
    changed = RosterEntry(key, state, roster.version + 1, entry.name_commitment)
    entries = [changed if e.member_key == key else e for e in roster.entries]
    return group_roster.sign_roster(signer.seed, _next(roster, entries))


def set_paused(moderator: IdentityKeyPair, item: dict[str, Any], paused: bool) -> bytes:
    roster = held_roster(item)
    flags = (roster.flags | ROSTER_FLAG_PAUSED) if paused else (roster.flags & ~ROSTER_FLAG_PAUSED)
    return group_roster.sign_roster(moderator.seed, _next(roster, list(roster.entries), flags))


def set_moderators(signer: IdentityKeyPair, item: dict[str, Any], moderators: list[bytes]) -> bytes:
    """The next signed roster naming `moderators` (a co-moderator added or removed).

    The signer stays a moderator: a moderator hands the group over by
    deleting it, never by signing itself out.
    """
    roster = held_roster(item)
    if signer.public not in moderators:
        raise MalformedError("A moderator cannot sign itself out of its group.")
    if not 1 <= len(moderators) <= MAX_GROUP_MODERATORS or len(set(moderators)) != len(moderators):
        raise MalformedError(f"A group has 1 to {MAX_GROUP_MODERATORS} different moderators.")
    changed = Roster(
        group_id=roster.group_id,
        version=roster.version + 1,
        flags=roster.flags,
        max_members=roster.max_members,
        moderators=tuple(moderators),
        entries=roster.entries,
    )
    return group_roster.sign_roster(signer.seed, changed)


def take_up_moderation(
    co_moderator: IdentityKeyPair,
    item: dict[str, Any],
    signed: bytes,
    trusted: bytes,
) -> tuple[dict[str, Any], bytes]:
    """A co-moderator's first step: verify the roster naming it, then admit its own member key.

    `signed` is the group's latest roster, verified against `trusted`, the
    identity key of the moderator who named this one (from the signed
    directory). The co-moderator then signs the next roster with its own new
    member key admitted, and from there on trusts rosters signed by either
    moderator, like every member (section 15.2).
    """
    gid = group_id(item)
    roster = group_roster.verify_first_roster(signed, gid, trusted)
    if co_moderator.public not in roster.moderators:
        raise NotAMemberError("The roster does not name this account as a moderator.")
    present = sum(1 for e in roster.entries if e.state in PRESENT)
    if present >= roster.max_members:
        raise MalformedError(f"The group is full ({roster.max_members} members).")
    entry = _entry_for(gid, item, MEMBER_ADMITTED, roster.version + 1)
    entries = [e for e in roster.entries if e.member_key != entry.member_key]
    own_signed = group_roster.sign_roster(co_moderator.seed, _next(roster, [*entries, entry]))
    # Its own signature is its anchor from now on: it verified the chain up to here.
    anchored = {**item, "moderator_key": b64u_encode(co_moderator.public)}
    new_item_value, _events = accept_roster(anchored, own_signed)
    return new_item_value, own_signed


def tombstone(moderator: IdentityKeyPair, item: dict[str, Any], sender: bytes, it: int) -> bytes:
    """A signed removal of the message `(sender key, iteration)` for everyone (section 15.6)."""
    return group_roster.sign_tombstone(moderator.seed, Tombstone(group_id(item), sender, it))


# Everyone's side: rosters, sender keys, messages.


def roster_events(old: Roster | None, new: Roster) -> list[RosterEvent]:
    """What the signed list says happened between `old` and `new`, never what the server says."""
    events = []
    for entry in new.entries:
        before = None if old is None else old.state_of(entry.member_key)
        if before == entry.state:
            continue
        kind = {
            MEMBER_LEFT: "left",
            MEMBER_REMOVED: "removed",
            MEMBER_MUTED: "muted",
            MEMBER_ADMITTED: "joined"
            if before in (None, MEMBER_LEFT, MEMBER_REMOVED)
            else "unmuted",
        }[entry.state]
        events.append(RosterEvent(new.version, kind, entry.member_key))
    return events


def _verify_first(item: dict[str, Any], signed: bytes, gid: bytes) -> tuple[bytes, Roster]:
    """A first roster signed by the host the member trusts, or by a co-moderator.

    The co-moderator must be one this member key wrote its request to (a
    therapist of the signed directory), in a roster that names the host too
    (section 15.2, "Co-moderation"). Returns the key that verified it.
    """
    host = b64u_decode(item["moderator_key"], ED25519_PUBLIC_KEY_BYTES)
    try:
        return host, group_roster.verify_first_roster(signed, gid, host)
    except ProtocolError:
        for known in item.get("co_moderators", {}).values():
            key = b64u_decode(known["identity_key"], ED25519_PUBLIC_KEY_BYTES)
            try:
                roster = group_roster.verify_first_roster(signed, gid, key)
            except ProtocolError:
                continue
            if host in roster.moderators:
                return key, roster
        raise


def accept_roster(item: dict[str, Any], signed: bytes) -> tuple[dict[str, Any], list[RosterEvent]]:
    """Verify a signed roster and adopt it; raises and changes nothing if it does not verify.

    The first roster is checked against the moderator key from the signed
    listing; later ones against the moderators already held, and never an
    older version (RosterRollbackError). A requester not in the roster stays
    "requested"; one whose entry shows it left or was removed ends there.
    """
    state = state_of(item)
    gid = group_id(item)
    if state is None:
        moderator_key, roster = _verify_first(item, signed, gid)
        own = roster.state_of(member_key(item))
        if own not in PRESENT:
            # Verified, but not (or no longer) for this member: nothing to hold.
            status = {MEMBER_LEFT: "left", MEMBER_REMOVED: "removed"}.get(own or 0, item["status"])
            return {**item, "status": status}, []
        new_state = sender_key.join(
            signed, gid, moderator_key, b64u_decode(item["member_seed"], ED25519_SEED_BYTES)
        )
        # Who was there before is the member list, not news: only "you joined".
        events = [e for e in roster_events(None, roster) if e.member_key == new_state.member_key]
    else:
        new_state = sender_key.accept_roster(state, signed)
        events = roster_events(state.roster, new_state.roster)
    own = new_state.roster.state_of(new_state.member_key)
    status = {MEMBER_LEFT: "left", MEMBER_REMOVED: "removed"}.get(own or 0, "member")
    new = with_state({**item, "roster": b64u_encode(signed), "status": status}, new_state)
    present = {b64u_encode(e.member_key) for e in new_state.roster.entries if e.state in PRESENT}
    if status != "member":
        # Nothing more is readable or sendable: the keys go, the history stays.
        present = set()
    for slot in ("sessions", "old_sessions"):
        new[slot] = {k: v for k, v in new.get(slot, {}).items() if k in present}
    return new, events


def display_name(item: dict[str, Any], key: bytes) -> str:
    """A member's name in this group: from its own key, its distribution, or a join request."""
    if key == member_key(item):
        return str(item["name"])
    state = state_of(item)
    if state is not None and key in state.names:
        return state.names[key]
    # A moderator knows the names of the members it admitted from their requests.
    known = item.get("known", {}).get(b64u_encode(key))
    return str(known) if known else UNNAMED


def unexpected_members(item: dict[str, Any], listed: list[bytes]) -> list[bytes]:
    """Member keys the server lists that the signed roster does not admit (never sent to)."""
    roster = held_roster(item)
    return [key for key in listed if roster.state_of(key) not in PRESENT]


def rotate_if_due(item: dict[str, Any], now: int) -> tuple[dict[str, Any], bytes | None]:
    """A new sender key when one is due (section 15.3), with the distribution to send.

    None when the current key may go on being used.
    """
    state = state_of(item)
    if state is None or state.roster.state_of(state.member_key) not in PRESENT:
        return item, None
    if not sender_key.needs_rotation(state, now):
        return item, None
    state = sender_key.create_sender_key(state, now)
    return with_state(item, state), distribution(item, state)


def distribution(item: dict[str, Any], state: GroupState | None = None) -> bytes:
    """The current sender key's distribution, signed by the member key."""
    state = state or state_of(item)
    if state is None:
        raise NotAMemberError()
    salt = b64u_decode(item["salt"], GROUP_NAME_SALT_BYTES)
    return sender_key.distribution_message(state, item["name"], salt)


def recipients(item: dict[str, Any]) -> list[bytes]:
    state = state_of(item)
    return [] if state is None else sender_key.recipients(state)


def receive_distribution(item: dict[str, Any], data: bytes) -> dict[str, Any]:
    state = state_of(item)
    if state is None:
        raise NotAMemberError("This device holds no member list of the group yet.")
    return with_state(item, sender_key.process_distribution(state, data))


def encrypt(item: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bytes]:
    state = state_of(item)
    if state is None:
        raise NotAMemberError()
    new_state, message = sender_key.group_encrypt(state, payload)
    return with_state(item, new_state), message


def decrypt(item: dict[str, Any], data: bytes) -> tuple[dict[str, Any], GroupPlaintext]:
    state = state_of(item)
    if state is None:
        raise NotAMemberError()
    new_state, plaintext = sender_key.group_decrypt(state, data)
    return with_state(item, new_state), plaintext


def verify_tombstone(item: dict[str, Any], signed: bytes) -> Tombstone:
    return group_roster.verify_tombstone(signed, held_roster(item))


# The pairwise channel between member keys (section 15.1).


def session_bundle(gid: bytes, answer: dict[str, Any]) -> dict[str, Any]:
    """A member key's bundle (docs/API.md, Groups) in the shape session set-up reads.

    The server names the member key instead of an account; the account field
    is not part of any key agreement (the associated data holds the identity
    keys), so the group id stands in for it.
    """
    if not isinstance(answer, dict) or answer.get("member_key", answer.get("identity_key")) != (
        answer.get("identity_key")
    ):
        raise MalformedError("The server sent the bundle of another key.")
    fields = ("identity_key", "signed_prekey", "pq_prekey", "one_time_prekey")
    return {"account": b64u_encode(gid), **{k: answer.get(k) for k in fields}}


def seal_pairwise(
    item: dict[str, Any], peer: bytes, payload: bytes, bundle: dict[str, Any] | None
) -> tuple[dict[str, Any], bytes]:
    """Encrypt a payload to another member key, starting a session from its bundle if needed."""
    identity = member_identity(item)
    key = b64u_encode(peer)
    stored = item.get("sessions", {}).get(key)
    if stored is not None:
        state = decode_state(b64u_decode(stored))
    else:
        if bundle is None:
            raise MalformedError("A first message to a member needs its member key's bundle.")
        parsed = parse_bundle(bundle)
        if parsed.identity_key != peer:
            raise MalformedError("The keys offered are not the member key of the roster.")
        state = sessions.start_session(identity, parsed)
    outgoing = sessions.encrypt(state, payload)
    stored_sessions = {**item.get("sessions", {}), key: b64u_encode(encode_state(outgoing.state))}
    return {**item, "sessions": stored_sessions}, outgoing.envelope


def open_pairwise(
    identity: IdentityKeyPair, prekeys: dict[str, Any], session: str | None, data: bytes
) -> tuple[bytes, bytes, str, dict[str, Any] | None]:
    """Open an envelope to a member key (or, for a join request, to the moderator's identity).

    Returns (sender's key, payload, new session, new prekeys item or None).
    """
    # A pairwise group session is one state (section 15): it is opened as a
    # record of one, and the session that opened the message is kept.
    record = None if session is None else (decode_state(b64u_decode(session)),)
    received = sessions.decrypt(identity, data, record, store_from_item(prekeys))
    peer = sessions.peer_identity(received.state, identity.public)
    new_prekeys = None if received.prekeys is None else store_to_item(received.prekeys)
    return peer, received.payload, b64u_encode(encode_state(received.state)), new_prekeys


def open_member_envelope(
    item: dict[str, Any], sender: bytes | None, data: bytes
) -> tuple[dict[str, Any], bytes, bytes]:
    """Open a pairwise envelope to this member: (new item, sender member key, payload).

    Only a member present in the held roster is a sender this member talks to
    (a key the server slipped in gets NotAMemberError, and nothing changes).
    Two members may start a session with each other at the same moment; each
    then answers in the session the other started, so the session a new one
    replaced is kept (`old_sessions`) and tried when the current one fails.
    """
    key = None if sender is None else b64u_encode(sender)
    current = None if key is None else item.get("sessions", {}).get(key)
    previous = None if key is None else item.get("old_sessions", {}).get(key)
    identity = member_identity(item)
    slot = "sessions"
    try:
        peer, payload, session, prekeys = open_pairwise(identity, item["prekeys"], current, data)
    except ProtocolError:
        if previous is None:
            raise
        peer, payload, session, prekeys = open_pairwise(identity, item["prekeys"], previous, data)
        slot = "old_sessions"
    roster = held_roster(item)
    if roster.state_of(peer) not in PRESENT:
        raise NotAMemberError("The sender is not in the group's signed member list.")
    peer_key = b64u_encode(peer)
    new = {**item, slot: {**item.get(slot, {}), peer_key: session}}
    if prekeys is not None:
        new["prekeys"] = prekeys
        if slot == "sessions" and current is not None:
            new["old_sessions"] = {**item.get("old_sessions", {}), peer_key: current}
    return new, peer, payload


def seal_to_moderator(
    item: dict[str, Any], payload: bytes, bundle: Bundle | None
) -> tuple[dict[str, Any], bytes]:
    """Encrypt a payload from the member key to the moderator's account (join request, report).

    The session's initiator identity is the member key, so the moderator
    learns which account asks only if the note says so (section 15.3).
    """
    stored = item.get("moderator_session")
    if stored is not None:
        state = decode_state(b64u_decode(stored))
    else:
        if bundle is None:
            raise MalformedError("A first message to the moderator needs their bundle.")
        if bundle.identity_key != b64u_decode(item["moderator_key"], ED25519_PUBLIC_KEY_BYTES):
            raise MalformedError("The keys offered are not the moderator's signed identity key.")
        state = sessions.start_session(member_identity(item), bundle)
    outgoing = sessions.encrypt(state, payload)
    session = b64u_encode(encode_state(outgoing.state))
    return {**item, "moderator_session": session}, outgoing.envelope


def seal_to_co_moderator(
    item: dict[str, Any], account: str, key: bytes, payload: bytes, bundle: Bundle | None
) -> tuple[dict[str, Any], bytes]:
    """Encrypt a join request or report to a co-moderator's account, as to the host."""
    known = dict(item.get("co_moderators", {}))
    stored = known.get(account, {}).get("session")
    if stored is not None:
        state = decode_state(b64u_decode(stored))
    else:
        if bundle is None or bundle.identity_key != key:
            raise MalformedError("The keys offered are not the co-moderator's identity key.")
        state = sessions.start_session(member_identity(item), bundle)
    outgoing = sessions.encrypt(state, payload)
    known[account] = {
        "identity_key": b64u_encode(key),
        "session": b64u_encode(encode_state(outgoing.state)),
    }
    return {**item, "co_moderators": known}, outgoing.envelope


def open_from_moderator(item: dict[str, Any], data: bytes) -> tuple[dict[str, Any], bytes]:
    """Open a moderator's answer to this member key (a decline) in its join session.

    The host's session is tried first, then each co-moderator's this member
    key wrote to; the answer must come from the key of the session it opens in.
    """
    stored = item.get("moderator_session")
    if stored is not None:
        try:
            peer, payload, session, _prekeys = open_pairwise(
                member_identity(item), item["prekeys"], stored, data
            )
        except ProtocolError:
            peer = None
        if peer is not None:
            if peer != b64u_decode(item["moderator_key"], ED25519_PUBLIC_KEY_BYTES):
                raise MalformedError("The answer does not come from the group's moderator.")
            return {**item, "moderator_session": session}, payload
    for account, known in item.get("co_moderators", {}).items():
        try:
            peer, payload, session, _prekeys = open_pairwise(
                member_identity(item), item["prekeys"], known["session"], data
            )
        except ProtocolError:
            continue
        if b64u_encode(peer) != known["identity_key"]:
            raise MalformedError("The answer does not come from the group's co-moderator.")
        co = {**item["co_moderators"], account: {**known, "session": session}}
        return {**item, "co_moderators": co}, payload
    raise MalformedError("There is no session with the moderator to open this.")


def open_from_applicant(
    moderator: IdentityKeyPair,
    prekeys: dict[str, Any],
    item: dict[str, Any],
    sender: str,
    data: bytes,
) -> tuple[dict[str, Any], bytes, dict[str, Any] | None]:
    """The moderator opens a member key's envelope (join request, report) with its account keys.

    Returns (new item, payload, new account prekeys item or None).
    """
    stored = item.get("applicants", {}).get(sender)
    peer, payload, session, new_prekeys = open_pairwise(moderator, prekeys, stored, data)
    if b64u_encode(peer) != sender:
        raise MalformedError("The envelope is not from the member key the server names.")
    applicants = {**item.get("applicants", {}), sender: session}
    return {**item, "applicants": applicants}, payload, new_prekeys


def seal_to_applicant(
    item: dict[str, Any], key: str, payload: bytes
) -> tuple[dict[str, Any], bytes]:
    """The moderator answers a member key in the session its request set up."""
    stored = item.get("applicants", {}).get(key)
    if stored is None:
        raise MalformedError("There is no session with this member key to answer in.")
    outgoing = sessions.encrypt(decode_state(b64u_decode(stored)), payload)
    applicants = {**item.get("applicants", {}), key: b64u_encode(encode_state(outgoing.state))}
    return {**item, "applicants": applicants}, outgoing.envelope
