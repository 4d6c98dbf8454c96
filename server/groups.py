"""Peer-support groups: who may write to a group, and which accounts receive it.

The server cannot decide membership. The member list is the roster the
moderator signs (PROTOCOL.md section 15.2); the server keeps the latest
version it verified, refuses any version that is not newer (a rollback
would bring a removed member back), and derives from it only what it needs
to route: the **routing members** of a group, the accounts its stream is
delivered to. Those are the accounts that registered a member key the
roster lists as present, and the therapist accounts whose identity keys the
roster names as moderators. A row the server (or anyone with the database)
adds on its own makes an account receive the stream, but only as
ciphertext: the members distribute their sender keys to the member keys of
the signed roster alone (section 15.3), so such an account holds no key.

**Member keys.** A member takes part under a key made for that group alone.
It registers the key by uploading prekeys signed by it (proof that it holds
the key); from then on envelopes addressed to the key reach its account,
and envelopes it sends as the key show the key, never the account. So the
moderator and the other members see member keys, and the server, which
routes, sees accounts: docs/SECURITY.md, "Groups", says so.

**Leaving** ends delivery at once and marks the key as left until the
moderator signs a roster that says so; **removal** (a roster with the entry
removed) lets the removed account receive the stream up to and including
that roster, so that its client learns of the removal from the signed list,
and then its row ends.

**Open and private groups.** A group whose roster is not invite-only has a
public listing, signed by the moderator like a profile and served exactly
as uploaded. A private group has none: its name must never reach the
server, so the moderator gives the listing to the people it invites over
their one-to-one sessions, and the group's random id is the invitation.

Operations are plain functions of a connection in the caller's transaction
(server/writer.py); the stream itself is server/group_stream.py.
"""

from dataclasses import dataclass
from typing import Any

from crypto import signatures
from crypto.constants import (
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
    SIGNATURE_BYTES,
)
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import MalformedError, ProtocolError
from crypto.group_roster import (
    Roster,
    decode_roster,
    verify_first_roster,
    verify_next_roster,
    verify_tombstone,
)
from server import group_stream, prekeys
from server.errors import (
    BadRequestError,
    BadSignatureError,
    ForbiddenError,
    GroupExistsError,
    MemberKeyTakenError,
    NotAMemberError,
    NotFoundError,
    TooLargeError,
    from_protocol_error,
)
from server.storage import INTEGRITY_ERRORS, Connection
from server.validation import binary, parse_json

PRESENT = (MEMBER_ADMITTED, MEMBER_MUTED)
GONE = (MEMBER_LEFT, MEMBER_REMOVED)
NO_SUCH_GROUP = "There is no such group, or this account may not see it."


def decode_signed_roster(signed: bytes) -> Roster:
    """The roster of a signed roster, its signature not yet checked."""
    if len(signed) <= SIGNATURE_BYTES:
        raise MalformedError("A signed roster is the roster followed by a 64-byte signature.")
    return decode_roster(signed[:-SIGNATURE_BYTES])


def verify_new_group(signed: bytes, identity_key: bytes) -> Roster:
    """The first roster of a group the caller creates: signed by, and naming, the caller."""
    try:
        roster = decode_signed_roster(signed)
        return verify_first_roster(signed, roster.group_id, identity_key)
    except ProtocolError as error:
        raise from_protocol_error(error) from None


