"""Peer-support groups over the server (twin of client_web/app/groups.js; API.md "Groups").

The protocol work is client_py/group_items.py's; this module moves its bytes
to and from the server and commits every change to the `group` item together
with what caused it:

- a stream item (roster, message, tombstone) is acknowledged with the vault
  writes it causes (`POST /api/groups/{group}/ack`), through
  `retry_on_conflict`, so that no message is handled twice or lost;
- envelopes between member keys (sender keys, join requests, declines,
  reports) are sealed into the item's `outbox` and committed before any of
  them leaves, then sent with their cmid, so a retry is stored once;
- a signed roster is verified before anything is encrypted, and the events a
  person sees ("X joined", "X was removed") come from it alone.

Items the vault gains, besides `group`: `group_message` (one text in a
group's conversation), `group_event` (a change of the signed member list) and
`group_report` (a member's private report, kept by the moderator).
"""

import json
import time
from dataclasses import dataclass
from typing import Any

from client_py import directory as therapists
from client_py import group_items, sender
from client_py.api import b64u_field, field
from client_py.errors import BadInputError, ServerError, UnknownPeerError, VaultConflictError
from client_py.ids import new_id
from client_py.vaultstore import Batch, Item, retry_on_conflict
from client_py.workspace import Workspace
from crypto import payload as payloads
from crypto.constants import (
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
)
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import (
    MalformedError,
    MissingSenderKeyError,
    NotAMemberError,
    ProtocolError,
    RosterOutdatedError,
    StaleSenderKeyError,
)
from crypto.group_message import parse_group_message
from crypto.sender_key import needs_rotation
from crypto.signatures import sign_group_listing, verify_group_listing

# Refusals of a group message that waiting does not change: the message is dropped.
FINAL_SEND_REFUSALS = frozenset(
    {"group_paused", "muted", "not_a_member", "malformed", "too_large", "not_found", "forbidden"}
)
# Stream ids remembered per group, so an item seen twice (pulled, then pushed
# live) is handled once.
HANDLED_KEPT = 500
# Group messages that wait for their sender's key (it travels on another
# path and may come later); beyond this many the oldest are given up.
PENDING_KEPT = 200

EVENT_WORDS = {
    "joined": "{name} joined",
    "left": "{name} left",
    "removed": "{name} was removed",
    "muted": "{name} was muted by the moderator",
    "unmuted": "{name} can write again",
}
WARN_UNLISTED = (
    "Someone the moderator did not admit tried to reach you in this group. "
    "Nothing was shared with them."
)
WARN_UNREADABLE = (
    "A group message came under a key no listed member shared with you. It was not opened."
)
WARN_NOT_MEMBER = (
    "The server delivered messages of a group this account is not a member of. "
    "They were not opened."
)


@dataclass(frozen=True)
class Listing:
    """An open group in the directory whose listing signature verified."""

    group: str
    moderator: str
    identity_key: str
    listing: dict[str, Any]


@dataclass(frozen=True)
class GroupUpdate:
    """What one stream item or group envelope changed, for a person to be told."""

    group: str
    # message, event, removed, key, listing, request, report, declined, warning, none
    kind: str
    text: str = ""


def _now() -> int:
    return int(time.time())