def parse_listing(
    body: dict[str, Any], identity_key: bytes, group_id: bytes
) -> tuple[bytes, bytes]:
    """The verified (listing bytes, signature) of an open group (docs/API.md, "Groups")."""
    listing = binary(body, "listing", max_length=MAX_GROUP_LISTING_BYTES)
    sig = binary(body, "sig", SIGNATURE_BYTES)
    try:
        fields = parse_json(listing.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequestError("The listing must be UTF-8 JSON.") from None
    if not isinstance(fields, dict):
        raise BadRequestError("The listing must be a JSON object.")
    unknown = sorted(set(fields) - {*GROUP_LISTING_TEXT_CHARS, "group", "max_members"})
    if unknown:
        raise BadRequestError(f"The listing has unknown fields: {', '.join(unknown)}.")
    if fields.get("group") != b64u_encode(group_id):
        raise BadRequestError("The listing's 'group' must be the id of this group.")
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequestError("The listing needs a non-empty 'name'.")
    for field, limit in GROUP_LISTING_TEXT_CHARS.items():
        value = fields.get(field, "")
        if not isinstance(value, str) or len(value) > limit:
            raise BadRequestError(
                f"The listing's {field!r} must be text of at most {limit} characters."
            )
    cap = fields.get("max_members")
    if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_GROUP_MEMBERS:
        raise BadRequestError(f"The listing's 'max_members' must be 1 to {MAX_GROUP_MEMBERS}.")
    try:
        signatures.verify_group_listing(identity_key, listing, sig)
    except MalformedError:
        raise BadSignatureError("The listing's signature does not verify.") from None
    return listing, sig


@dataclass(frozen=True)
class Group:
    id: bytes
    signed_roster: bytes
    version: int
    flags: int
    listing: bytes | None
    listing_sig: bytes | None

    @property
    def roster(self) -> Roster:
        return decode_signed_roster(self.signed_roster)

    @property
    def invite_only(self) -> bool:
        return bool(self.flags & ROSTER_FLAG_INVITE_ONLY)

    @property
    def paused(self) -> bool:
        return bool(self.flags & ROSTER_FLAG_PAUSED)


def load(conn: Connection, group_id: bytes) -> Group | None:
    row = conn.execute(
        "SELECT roster, version, flags, listing, listing_sig FROM groups WHERE id = ?", (group_id,)
    ).fetchone()
    if row is None:
        return None
    return Group(
        group_id,
        bytes(row[0]),
        row[1],
        row[2],
        None if row[3] is None else bytes(row[3]),
        None if row[4] is None else bytes(row[4]),
    )


def require(conn: Connection, group_id: bytes) -> Group:
    group = load(conn, group_id)
    if group is None:
        raise NotFoundError(NO_SUCH_GROUP)
    return group


def is_moderator(conn: Connection, group_id: bytes, account: bytes) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM group_moderators WHERE group_id = ? AND account = ?", (group_id, account)
        ).fetchone()
        is not None
    )


def require_moderator(conn: Connection, group_id: bytes, account: bytes) -> Group:
    group = require(conn, group_id)
    if not is_moderator(conn, group_id, account):
        raise ForbiddenError("Only a moderator of this group may do that.")
    return group


def is_routing_member(conn: Connection, group_id: bytes, account: bytes) -> bool:
    """Whether `account` receives the group's stream and is still listed (not departing)."""
    return (
        conn.execute(
            "SELECT 1 FROM group_members WHERE group_id = ? AND account = ? AND until_seq IS NULL",
            (group_id, account),
        ).fetchone()
        is not None
    )


def moderator_accounts(conn: Connection, group_id: bytes) -> list[bytes]:
    rows = conn.execute(
        "SELECT account FROM group_moderators WHERE group_id = ?", (group_id,)
    ).fetchall()
    return [bytes(row[0]) for row in rows]


def _route(conn: Connection, group_id: bytes, roster: Roster, seq: int) -> None:
    """Make the routing members those of `roster`, appended to the stream at `seq`."""
    moderators = {
        bytes(row[0])
        for key in roster.moderators
        for row in conn.execute(
            "SELECT id FROM accounts WHERE role = 'therapist' AND revoked IS NULL "
            "AND identity_key = ?",
            (key,),
        )
    }
    if not moderators:
        raise BadRequestError(
            "The roster names no moderator with a therapist account on this server."
        )
    states = {entry.member_key: entry.state for entry in roster.entries}
    routes: dict[bytes, tuple[int, int]] = {}
    for key, account in conn.execute(
        'SELECT key, account FROM member_keys WHERE group_id = ? AND "left" = 0', (group_id,)
    ):
        state = states.get(bytes(key))
        if state in PRESENT:
            routes[bytes(account)] = (int(state == MEMBER_MUTED), 0)
    for account in moderators:
        routes[account] = (0, 1)
    conn.executemany(
        "INSERT INTO group_moderators (group_id, account) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(group_id, account) for account in moderators],
    )
    for (account,) in conn.execute(
        "SELECT account FROM group_moderators WHERE group_id = ?", (group_id,)
    ).fetchall():
        if bytes(account) not in moderators:
            conn.execute(
                "DELETE FROM group_moderators WHERE group_id = ? AND account = ?",
                (group_id, account),
            )
    # Accounts the roster no longer lists receive the stream up to this roster.
    listed = {
        bytes(row[0])
        for row in conn.execute(
            "SELECT account FROM group_members WHERE group_id = ?", (group_id,)
        ).fetchall()
    }
    conn.executemany(
        "UPDATE group_members SET until_seq = ? "
        "WHERE group_id = ? AND account = ? AND until_seq IS NULL",
        [(seq, group_id, account) for account in listed - routes.keys()],
    )
    conn.executemany(
        "UPDATE group_members SET until_seq = NULL, muted = ?, moderator = ? "
        "WHERE group_id = ? AND account = ?",
        [(m, mod, group_id, a) for a, (m, mod) in routes.items() if a in listed],
    )
    # A new routing member's first item is the roster that admitted it.
    conn.executemany(
        "INSERT INTO group_members (group_id, account, cursor, muted, moderator) "
        "VALUES (?, ?, ?, ?, ?)",
        [(group_id, a, seq - 1, m, mod) for a, (m, mod) in routes.items() if a not in listed],
    )
    gone = [key for key, state in states.items() if state in GONE]
    conn.executemany(
        "DELETE FROM member_keys WHERE group_id = ? AND key = ?", [(group_id, k) for k in gone]
    )


def _store_flags(conn: Connection, group_id: bytes, signed: bytes, roster: Roster) -> None:
    conn.execute(
        "UPDATE groups SET roster = ?, version = ?, flags = ? WHERE id = ?",
        (signed, roster.version, roster.flags, group_id),
    )
    if roster.flags & ROSTER_FLAG_INVITE_ONLY:
        # A private group has no public listing: its name must not stay here.
        conn.execute(
            "UPDATE groups SET listing = NULL, listing_sig = NULL WHERE id = ?", (group_id,)
        )


@dataclass(frozen=True)
class RosterStored:
    version: int
    item: group_stream.Appended
    recipients: list[bytes]


def create(
    conn: Connection,
    account: bytes,
    signed: bytes,
    roster: Roster,
    listing: tuple[bytes, bytes] | None,
) -> RosterStored:
    """A new group whose first roster the caller signed (checked by `verify_new_group`)."""
    if (listing is None) != bool(roster.flags & ROSTER_FLAG_INVITE_ONLY):
        raise BadRequestError(
            "An open group needs its signed listing, and an invite-only group has none."
        )
    try:
        conn.execute(
            "INSERT INTO groups (id, roster, version, flags, listing, listing_sig) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                roster.group_id,
                signed,
                roster.version,
                roster.flags,
                None if listing is None else listing[0],
                None if listing is None else listing[1],
            ),
        )
    except INTEGRITY_ERRORS:
        raise GroupExistsError() from None
    item = group_stream.append(conn, roster.group_id, account, group_stream.ROSTER, signed)
    # verify_new_group checked that the roster names the caller, a therapist,
    # as a moderator: routing makes it one here.
    _route(conn, roster.group_id, roster, item.seq)
    return RosterStored(
        roster.version, item, group_stream.recipients(conn, roster.group_id, item.seq)
    )


def replace_roster(
    conn: Connection, account: bytes, group_id: bytes, signed: bytes
) -> RosterStored:
    """Store a newer roster, append it to the stream, and route by it."""
    group = require_moderator(conn, group_id, account)
    try:
        roster = verify_next_roster(signed, group.roster)
    except ProtocolError as error:
        raise from_protocol_error(error) from None
    _store_flags(conn, group_id, signed, roster)
    item = group_stream.append(conn, group_id, account, group_stream.ROSTER, signed)
    _route(conn, group_id, roster, item.seq)
    return RosterStored(roster.version, item, group_stream.recipients(conn, group_id, item.seq))


def put_listing(
    conn: Connection, account: bytes, group_id: bytes, listing: bytes, sig: bytes
) -> None:
    group = require_moderator(conn, group_id, account)
    if group.invite_only:
        raise BadRequestError("An invite-only group has no public listing; keep it private.")
    conn.execute(
        "UPDATE groups SET listing = ?, listing_sig = ? WHERE id = ?", (listing, sig, group_id)
    )


def delete(conn: Connection, account: bytes, group_id: bytes) -> list[bytes]:
    """Delete the group and everything of it; returns the accounts that were routed to it."""
    require_moderator(conn, group_id, account)
    routed = [
        bytes(row[0])
        for row in conn.execute(
            "SELECT account FROM group_members WHERE group_id = ?", (group_id,)
        ).fetchall()
    ]
    conn.execute("DELETE FROM groups WHERE id = ?", (group_id,))
    return routed