def check_listing(listing: dict[str, Any]) -> bytes:
    """The listing's bytes as signed, after the limits the server applies (docs/API.md)."""
    for name, limit in GROUP_LISTING_TEXT_CHARS.items():
        value = listing.get(name, "")
        if not isinstance(value, str) or len(value) > limit:
            raise BadInputError(f"The group's {name} must be text of at most {limit} characters.")
    if not str(listing.get("name", "")).strip():
        raise BadInputError("A group needs a name.")
    data = json.dumps(listing, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_GROUP_LISTING_BYTES:
        raise BadInputError(f"The group's listing is larger than {MAX_GROUP_LISTING_BYTES} bytes.")
    return data


def _verified_listing(entry: Any) -> Listing | None:
    try:
        key = b64u_decode(entry["identity_key"], ED25519_PUBLIC_KEY_BYTES)
        data = b64u_decode(entry["listing"])
        verify_group_listing(key, data, b64u_decode(entry["sig"]))
        listing = json.loads(data.decode("utf-8"))
        b64u_decode(entry["group"], ID_BYTES)
        b64u_decode(entry["moderator"], ID_BYTES)
    except (ProtocolError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(listing, dict) or listing.get("group") != entry["group"]:
        return None
    return Listing(entry["group"], entry["moderator"], entry["identity_key"], listing)


async def listed(workspace: Workspace) -> list[Listing]:
    """The open groups of the directory whose signed listing verifies; others are left out."""
    answer = await workspace.http.get("/api/directory")
    groups = answer.get("groups", []) if isinstance(answer, dict) else []
    found = (_verified_listing(entry) for entry in groups if isinstance(entry, dict))
    return [listing for listing in found if listing is not None]


def items(workspace: Workspace) -> list[Item]:
    return workspace.vault.list("group")


def find(workspace: Workspace, text: str) -> Item:
    """A group item by id, unique id prefix, or listing name."""
    text = text.strip()
    all_items = items(workspace)
    for item in all_items:
        if item.value["group"] == text:
            return item
    matches = [
        item
        for item in all_items
        if (len(text) >= 4 and item.value["group"].startswith(text))
        or str(item.value.get("listing", {}).get("name", "")).casefold() == text.casefold()
    ]
    if len(matches) == 1:
        return matches[0]
    raise UnknownPeerError(
        "No such group in this account; use an id from `quietline client groups`."
    )


def _item(workspace: Workspace, group: str) -> Item:
    item = workspace.vault.find("group", group=group)
    if item is None:
        raise UnknownPeerError("This account takes no part in that group.")
    return item


def _queue(value: dict[str, Any], envelope: bytes, **route: str) -> dict[str, Any]:
    """The item with one more envelope to send; `route` is `to`, `to_key`, `from_key`."""
    entry = {"cmid": new_id(), "env": b64u_encode(envelope), **route}
    return {**value, "outbox": [*value.get("outbox", []), entry]}


def _next_seq(value: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A local arrival number: a group's conversation shows in the order it was received."""
    seq = int(value.get("seq", 0)) + 1
    return {**value, "seq": seq}, seq


async def _send_outbox(workspace: Workspace, group: str) -> None:
    """Send the item's sealed envelopes, then commit the item without them.

    Each goes with its own cmid, so one sent before a crash is stored once
    when sent again. A member key that is gone (it left, or was removed) is
    no longer an address: its envelope is dropped.
    """
    item = _item(workspace, group)
    outbox = list(item.value.get("outbox", []))
    if not outbox:
        return
    done = set()
    for entry in outbox:
        try:
            await workspace.channel.send(
                entry["cmid"],
                entry.get("to"),
                b64u_decode(entry["env"]),
                [],
                to_key=entry.get("to_key"),
                from_key=entry.get("from_key"),
            )
        except ServerError as exc:
            # `forbidden`: a co-moderator no longer named is no address either.
            if exc.code not in ("not_found", "blocked", "forbidden"):
                raise
        done.add(entry["cmid"])

    def change() -> Batch:
        current = _item(workspace, group)
        rest = [e for e in current.value.get("outbox", []) if e["cmid"] not in done]
        batch = workspace.vault.batch()
        batch.put({**current.value, "outbox": rest}, current.id)
        return batch

    await workspace.commit_change(change)


async def _member_bundle(workspace: Workspace, value: dict[str, Any], key: bytes) -> Any:
    answer = await workspace.http.get(
        f"/api/groups/{value['group']}/keys/{b64u_encode(key)}/bundle"
    )
    if not isinstance(answer, dict) or answer.get("identity_key") != b64u_encode(key):
        raise BadInputError("The server sent the keys of another member.")
    return group_items.session_bundle(group_items.group_id(value), answer)


async def _distribute(
    workspace: Workspace, value: dict[str, Any], distribution: bytes, to: list[bytes]
) -> dict[str, Any]:
    """Seal this member's sender key to each of `to` over the pairwise sessions (section 15.3)."""
    return await _seal_to_members(workspace, value, payloads.encode_group_key(distribution), to)


def _signed_listing(workspace: Workspace, value: dict[str, Any]) -> bytes:
    """The `group_listing` payload (section 15.9): the listing as held, signed again here."""
    data = check_listing(value.get("listing", {}))
    return payloads.encode_group_listing(data, sign_group_listing(workspace.identity.seed, data))


def _private(value: dict[str, Any]) -> bool:
    state = group_items.state_of(value)
    return state is not None and bool(state.roster.flags & ROSTER_FLAG_INVITE_ONLY)


async def _share_listing(
    workspace: Workspace, value: dict[str, Any], to: list[bytes]
) -> dict[str, Any]:
    """A moderator gives a private group's signed listing to members, end to end encrypted.

    The server holds no listing of a private group (it never learns its name),
    so members learn name, rules and rhythm only from the moderator.
    """
    if value.get("role") != "moderator" or not _private(value) or not to:
        return value
    return await _seal_to_members(workspace, value, _signed_listing(workspace, value), to)


def _accept_listing(value: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Hold a private group's listing once a moderator of the signed roster signed it."""
    data = b64u_decode(payload["listing"], max_length=MAX_GROUP_LISTING_BYTES)
    sig = b64u_decode(payload["sig"])
    state = group_items.state_of(value)
    moderators = (
        state.roster.moderators
        if state is not None
        else (b64u_decode(value["moderator_key"], ED25519_PUBLIC_KEY_BYTES),)
    )
    for key in moderators:
        try:
            verify_group_listing(key, data, sig)
            break
        except ProtocolError:
            continue
    else:
        raise MalformedError("The group's listing is not signed by its moderator.")
    try:
        listing = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedError("The group's listing is not JSON.") from exc
    if not isinstance(listing, dict) or listing.get("group") != value["group"]:
        raise MalformedError("The listing names another group.")
    check_listing(listing)
    return {**value, "listing": listing}


async def _seal_to_members(
    workspace: Workspace, value: dict[str, Any], body: bytes, to: list[bytes]
) -> dict[str, Any]:
    """Seal one payload to each of `to` over the pairwise sessions between member keys."""
    own = b64u_encode(group_items.member_key(value))
    for key in to:
        bundle = None
        if b64u_encode(key) not in value.get("sessions", {}):
            try:
                bundle = await _member_bundle(workspace, value, key)
            except ServerError as exc:
                if exc.code != "not_found":
                    raise
                # Admitted but not registered (yet): it fetches ours when it joins.
                continue
        value, envelope = group_items.seal_pairwise(value, key, body, bundle)
        value = _queue(value, envelope, to_key=b64u_encode(key), from_key=own)
    return value


async def _rotate(workspace: Workspace, value: dict[str, Any], now: int) -> dict[str, Any]:
    """A new sender key when one is due, sealed to every member but this one."""
    value, distribution = group_items.rotate_if_due(value, now)
    if distribution is None:
        return value
    return await _distribute(workspace, value, distribution, group_items.recipients(value))


def _event_item(value: dict[str, Any], event: group_items.RosterEvent, seq: int) -> dict[str, Any]:
    name = group_items.display_name(value, event.member_key)
    return {
        "kind": "group_event",
        "group": value["group"],
        "version": event.version,
        "event": event.kind,
        "member": b64u_encode(event.member_key),
        "name": name,
        "seq": seq,
    }


def event_text(event: dict[str, Any]) -> str:
    words = EVENT_WORDS.get(str(event.get("event")), "{name}: the member list changed")
    return words.format(name=event.get("name") or "A member")


async def _adopt_roster(
    workspace: Workspace, value: dict[str, Any], signed: bytes, batch: Batch
) -> tuple[dict[str, Any], list[GroupUpdate]]:
    """Verify and adopt a roster; record its events; rotate or share keys as it requires."""
    was_member = value.get("status") == "member"
    value, events = group_items.accept_roster(value, signed)
    value = _role_from_roster(workspace, value)
    if value.get("requests"):
        # A request the other moderator answered with a roster is no longer waiting.
        roster = group_items.held_roster(value)
        waiting = [
            r
            for r in value["requests"]
            if roster.entry(b64u_decode(r["member_key"], ED25519_PUBLIC_KEY_BYTES)) is None
        ]
        value = {**value, "requests": waiting}
    updates = []
    own = group_items.member_key(value)
    for event in events:
        value, seq = _next_seq(value)
        event_value = _event_item(value, event, seq)
        batch.put(event_value)
        updates.append(GroupUpdate(value["group"], "event", event_text(event_value)))
    if value.get("status") != "member":
        return value, updates
    state = group_items.state_of(value)
    if state is None:
        return value, updates
    if needs_rotation(state, _now()) or not was_member:
        value = await _rotate(workspace, value, _now())
    else:
        joined = [e.member_key for e in events if e.kind == "joined" and e.member_key != own]
        if joined:
            value = await _distribute(workspace, value, group_items.distribution(value), joined)
    joined = [e.member_key for e in events if e.kind == "joined" and e.member_key != own]
    value = await _share_listing(workspace, value, joined)
    value = await _retry_pending(value, batch)
    return value, updates


def _role_from_roster(workspace: Workspace, value: dict[str, Any]) -> dict[str, Any]:
    """A therapist moderates exactly while the signed roster names its identity key.

    A co-moderator another moderator stops naming goes on as a member.
    """
    state = group_items.state_of(value)
    if state is None or workspace.role != "therapist":
        return value
    named = workspace.identity.public in state.roster.moderators
    return {**value, "role": "moderator" if named else "member"}


async def _latest_roster(
    workspace: Workspace, value: dict[str, Any], batch: Batch
) -> tuple[dict[str, Any], list[GroupUpdate]]:
    """Fetch the group's latest signed roster and adopt it if it is newer.

    An older one than held, offered as the latest, is a rollback: refused and shown.
    """
    answer = await workspace.http.get(f"/api/groups/{value['group']}")
    raw = answer.get("roster") if isinstance(answer, dict) else None
    if not isinstance(raw, str) or raw == value.get("roster"):
        return value, []
    try:
        return await _adopt_roster(workspace, value, b64u_decode(raw), batch)
    except ProtocolError as exc:
        return group_items.warn(value, exc.message), [
            GroupUpdate(value["group"], "warning", exc.message)
        ]


def _store_text(
    value: dict[str, Any], batch: Batch, plain: Any, sid: str | None
) -> tuple[dict[str, Any], GroupUpdate | None]:
    """Keep an opened group text as a `group_message` item (unless a tombstone came first)."""
    try:
        payload = payloads.parse(plain.payload)
    except ProtocolError:
        return value, None
    if payload.get("type") != "text":
        return value, None
    mark = f"{b64u_encode(plain.sender_key)}:{plain.iteration}"
    removed = mark in value.get("tombstones", [])
    value, seq = _next_seq(value)
    name = group_items.display_name(value, plain.member_key)
    batch.put(
        {
            "kind": "group_message",
            "group": value["group"],
            "id": payload["id"],
            "sid": sid,
            "sender": b64u_encode(plain.member_key),
            "name": name,
            "sk": b64u_encode(plain.sender_key),
            "it": plain.iteration,
            "sent": payload["sent"],
            "body": "" if removed else payload["body"],
            "removed": removed,
            "dir": "in",
            "seq": seq,
        }
    )
    text = "" if removed or value.get("muted") else f"{name}: {payload['body']}"
    return value, GroupUpdate(value["group"], "message", text)


async def _retry_pending(value: dict[str, Any], batch: Batch) -> dict[str, Any]:
    """Open the messages that waited for a sender key this member now holds."""
    waiting = list(value.get("pending", []))
    if not waiting:
        return value
    still = []
    for raw in waiting:
        try:
            value, plain = group_items.decrypt(value, b64u_decode(raw))
        except MissingSenderKeyError:
            still.append(raw)
            continue
        except ProtocolError:
            continue
        value, _update = _store_text(value, batch, plain, None)
    return {**value, "pending": still}


def _own_message(value: dict[str, Any], sender: bytes) -> bool:
    return b64u_encode(sender) in value.get("own_keys", [])


async def _apply_stream(
    workspace: Workspace, value: dict[str, Any], kind: str, body: bytes, sid: str, batch: Batch
) -> tuple[dict[str, Any], list[GroupUpdate]]:
    group = value["group"]
    if kind == "roster":
        try:
            return await _adopt_roster(workspace, value, body, batch)
        except ProtocolError as exc:
            if exc.code == "roster_rollback":
                # Already adopted (from the group's latest, or our own change).
                return value, []
            text = "A member list without the moderator's valid signature was refused."
            return group_items.warn(value, text), [GroupUpdate(group, "warning", text)]
    if kind == "tombstone":
        try:
            stone = group_items.verify_tombstone(value, body)
        except ProtocolError:
            text = "A removal without the moderator's valid signature was ignored."
            return group_items.warn(value, text), [GroupUpdate(group, "warning", text)]
        mark = f"{b64u_encode(stone.sender_key)}:{stone.iteration}"
        value = {**value, "tombstones": [*value.get("tombstones", []), mark][-HANDLED_KEPT:]}
        for message in workspace.vault.list("group_message", group=group):
            if (
                message.value.get("sk") == b64u_encode(stone.sender_key)
                and message.value.get("it") == stone.iteration
            ):
                batch.put({**message.value, "body": "", "removed": True}, message.id)
        return value, [GroupUpdate(group, "removed", "The moderator removed a message.")]
    if kind != "message":
        return value, []
    header = parse_group_message(body).header
    if _own_message(value, header.sender_key):
        return value, []
    try:
        value, plain = group_items.decrypt(value, body)
    except RosterOutdatedError:
        value, _updates = await _latest_roster(workspace, value, batch)
        try:
            value, plain = group_items.decrypt(value, body)
        except ProtocolError as exc:
            return _unreadable(value, body, exc)
    except ProtocolError as exc:
        return _unreadable(value, body, exc)
    value, update = _store_text(value, batch, plain, sid)
    return value, [] if update is None else [update]


def _unreadable(
    value: dict[str, Any], body: bytes, error: ProtocolError
) -> tuple[dict[str, Any], list[GroupUpdate]]:
    if isinstance(error, MissingSenderKeyError) and value.get("status") == "member":
        # The key may still be on its way over the pairwise channel.
        pending = [*value.get("pending", []), b64u_encode(body)][-PENDING_KEPT:]
        return {**value, "pending": pending}, []
    if value.get("status") != "member":
        return value, []
    text = (
        WARN_UNREADABLE
        if isinstance(error, MissingSenderKeyError | NotAMemberError)
        else error.message
    )
    return group_items.warn(value, text), [GroupUpdate(value["group"], "warning", text)]


async def _named_moderator(workspace: Workspace, group: str) -> bool:
    answer = await workspace.http.get("/api/groups")
    entries = answer.get("groups", []) if isinstance(answer, dict) else []
    return any(
        isinstance(e, dict) and e.get("group") == group and e.get("role") == "moderator"
        for e in entries
    )


async def moderation_offers(workspace: Workspace) -> list[str]:
    """Groups whose roster names this account moderator and that it has not taken up."""
    if workspace.role != "therapist":
        return []
    answer = await workspace.http.get("/api/groups")
    entries = answer.get("groups", []) if isinstance(answer, dict) else []
    return [
        str(e["group"])
        for e in entries
        if isinstance(e, dict)
        and e.get("role") == "moderator"
        and workspace.vault.find("group", group=e.get("group")) is None
    ]


async def handle_stream_item(workspace: Workspace, frame: dict[str, Any]) -> list[GroupUpdate]:
    """Handle one item of a group's stream (a live `group` frame) and acknowledge it."""
    async with workspace.lock:
        return await _handle_stream_item(workspace, frame)


async def _handle_stream_item(workspace: Workspace, frame: dict[str, Any]) -> list[GroupUpdate]:
    group = field(frame, "group", str)
    sid = field(frame, "id", str)
    kind = field(frame, "kind", str)
    body = b64u_field(frame, "body")

    async def attempt() -> list[GroupUpdate]:
        item = workspace.vault.find("group", group=group)
        batch = workspace.vault.batch()
        updates: list[GroupUpdate] = []
        if item is None:
            # Named co-moderator by another therapist and not taken up yet:
            # the group is routed to this account, and nothing is wrong.
            updates = (
                []
                if await _named_moderator(workspace, group)
                else [GroupUpdate(group, "warning", WARN_NOT_MEMBER)]
            )
        elif sid in item.value.get("handled", []):
            # Handled and acknowledged already (pulled, then pushed live).
            return []
        else:
            value, updates = await _apply_stream(workspace, item.value, kind, body, sid, batch)
            handled = [*value.get("handled", []), sid][-HANDLED_KEPT:]
            batch.put({**value, "handled": handled}, item.id)
        wire = batch.wire()
        try:
            await workspace.http.post(f"/api/groups/{group}/ack", {"id": sid, "vault": wire})
        except ServerError as exc:
            if exc.code not in ("not_found", "not_a_member"):
                raise
            # Another device of this account handled it first, or the
            # membership ended with an earlier item: nothing is left to do.
            await workspace.sync()
            return []
        workspace.vault.apply(wire)
        return updates

    updates = await retry_on_conflict(attempt, workspace.sync)
    if workspace.vault.find("group", group=group) is not None and workspace.open_channel:
        await _send_outbox(workspace, group)
    return updates


async def pull(workspace: Workspace, group: str) -> list[GroupUpdate]:
    """Fetch and handle everything of the group's stream after this member's cursor."""
    updates: list[GroupUpdate] = []
    status = _item(workspace, group).value.get("status")
    if status in ("declined", "left", "removed"):
        return updates
    async with workspace.lock:
        while True:
            try:
                answer = await workspace.http.get(f"/api/groups/{group}/messages")
            except ServerError as exc:
                # Not admitted yet: the roster that admits it will open the stream.
                if status == "requested" and exc.code in ("not_found", "not_a_member"):
                    return updates
                raise
            stream = field(answer, "messages", list)
            for entry in stream:
                updates += await _handle_stream_item(workspace, {**entry, "group": group})
            if not stream or not answer.get("more"):
                break
        updates += await _moderate_departures(workspace, group)
        await _flush_unsent(workspace, group)
    return updates


async def handle_envelope(workspace: Workspace, frame: dict[str, Any]) -> GroupUpdate:
    """Open an envelope of a group (docs/API.md, "Groups") and acknowledge it with its writes.

    To the moderator's account: a join request or a report. From the
    moderator to a member key: a decline. Between member keys: a sender key.
    Whatever does not verify is acknowledged with a warning and changes nothing else.
    """
    group = field(frame, "group", str)
    envelope_id = field(frame, "id", str)
    data = b64u_field(frame, "env")
    from_key = frame.get("from_key")
    to_key = frame.get("to_key")

    async def attempt() -> GroupUpdate:
        item = workspace.vault.find("group", group=group)
        batch = workspace.vault.batch()
        if item is None:
            update = GroupUpdate(group, "warning", WARN_NOT_MEMBER)
        else:
            try:
                value, update = await _open_group_envelope(
                    workspace, item.value, from_key, to_key, data, batch
                )
            except ProtocolError as exc:
                value, update = _refused_envelope(item.value, from_key, exc)
            batch.put(value, item.id)
        wire = batch.wire()
        try:
            await workspace.channel.ack(envelope_id, wire)
        except ServerError as exc:
            if exc.code != "not_found":
                raise
            await workspace.sync()
            return GroupUpdate(group, "none")
        workspace.vault.apply(wire)
        return update

    async with workspace.lock:
        update = await retry_on_conflict(attempt, workspace.sync)
        if workspace.vault.find("group", group=group) is not None:
            await _send_outbox(workspace, group)
    return update


def _refused_envelope(
    value: dict[str, Any], from_key: Any, error: ProtocolError
) -> tuple[dict[str, Any], GroupUpdate]:
    """What an envelope that does not open leaves behind: a warning, or nothing.

    A key from before a removal, or from a member who has since left, is
    expected on a busy group and passes silently; a sender the signed list
    never admitted is shown as a warning.
    """
    group = value["group"]
    state = group_items.state_of(value)
    listed = (
        state is not None
        and isinstance(from_key, str)
        and state.roster.entry(b64u_decode(from_key, ED25519_PUBLIC_KEY_BYTES)) is not None
    )
    if isinstance(error, StaleSenderKeyError) or (isinstance(error, NotAMemberError) and listed):
        return value, GroupUpdate(group, "none")
    text = WARN_UNLISTED if isinstance(error, NotAMemberError) else error.message
    return group_items.warn(value, text), GroupUpdate(group, "warning", text)


async def _open_group_envelope(
    workspace: Workspace,
    value: dict[str, Any],
    from_key: Any,
    to_key: Any,
    data: bytes,
    batch: Batch,
) -> tuple[dict[str, Any], GroupUpdate]:
    group = value["group"]
    if to_key is None:
        if not isinstance(from_key, str) or value.get("role") != "moderator":
            raise NotAMemberError("An envelope to the moderator names no member key.")
        prekeys = workspace.vault.find("prekeys")
        if prekeys is None:
            raise NotAMemberError("This account holds no prekeys.")
        value, raw, new_prekeys = group_items.open_from_applicant(
            workspace.identity, prekeys.value, value, from_key, data
        )
        if new_prekeys is not None:
            batch.put(new_prekeys, prekeys.id)
        payload = payloads.parse(raw)
        if payload.get("type") == "group_join":
            if payload["member_key"] != from_key:
                raise NotAMemberError("A join request must come from the member key it names.")
            value = group_items.add_request(value, payload)
            return value, GroupUpdate(group, "request", f"{payload['name']} asks to join.")
        if payload.get("type") == "text":
            value, seq = _next_seq(value)
            name = group_items.display_name(value, b64u_decode(from_key, ED25519_PUBLIC_KEY_BYTES))
            batch.put(
                {
                    "kind": "group_report",
                    "group": group,
                    "member": from_key,
                    "name": name,
                    "sent": payload["sent"],
                    "body": payload["body"],
                    "seq": seq,
                }
            )
            return value, GroupUpdate(group, "report", f"{name} reported a message.")
        return value, GroupUpdate(group, "none")
    if to_key != b64u_encode(group_items.member_key(value)):
        raise NotAMemberError("The envelope is for another member key.")
    if from_key is None:
        value, raw = group_items.open_from_moderator(value, data)
        payload = payloads.parse(raw)
        if payload.get("type") == "text" and value.get("status") == "requested":
            value = {**value, "status": "declined", "declined": payload["body"]}
            return value, GroupUpdate(group, "declined", payload["body"])
        return value, GroupUpdate(group, "none")
    sender = b64u_decode(str(from_key), ED25519_PUBLIC_KEY_BYTES)
    state = group_items.state_of(value)
    if state is None or state.roster.state_of(sender) is None:
        # The sender, or this member, may have been admitted by a roster this
        # device has not taken in yet: the group's latest is verified first.
        value, _updates = await _latest_roster(workspace, value, batch)
    value, _peer, raw = group_items.open_member_envelope(value, sender, data)
    payload = payloads.parse(raw)
    if payload.get("type") == "group_key":
        value = group_items.receive_distribution(value, b64u_decode(payload["key"]))
        value = await _retry_pending(value, batch)
        return value, GroupUpdate(group, "key")
    if payload.get("type") == "group_listing":
        return _accept_listing(value, payload), GroupUpdate(group, "listing")
    return value, GroupUpdate(group, "none")


# Taking part.


async def create_group(
    workspace: Workspace,
    fields: dict[str, Any],
    name: str,
    *,
    invite_only: bool = False,
    max_members: int = MAX_GROUP_MEMBERS,
) -> str:
    """Host a new group: the first signed roster, and for an open group its signed listing."""
    workspace.require_therapist()
    value, signed = group_items.create(
        workspace.identity, {}, name, _now(), max_members, invite_only
    )
    listing = {"group": value["group"], **fields, "max_members": max_members}
    data = check_listing(listing)
    value = {**value, "listing": listing}
    body: dict[str, Any] = {"roster": b64u_encode(signed)}
    if not invite_only:
        body["listing"] = b64u_encode(data)
        body["sig"] = b64u_encode(sign_group_listing(workspace.identity.seed, data))
    async with workspace.lock:
        # Private keys are committed before anything refers to them.
        batch = workspace.vault.batch()
        item_id = batch.put(value)
        await workspace.commit(batch)
        await workspace.http.post("/api/groups", body)
        await _register(workspace, item_id)
    return str(value["group"])


async def _to_co_moderators(
    workspace: Workspace, value: dict[str, Any], payload: bytes, *, discover: bool
) -> dict[str, Any]:
    """Queue a join request (or report) to each co-moderator too, so either can answer.

    With `discover` (when asking to join), a co-moderator is any other
    moderator the server names for the group whose identity key the signed
    directory lists for the same account (the same trust as in a private
    group's host); a report goes to those the request went to.
    """
    own = b64u_encode(group_items.member_key(value))
    known = dict(value.get("co_moderators", {}))
    if discover:
        answer = await workspace.http.get(f"/api/groups/{value['group']}")
        keys = {t.account: t.identity_key for t in await therapists.cached(workspace)}
        for moderator in answer.get("moderators", []) if isinstance(answer, dict) else []:
            account = moderator.get("account") if isinstance(moderator, dict) else None
            listed = keys.get(account) if isinstance(account, str) else None
            if listed is None or listed != moderator.get("identity_key"):
                continue
            if account != value.get("moderator") and listed != value["moderator_key"]:
                known[str(account)] = {"identity_key": listed, "session": None}
    for account, entry in known.items():
        bundle = None
        if entry.get("session") is None:
            bundle = await sender.fetch_bundle(workspace, account)
        raw = b64u_decode(entry["identity_key"], ED25519_PUBLIC_KEY_BYTES)
        value, envelope = group_items.seal_to_co_moderator(value, account, raw, payload, bundle)
        value = _queue(value, envelope, to=account, from_key=own)
    return value


async def _register(workspace: Workspace, item_id: str) -> None:
    """Publish the member key's prekeys, which registers it for this account."""
    value = workspace.vault.items[item_id].value
    upload = value.get("key_upload")
    if upload is None:
        return
    key = b64u_encode(group_items.member_key(value))
    await workspace.http.put(f"/api/groups/{value['group']}/keys/{key}", upload)

    def change() -> Batch:
        current = workspace.vault.items[item_id]
        batch = workspace.vault.batch()
        batch.put({k: v for k, v in current.value.items() if k != "key_upload"}, item_id)
        return batch

    await workspace.commit_change(change)


async def _trusted_moderator(workspace: Workspace, group: str) -> tuple[str, bytes, dict[str, Any]]:
    """The moderator's account and identity key, trusted only from signed data.

    An open group's signed listing names them; for a private group the
    moderator must be a therapist of the signed directory with that same key.
    """
    for listing in await listed(workspace):
        if listing.group == group:
            return listing.moderator, b64u_decode(listing.identity_key), listing.listing
    answer = await workspace.http.get(f"/api/groups/{group}")
    keys = {t.account: t.identity_key for t in await therapists.cached(workspace)}
    for moderator in answer.get("moderators", []) if isinstance(answer, dict) else []:
        account = moderator.get("account")
        if account in keys and keys[account] == moderator.get("identity_key"):
            return (
                account,
                b64u_decode(keys[account]),
                {"group": group, "name": "Private group"},
            )
    raise UnknownPeerError("No therapist of the directory hosts this group.")


async def request_join(workspace: Workspace, group: str, name: str, note: str = "") -> None:
    """Ask to join under a fresh member key and a name for this group alone."""
    if workspace.vault.find("group", group=group) is not None:
        raise BadInputError("This account already takes part in that group (or asked to).")
    moderator, moderator_key, listing = await _trusted_moderator(workspace, group)
    value = group_items.new_item(
        b64u_decode(group, ID_BYTES), "member", moderator_key, listing, name, _now()
    )
    value["moderator"] = moderator
    bundle = await sender.fetch_bundle(workspace, moderator)
    request = group_items.join_request(value, note)
    value, envelope = group_items.seal_to_moderator(value, request, bundle)
    value = _queue(
        value, envelope, to=moderator, from_key=b64u_encode(group_items.member_key(value))
    )
    value = await _to_co_moderators(workspace, value, request, discover=True)
    async with workspace.lock:
        batch = workspace.vault.batch()
        item_id = batch.put(value)
        await workspace.commit(batch)
        await _register(workspace, item_id)
        await _send_outbox(workspace, group)


def requests(workspace: Workspace, group: str) -> list[dict[str, Any]]:
    return list(_item(workspace, group).value.get("requests", []))


async def _publish(workspace: Workspace, group: str, signed: bytes, extra: Any = None) -> None:
    """Upload a signed roster, then adopt it here with its events and key changes."""
    await workspace.http.put(f"/api/groups/{group}/roster", {"roster": b64u_encode(signed)})

    async def attempt() -> None:
        item = _item(workspace, group)
        batch = workspace.vault.batch()
        value = item.value if extra is None else extra(item.value)
        value, _updates = await _adopt_roster(workspace, value, signed, batch)
        batch.put(value, item.id)
        await workspace.commit(batch)

    await retry_on_conflict(attempt, workspace.sync)
    await _send_outbox(workspace, group)


def _moderator_item(workspace: Workspace, group: str) -> Item:
    workspace.require_therapist()
    item = _item(workspace, group)
    if item.value.get("role") != "moderator":
        raise BadInputError("Only the group's moderator can do that.")
    return item


async def _latest_moderator_item(workspace: Workspace, group: str) -> Item:
    """The moderator's item after taking in the group's latest roster.

    With a co-moderator, the other one may have signed newer versions; a
    roster is signed on top of the newest, or the server refuses it.
    """
    workspace.require_therapist()
    await _latest_and_rotate(workspace, group)
    return _moderator_item(workspace, group)


async def admit(workspace: Workspace, group: str, member_key: str) -> None:
    async with workspace.lock:
        item = await _latest_moderator_item(workspace, group)
        request = group_items.find_request(item.value, member_key)
        signed = group_items.admit(workspace.identity, item.value, request)
        await _publish(
            workspace,
            group,
            signed,
            lambda v: group_items.drop_request(v, member_key, admitted=True),
        )


async def _directory_key(workspace: Workspace, account: str) -> bytes:
    """A therapist's identity key as the signed directory lists it (fetched afresh)."""
    for therapist in await therapists.refresh(workspace):
        if therapist.account == account:
            return b64u_decode(therapist.identity_key, ED25519_PUBLIC_KEY_BYTES)
    raise UnknownPeerError("No therapist of the directory has that account.")


async def set_co_moderator(workspace: Workspace, group: str, account: str, add: bool) -> None:
    """Name (or stop naming) a second therapist as co-moderator, in a roster signed here.

    The co-moderator is known by its identity key in the signed directory;
    the server routes the group to its account from that key. A co-moderator
    no longer named keeps its member key (remove it like any member to end
    its reading too).
    """
    async with workspace.lock:
        item = await _latest_moderator_item(workspace, group)
        key = await _directory_key(workspace, account)
        current = list(group_items.held_roster(item.value).moderators)
        if add:
            if key in current:
                raise BadInputError("That therapist already moderates this group.")
            wanted = [*current, key]
        else:
            if key not in current:
                raise BadInputError("That therapist does not moderate this group.")
            wanted = [k for k in current if k != key]
        signed = group_items.set_moderators(workspace.identity, item.value, wanted)
        await _publish(workspace, group, signed)


async def take_up_moderation(workspace: Workspace, group: str, name: str) -> None:
    """Become co-moderator of a group another therapist named this account in.

    The latest roster must name this account's identity key and be signed by
    a therapist of the signed directory; this device then admits a member
    key of its own (so it writes and reads like the moderator) in a roster
    it signs, and from then on verifies rosters signed by either moderator.
    """
    workspace.require_therapist()
    if workspace.vault.find("group", group=group) is not None:
        raise BadInputError("This account already takes part in that group.")
    answer = await workspace.http.get(f"/api/groups/{group}")
    raw = answer.get("roster") if isinstance(answer, dict) else None
    if not isinstance(raw, str):
        raise UnknownPeerError("No other moderator has named this account in that group.")
    signed = b64u_decode(raw)
    keys = {t.identity_key for t in await therapists.refresh(workspace)}
    own = b64u_encode(workspace.identity.public)
    listing: dict[str, Any] = {"group": group, "name": "Private group"}
    for entry in await listed(workspace):
        if entry.group == group:
            listing = entry.listing
    for moderator in answer.get("moderators", []):
        key = moderator.get("identity_key") if isinstance(moderator, dict) else None
        if key == own or key not in keys:
            continue
        value = group_items.new_item(
            b64u_decode(group, ID_BYTES),
            "moderator",
            b64u_decode(key, ED25519_PUBLIC_KEY_BYTES),
            listing,
            name,
            _now(),
        )
        try:
            value, own_signed = group_items.take_up_moderation(
                workspace.identity, value, signed, b64u_decode(key, ED25519_PUBLIC_KEY_BYTES)
            )
        except ProtocolError:
            continue
        break
    else:
        raise UnknownPeerError("No therapist of the directory named this account moderator.")
    async with workspace.lock:
        # Private keys are committed before anything refers to them.
        batch = workspace.vault.batch()
        item_id = batch.put({**value, "status": "requested", "state": None, "roster": None})
        await workspace.commit(batch)
        await _register(workspace, item_id)
        await workspace.http.put(f"/api/groups/{group}/roster", {"roster": b64u_encode(own_signed)})

        async def attempt() -> None:
            item = workspace.vault.items[item_id]
            batch = workspace.vault.batch()
            adopted = {
                **item.value,
                "moderator_key": own,
                "state": value["state"],
                "roster": value["roster"],
                "status": value["status"],
            }
            # Its first key goes to every member, as for anyone who joins.
            adopted = await _rotate(workspace, adopted, _now())
            batch.put(adopted, item_id)
            await workspace.commit(batch)

        await retry_on_conflict(attempt, workspace.sync)
        await _send_outbox(workspace, group)


async def decline(workspace: Workspace, group: str, member_key: str, reason: str = "") -> None:
    """Decline a request: an answer in the requester's session, and nothing on the server."""
    text = reason.strip() or "The moderator did not admit this request."
    async with workspace.lock:

        def change() -> Batch:
            item = _moderator_item(workspace, group)
            group_items.find_request(item.value, member_key)
            body = payloads.encode_text(b64u_decode(new_id(), ID_BYTES), _now(), text)
            value, envelope = group_items.seal_to_applicant(item.value, member_key, body)
            value = group_items.drop_request(value, member_key, admitted=False)
            value = _queue(value, envelope, to_key=member_key)
            batch = workspace.vault.batch()
            batch.put(value, item.id)
            return batch

        await workspace.commit_change(change)
        await _send_outbox(workspace, group)


STATES = {"mute": MEMBER_MUTED, "unmute": MEMBER_ADMITTED, "remove": MEMBER_REMOVED}


async def set_member(workspace: Workspace, group: str, member_key: str, action: str) -> None:
    """Mute, unmute or remove a member: a new signed roster (a removal rotates every key)."""
    async with workspace.lock:
        item = await _latest_moderator_item(workspace, group)
        key = b64u_decode(member_key, ED25519_PUBLIC_KEY_BYTES)
        signed = group_items.set_member_state(workspace.identity, item.value, key, STATES[action])
        await _publish(workspace, group, signed)


async def set_paused(workspace: Workspace, group: str, paused: bool) -> None:
    async with workspace.lock:
        item = await _latest_moderator_item(workspace, group)
        await _publish(
            workspace, group, group_items.set_paused(workspace.identity, item.value, paused)
        )


async def edit_listing(workspace: Workspace, group: str, changes: dict[str, str]) -> None:
    """Change the rules (or another text of the listing), signed again by the moderator."""
    async with workspace.lock:
        item = _moderator_item(workspace, group)
        listing = {**item.value.get("listing", {}), **changes}
        data = check_listing(listing)
        roster = group_items.held_roster(item.value)
        if not roster.flags & ROSTER_FLAG_INVITE_ONLY:
            sig = sign_group_listing(workspace.identity.seed, data)
            await workspace.http.put(
                f"/api/groups/{group}/listing",
                {"listing": b64u_encode(data), "sig": b64u_encode(sig)},
            )

        async def attempt() -> None:
            current = _item(workspace, group)
            value = {**current.value, "listing": listing}
            # A private group's members hear of the change only from the moderator.
            value = await _share_listing(workspace, value, group_items.recipients(value))
            batch = workspace.vault.batch()
            batch.put(value, current.id)
            await workspace.commit(batch)

        await retry_on_conflict(attempt, workspace.sync)
        await _send_outbox(workspace, group)


def _message(workspace: Workspace, group: str, message_id: str) -> Item:
    found = workspace.vault.find("group_message", group=group, id=message_id)
    if found is None:
        raise BadInputError("No such message in this group; use an id from `group read`.")
    return found


async def remove_message(workspace: Workspace, group: str, message_id: str) -> None:
    """Remove a message for everyone with a signed tombstone every client honours."""
    async with workspace.lock:
        item = _moderator_item(workspace, group)
        message = _message(workspace, group, message_id)
        signed = group_items.tombstone(
            workspace.identity,
            item.value,
            b64u_decode(message.value["sk"], ED25519_PUBLIC_KEY_BYTES),
            int(message.value["it"]),
        )
        await workspace.http.post(
            f"/api/groups/{group}/tombstones", {"tombstone": b64u_encode(signed)}
        )

        def change() -> Batch:
            current = _message(workspace, group, message_id)
            batch = workspace.vault.batch()
            batch.put({**current.value, "body": "", "removed": True}, current.id)
            return batch

        await workspace.commit_change(change)


async def leave(workspace: Workspace, group: str) -> None:
    """Leave (or withdraw a request): the server stops delivering; the history stays here."""
    async with workspace.lock:
        item = _item(workspace, group)
        if item.value.get("role") == "moderator":
            raise BadInputError("A moderator closes a group rather than leaving it.")
        await workspace.http.delete(f"/api/groups/{group}/membership")

        def change() -> Batch:
            current = _item(workspace, group)
            value = {**current.value, "status": "left", "sessions": {}, "outbox": []}
            batch = workspace.vault.batch()
            batch.put(value, current.id)
            return batch

        await workspace.commit_change(change)


async def report(workspace: Workspace, group: str, message_id: str, reason: str) -> None:
    """Tell the moderator, privately, about a message; nobody else sees the report."""
    async with workspace.lock:
        item = _item(workspace, group)
        message = _message(workspace, group, message_id)
        quoted = str(message.value.get("body", ""))[:300]
        text = f"Report about a message by {message.value.get('name', 'a member')}: “{quoted}”"
        if reason.strip():
            text += f"\n{reason.strip()}"
        body = payloads.encode_text(b64u_decode(new_id(), ID_BYTES), _now(), text)
        value = item.value
        bundle = None
        if value.get("moderator_session") is None:
            bundle = await sender.fetch_bundle(workspace, str(value["moderator"]))
        value, envelope = group_items.seal_to_moderator(value, body, bundle)
        own = b64u_encode(group_items.member_key(value))
        value = _queue(value, envelope, to=str(value["moderator"]), from_key=own)
        value = await _to_co_moderators(workspace, value, body, discover=False)
        batch = workspace.vault.batch()
        batch.put(value, item.id)
        await workspace.commit(batch)
        await _send_outbox(workspace, group)


async def set_muted(workspace: Workspace, group: str, muted: bool) -> None:
    """Mute the group for this account alone: messages still arrive, nothing calls for attention."""

    def change() -> Batch:
        current = _item(workspace, group)
        batch = workspace.vault.batch()
        batch.put({**current.value, "muted": muted}, current.id)
        return batch

    async with workspace.lock:
        await workspace.commit_change(change)


async def send_text(workspace: Workspace, group: str, text: str) -> dict[str, Any]:
    """Encrypt a text once for the whole group and send it to the group's stream."""
    sender.check_body(text)
    written: set[str] = set()
    async with workspace.lock:
        await _latest_and_rotate(workspace, group)

        def change() -> Batch:
            current = _item(workspace, group)
            value = current.value
            if value.get("status") != "member":
                raise BadInputError("You are not a member of this group now.")
            message_id, sent = new_id(), _now()
            written.clear()
            written.add(message_id)
            payload = payloads.encode_text(b64u_decode(message_id, ID_BYTES), sent, text)
            value, message = group_items.encrypt(value, payload)
            header = parse_group_message(message).header
            value, seq = _next_seq(value)
            own_keys = {*value.get("own_keys", []), b64u_encode(header.sender_key)}
            value = {
                **value,
                "own_keys": sorted(own_keys),
                "unsent": [*value.get("unsent", []), [message_id, b64u_encode(message)]],
            }
            batch = workspace.vault.batch()
            batch.put(value, current.id)
            batch.put(
                {
                    "kind": "group_message",
                    "group": group,
                    "id": message_id,
                    "sid": None,
                    "sender": b64u_encode(group_items.member_key(value)),
                    "name": value["name"],
                    "sk": b64u_encode(header.sender_key),
                    "it": header.iteration,
                    "sent": sent,
                    "body": text,
                    "removed": False,
                    "dir": "out",
                    "seq": seq,
                }
            )
            return batch

        await workspace.commit_change(change)
        await _flush_unsent(workspace, group, report=True)
        # The newest text this device wrote (another device of the account may write too).
        own_id = next(iter(written))
        return dict(_message(workspace, group, own_id).value)


async def _latest_and_rotate(workspace: Workspace, group: str) -> None:
    """Before sending: the newest roster verified, a due key rotated and shared."""

    async def attempt() -> None:
        item = _item(workspace, group)
        batch = workspace.vault.batch()
        value, _updates = await _latest_roster(workspace, item.value, batch)
        if value.get("status") == "member":
            value = await _rotate(workspace, value, _now())
        if value == item.value and not batch.wire():
            # Nothing new: writing the item anyway would only make another
            # device of this account, sending at the same moment, start over.
            return
        batch.put(value, item.id)
        await workspace.commit(batch)

    await retry_on_conflict(attempt, workspace.sync)
    await _send_outbox(workspace, group)


async def _flush_unsent(workspace: Workspace, group: str, *, report: bool = False) -> None:
    """Send committed group messages to the stream; a retry of a stored one is stored once.

    A final refusal (the group paused, this member muted or removed) drops the
    message and its item: nothing was sent. With `report`, the first such
    refusal then reaches the caller; a passing one (offline, rate limited)
    leaves the message to be sent later.
    """
    item = workspace.vault.find("group", group=group)
    if item is None or not item.value.get("unsent"):
        return
    done: set[str] = set()
    refused: dict[str, ServerError] = {}
    for message_id, message in item.value["unsent"]:
        try:
            await workspace.channel.group_send(message_id, group, b64u_decode(message))
        except ServerError as exc:
            if exc.code not in FINAL_SEND_REFUSALS:
                raise
            refused[message_id] = exc
        done.add(message_id)

    def change() -> Batch:
        current = _item(workspace, group)
        kept = [u for u in current.value.get("unsent", []) if u[0] not in done]
        batch = workspace.vault.batch()
        batch.put({**current.value, "unsent": kept}, current.id)
        for message in workspace.vault.list("group_message", group=group, dir="out"):
            if message.value.get("id") in refused:
                batch.delete(message.id)
        return batch

    try:
        await workspace.commit_change(change)
    except VaultConflictError:
        # Another device of this account keeps committing: what was sent
        # stays in `unsent` and is sent again by the next flush (here or
        # there), which the server stores once (same sender key and
        # iteration). The text itself was committed before it left.
        return
    if refused and report:
        raise next(iter(refused.values()))


async def _moderate_departures(workspace: Workspace, group: str) -> list[GroupUpdate]:
    """A moderator records, in a signed roster, the members who left through the server."""
    item = workspace.vault.find("group", group=group)
    if item is None or item.value.get("role") != "moderator":
        return []
    answer = await workspace.http.get(f"/api/groups/{group}")
    left = answer.get("left", []) if isinstance(answer, dict) else []
    updates: list[GroupUpdate] = []
    for key in left:
        try:
            raw = b64u_decode(key, ED25519_PUBLIC_KEY_BYTES)
            current = _item(workspace, group)
            signed = group_items.set_member_state(
                workspace.identity, current.value, raw, MEMBER_LEFT
            )
        except ProtocolError:
            continue
        try:
            await _publish(workspace, group, signed)
        except ServerError as exc:
            if exc.code != "roster_rollback":
                raise
            # The other moderator recorded it first; its roster comes with the stream.
            continue
        updates.append(
            GroupUpdate(group, "event", f"{group_items.display_name(current.value, raw)} left")
        )
    return updates


# Reading.


def timeline(workspace: Workspace, group: str) -> list[dict[str, Any]]:
    """The group's messages and member-list events, in the order they arrived here.

    An event's name is looked up again: a member's name arrives with its
    sender key, often after the roster that admitted it.
    """
    value = _item(workspace, group).value
    found = [i.value for i in workspace.vault.list("group_message", group=group)]
    for event in workspace.vault.list("group_event", group=group):
        key = b64u_decode(event.value["member"], ED25519_PUBLIC_KEY_BYTES)
        name = group_items.display_name(value, key)
        found.append(
            {**event.value, "name": event.value["name"] if name == group_items.UNNAMED else name}
        )
    return sorted(found, key=lambda v: int(v.get("seq", 0)))


def reports(workspace: Workspace, group: str) -> list[dict[str, Any]]:
    found = [i.value for i in workspace.vault.list("group_report", group=group)]
    return sorted(found, key=lambda v: int(v.get("seq", 0)))


@dataclass(frozen=True)
class Member:
    member_key: str
    name: str
    state: str  # member, muted, left, removed
    you: bool


ENTRY_STATES = {
    MEMBER_ADMITTED: "member",
    MEMBER_MUTED: "muted",
    MEMBER_LEFT: "left",
    MEMBER_REMOVED: "removed",
}


def members(workspace: Workspace, group: str) -> list[Member]:
    """The signed member list as this device verified it."""
    value = _item(workspace, group).value
    roster = group_items.held_roster(value)
    own = group_items.member_key(value)
    return [
        Member(
            b64u_encode(entry.member_key),
            group_items.display_name(value, entry.member_key),
            ENTRY_STATES[entry.state],
            entry.member_key == own,
        )
        for entry in roster.entries
    ]


def paused(value: dict[str, Any]) -> bool:
    state = group_items.state_of(value)
    return state is not None and bool(state.roster.flags & ROSTER_FLAG_PAUSED)