def remove_message(
    conn: Connection, account: bytes, group_id: bytes, signed: bytes
) -> group_stream.Posted:
    """A moderator's tombstone (PROTOCOL.md 15.6), checked against the latest roster."""
    group = require_moderator(conn, group_id, account)
    try:
        tombstone = verify_tombstone(signed, group.roster)
    except ProtocolError as error:
        raise from_protocol_error(error) from None
    return group_stream.remove_message(
        conn, account, group_id, signed, tombstone.sender_key, tombstone.iteration
    )


# Member keys ----------------------------------------------------------------


def register_key(
    conn: Connection,
    account: bytes,
    group_id: bytes,
    member_key: bytes,
    upload: prekeys.Upload,
    max_one_time: int,
) -> int:
    """Register `member_key` for `account` in the group (or refill its prekeys).

    The upload's signatures were checked against the member key, which proves
    the caller holds it. Returns the member key's one-time prekeys now held.
    """
    group = require(conn, group_id)
    row = conn.execute(
        'SELECT group_id, account, "left" FROM member_keys WHERE key = ?', (member_key,)
    ).fetchone()
    if row is not None and (bytes(row[0]) != group_id or bytes(row[1]) != account):
        raise MemberKeyTakenError()
    if row is not None and row[2]:
        raise ForbiddenError("You left this group under that key; join again with a new key.")
    if row is None:
        if upload.signed is None or upload.pq is None:
            raise BadRequestError(
                "Registering a member key needs its 'signed_prekey' and 'pq_prekey'."
            )
        older = conn.execute(
            "SELECT key FROM member_keys WHERE group_id = ? AND account = ?", (group_id, account)
        ).fetchone()
        if older is not None:
            if group.roster.state_of(bytes(older[0])) in PRESENT:
                raise MemberKeyTakenError()
            conn.execute("DELETE FROM member_keys WHERE key = ?", (older[0],))
        conn.execute(
            "INSERT INTO member_keys (key, group_id, account) VALUES (?, ?, ?)",
            (member_key, group_id, account),
        )
    for kind, prekey in ((prekeys.SIGNED, upload.signed), (prekeys.PQ, upload.pq)):
        if prekey is not None:
            conn.execute(
                "INSERT INTO member_signed_prekeys (member_key, kind, id, key, sig) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (member_key, kind) DO UPDATE SET "
                "id = excluded.id, key = excluded.key, sig = excluded.sig",
                (member_key, kind, prekey.id, prekey.key, prekey.sig),
            )
    conn.executemany(
        "INSERT INTO member_one_time_prekeys (member_key, id, key, sig) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (member_key, id) DO UPDATE SET key = excluded.key, sig = excluded.sig",
        [(member_key, p.id, p.key, p.sig) for p in upload.one_time],
    )
    count = _one_time_count(conn, member_key)
    if count > max_one_time:
        raise TooLargeError(
            f"A member key may hold at most {max_one_time} one-time prekeys; "
            f"it would hold {count}. Upload fewer."
        )
    return count


def _one_time_count(conn: Connection, member_key: bytes) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM member_one_time_prekeys WHERE member_key = ?", (member_key,)
    ).fetchone()[0]


@dataclass(frozen=True)
class MemberBundle:
    body: dict[str, Any]
    owner: bytes
    one_time_left: int


_OLDEST_ONE_TIME = {
    "sqlite": (
        "SELECT id, key, sig FROM member_one_time_prekeys WHERE member_key = ? "
        "ORDER BY rowid LIMIT 1"
    ),
    "postgresql": (
        "SELECT id, key, sig FROM member_one_time_prekeys WHERE member_key = ? "
        "ORDER BY added LIMIT 1"
    ),
}


def take_bundle(
    conn: Connection, caller: bytes, group_id: bytes, member_key: bytes, one_time: bool
) -> MemberBundle:
    """A member key's bundle for a routing member or moderator of its group."""
    require(conn, group_id)
    if not (is_routing_member(conn, group_id, caller) or is_moderator(conn, group_id, caller)):
        raise NotFoundError(NO_SUCH_GROUP)
    row = conn.execute(
        'SELECT account FROM member_keys WHERE key = ? AND group_id = ? AND "left" = 0',
        (member_key, group_id),
    ).fetchone()
    if row is None:
        raise NotFoundError("This group has no such member key.")
    signed = {
        kind: prekeys.Prekey(prekey_id, bytes(key), bytes(sig))
        for kind, prekey_id, key, sig in conn.execute(
            "SELECT kind, id, key, sig FROM member_signed_prekeys WHERE member_key = ?",
            (member_key,),
        )
    }
    taken = None
    if one_time:
        # The oldest first, by SQLite's rowid or PostgreSQL's `added`, as prekeys.py does.
        found = conn.execute(_OLDEST_ONE_TIME[conn.engine], (member_key,)).fetchone()
        if found is not None:
            conn.execute(
                "DELETE FROM member_one_time_prekeys WHERE member_key = ? AND id = ?",
                (member_key, found[0]),
            )
            taken = prekeys.Prekey(found[0], bytes(found[1]), bytes(found[2]))
    # Exactly the fields of PROTOCOL.md section 3, so that clients parse it as
    # any bundle; `account` holds the group's id: the account behind a member
    # key is never shown.
    body = {
        "account": b64u_encode(group_id),
        "identity_key": b64u_encode(member_key),
        "signed_prekey": signed[prekeys.SIGNED].to_json(),
        "pq_prekey": signed[prekeys.PQ].to_json(),
        "one_time_prekey": None if taken is None else taken.to_json(),
    }
    return MemberBundle(body, bytes(row[0]), _one_time_count(conn, member_key))


@dataclass(frozen=True)
class Left:
    moderators: list[bytes]
    member_key: bytes | None  # the key the moderator should mark as left, if listed


def leave(conn: Connection, account: bytes, group_id: bytes) -> Left:
    """End the account's membership (or request) now; the moderators are told."""
    group = require(conn, group_id)
    if is_moderator(conn, group_id, account):
        raise ForbiddenError("A moderator does not leave their group; delete it instead.")
    key_row = conn.execute(
        'SELECT key FROM member_keys WHERE group_id = ? AND account = ? AND "left" = 0',
        (group_id, account),
    ).fetchone()
    routed = conn.execute(
        "DELETE FROM group_members WHERE group_id = ? AND account = ?", (group_id, account)
    ).rowcount
    if key_row is None and not routed:
        raise NotAMemberError()
    listed = None
    if key_row is not None:
        key = bytes(key_row[0])
        if group.roster.state_of(key) in PRESENT:
            listed = key
            conn.execute('UPDATE member_keys SET "left" = 1 WHERE key = ?', (key,))
            conn.execute("DELETE FROM member_signed_prekeys WHERE member_key = ?", (key,))
            conn.execute("DELETE FROM member_one_time_prekeys WHERE member_key = ?", (key,))
        else:
            conn.execute("DELETE FROM member_keys WHERE key = ?", (key,))
    group_stream.collect(conn, group_id)
    return Left(moderator_accounts(conn, group_id), listed)


# Envelopes between member keys -----------------------------------------------


@dataclass(frozen=True)
class Route:
    recipient: bytes
    group: bytes
    sender_key: bytes | None
    recipient_key: bytes | None


def route_envelope(
    conn: Connection,
    sender: bytes,
    to: bytes | None,
    from_key: bytes | None,
    to_key: bytes | None,
) -> Route:
    """Where an envelope sent as or to a member key goes (docs/API.md, "Member keys")."""
    group: bytes | None = None
    if from_key is not None:
        row = conn.execute(
            'SELECT group_id, account, "left" FROM member_keys WHERE key = ?', (from_key,)
        ).fetchone()
        if row is None or bytes(row[1]) != sender:
            raise NotFoundError("This account has registered no such member key.")
        if row[2]:
            raise NotAMemberError("You left this group; that member key is no longer in use.")
        group = bytes(row[0])
    if to_key is None:
        assert group is not None and to is not None
        if not is_moderator(conn, group, to):
            raise ForbiddenError("A member key may write to the group's moderators only.")
        return Route(to, group, from_key, None)
    row = conn.execute(
        'SELECT group_id, account FROM member_keys WHERE key = ? AND "left" = 0', (to_key,)
    ).fetchone()
    if row is None or (group is not None and bytes(row[0]) != group):
        raise NotFoundError("There is no such member key in this group.")
    target_group = bytes(row[0])
    if not (
        is_routing_member(conn, target_group, sender) or is_moderator(conn, target_group, sender)
    ):
        raise NotFoundError("There is no such member key in a group of yours.")
    return Route(bytes(row[1]), target_group, from_key, to_key)


# What callers see ---------------------------------------------------------------


def info(conn: Connection, account: bytes, group_id: bytes) -> dict[str, Any]:
    """`GET /api/groups/{group}`: the public part to anyone who knows the id, more to members."""
    group = require(conn, group_id)
    moderators = [
        {"account": b64u_encode(bytes(row[0])), "identity_key": b64u_encode(bytes(row[1]))}
        for row in conn.execute(
            "SELECT a.id, a.identity_key FROM group_moderators m JOIN accounts a "
            "ON a.id = m.account WHERE m.group_id = ? ORDER BY a.id",
            (group_id,),
        )
    ]
    body: dict[str, Any] = {
        "group": b64u_encode(group_id),
        "invite_only": group.invite_only,
        "paused": group.paused,
        "moderators": moderators,
    }
    if group.listing is not None and group.listing_sig is not None:
        body["listing"] = b64u_encode(group.listing)
        body["sig"] = b64u_encode(group.listing_sig)
    moderator = is_moderator(conn, group_id, account)
    if moderator or is_routing_member(conn, group_id, account):
        body["roster"] = b64u_encode(group.signed_roster)
        body["version"] = group.version
    if moderator:
        body["left"] = [
            b64u_encode(bytes(row[0]))
            for row in conn.execute(
                'SELECT key FROM member_keys WHERE group_id = ? AND "left" = 1 ORDER BY key',
                (group_id,),
            )
        ]
    return body


def mine(conn: Connection, account: bytes) -> list[dict[str, Any]]:
    """The caller's groups: as moderator, member, or applicant (a registered key only)."""
    found: dict[bytes, dict[str, Any]] = {}
    for (group_id,) in conn.execute(
        "SELECT group_id FROM group_moderators WHERE account = ?", (account,)
    ):
        found[bytes(group_id)] = {"group": b64u_encode(bytes(group_id)), "role": "moderator"}
    for (group_id,) in conn.execute(
        "SELECT group_id FROM group_members WHERE account = ? AND until_seq IS NULL", (account,)
    ):
        found.setdefault(bytes(group_id), {"group": b64u_encode(bytes(group_id)), "role": "member"})
    for group_id, key in conn.execute(
        'SELECT group_id, key FROM member_keys WHERE account = ? AND "left" = 0', (account,)
    ):
        entry = found.setdefault(
            bytes(group_id), {"group": b64u_encode(bytes(group_id)), "role": "applicant"}
        )
        entry["member_key"] = b64u_encode(bytes(key))
    return [found[key] for key in sorted(found)]


def directory(conn: Connection) -> list[dict[str, Any]]:
    """Open groups with their signed listings, beside their moderators' profiles."""
    rows = conn.execute(
        "SELECT g.id, a.id, a.identity_key, g.listing, g.listing_sig FROM groups g "
        "JOIN group_moderators m ON m.group_id = g.id JOIN accounts a ON a.id = m.account "
        "WHERE g.listing IS NOT NULL AND a.revoked IS NULL "
        "AND EXISTS (SELECT 1 FROM profiles p WHERE p.account = a.id) ORDER BY g.id, a.id"
    ).fetchall()
    listed: dict[bytes, dict[str, Any]] = {}
    for group_id, moderator, identity_key, listing, sig in rows:
        # One entry per group; with a co-moderator, the listing is verified
        # against the identity key of whichever moderator signed it.
        key = bytes(group_id)
        if key in listed:
            continue
        try:
            signatures.verify_group_listing(bytes(identity_key), bytes(listing), bytes(sig))
        except MalformedError:
            continue
        listed[key] = {
            "group": b64u_encode(key),
            "moderator": b64u_encode(bytes(moderator)),
            "identity_key": b64u_encode(bytes(identity_key)),
            "listing": b64u_encode(bytes(listing)),
            "sig": b64u_encode(bytes(sig)),
        }
    return list(listed.values())


def group_id_of(text: str) -> bytes:
    try:
        return b64u_decode(text, length=ID_BYTES)
    except MalformedError:
        raise NotFoundError(NO_SUCH_GROUP) from None
