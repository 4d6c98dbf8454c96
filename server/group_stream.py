"""A group's stream: its messages, rosters and tombstones, stored once, read by cursor.

Every item of a group is one row, whatever the number of members: a group
message is encrypted once for everyone (PROTOCOL.md section 15.4), so it is
stored once. Items share one `seq` order (AUTOINCREMENT: never reused), and
each routing member (server/groups.py) has a cursor, the `seq` of the last
item it acknowledged. Rosters travel in the same order as messages, so that
a message sent before a removal reaches every member before the roster
that records the removal (section 15.2).

An item is deleted once every routing member's cursor has passed it (the
group's floor), or when retention ends (`envelope_ttl_days`), whichever
comes first; a tombstone deletes the copy of the message it names at once.

The server checks what it can without a key: the framing and the sender
key's signature of a group message (`crypto.group_message`), the moderator's
signature of a tombstone against the latest roster, and that the sender is
a routing member, not muted and not writing to a paused group. What one
member may leave waiting is bounded as for envelopes (docs/SECURITY.md,
"Limits"): `max_pending_per_sender` items of one sender in one group,
`max_inbox` items in a group in all, and the sender's `max_pending_bytes`
over envelopes and group items together; so one member's flood stops at its
own limit and the others go on writing.
"""

import secrets
from dataclasses import dataclass
from typing import Any

from crypto import signatures
from crypto.constants import CTX_GROUP_MESSAGE, ID_BYTES, MAX_GROUP_MESSAGE, ROSTER_FLAG_PAUSED
from crypto.encoding import b64u_encode
from crypto.errors import MalformedError, ProtocolError
from crypto.group_message import GroupMessage, parse_group_message
from server import clock, vault, wakeup
from server.envelopes import Limits
from server.errors import (
    BadSignatureError,
    GroupPausedError,
    InboxFullError,
    MalformedApiError,
    MutedError,
    NotAMemberError,
    NotFoundError,
    StorageFullError,
    from_protocol_error,
)
from server.storage import Connection
from server.validation import binary

MESSAGE = 1
ROSTER = 2
TOMBSTONE = 3
KIND_NAMES = {MESSAGE: "message", ROSTER: "roster", TOMBSTONE: "tombstone"}
PAGE = 100


def parse_message(data: dict[str, Any], group_id: bytes) -> tuple[bytes, GroupMessage]:
    """The field `msg`: a group message of `group_id` whose sender-key signature verifies."""
    body = binary(data, "msg", max_length=MAX_GROUP_MESSAGE)
    try:
        message = parse_group_message(body)
    except ProtocolError as error:
        raise from_protocol_error(error) from None
    if message.header.group_id != group_id:
        raise MalformedApiError("The message belongs to another group.")
    try:
        signatures.verify(
            message.header.sender_key, CTX_GROUP_MESSAGE, message.signed_part, message.signature
        )
    except MalformedError:
        raise BadSignatureError("The group message's signature does not verify.") from None
    return body, message


@dataclass(frozen=True)
class Appended:
    id: bytes
    seq: int
    ts: int
    kind: int
    body: bytes
    new: bool = True  # False when the same message was stored already


def append(
    conn: Connection,
    group_id: bytes,
    sender: bytes,
    kind: int,
    body: bytes,
    sender_key: bytes | None = None,
    iteration: int | None = None,
) -> Appended:
    item_id = secrets.token_bytes(ID_BYTES)
    ts = clock.this_hour()
    seq = conn.execute(
        "INSERT INTO group_messages (id, group_id, sender, kind, body, sender_key, iteration, ts) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
        (item_id, group_id, sender, kind, body, sender_key, iteration, ts),
    ).fetchone()[0]
    return Appended(item_id, seq, ts, kind, body)


def recipients(conn: Connection, group_id: bytes, seq: int) -> list[bytes]:
    """The accounts that receive the item at `seq`: routing members, departing ones included.

    Asked once per new item, when it is delivered: on PostgreSQL their
    connections in other relay processes are woken too (server/wakeup.py),
    once this transaction commits, to read the stream from the store.
    """
    accounts = [
        bytes(row[0])
        for row in conn.execute(
            "SELECT account FROM group_members WHERE group_id = ? "
            "AND (until_seq IS NULL OR until_seq >= ?)",
            (group_id, seq),
        )
    ]
    for account in accounts:
        wakeup.notify(conn, wakeup.ENVELOPE, account)
    return accounts


def frame(group_id: bytes, item: Appended) -> str:
    """The `group` frame; written out, since every value is base64url, a word or a number."""
    return (
        f'{{"type":"group","group":"{b64u_encode(group_id)}","id":"{b64u_encode(item.id)}",'
        f'"kind":"{KIND_NAMES[item.kind]}","body":"{b64u_encode(item.body)}","ts":{int(item.ts)}}}'
    )


@dataclass(frozen=True)
class Posted:
    item: Appended
    recipients: list[bytes]


def post(
    conn: Connection,
    account: bytes,
    group_id: bytes,
    message: GroupMessage,
    body: bytes,
    limits: Limits,
) -> Posted:
    """Store a verified group message once, in the caller's transaction."""
    header = message.header
    # Everything the checks need in one statement, as envelopes.store does:
    # this runs for every group message.
    row = conn.execute(
        "SELECT g.version, g.flags, g.stored, m.account, m.until_seq, m.muted, m.moderator, "
        "me.outbox_bytes, x.id, x.seq, x.ts, "
        "(SELECT COUNT(*) FROM (SELECT 1 FROM group_messages "
        "WHERE sender = :account AND group_id = :group LIMIT :per_sender) AS mine) "
        "FROM (SELECT 1) AS one "
        "LEFT JOIN groups AS g ON g.id = :group "
        "LEFT JOIN group_members AS m ON m.group_id = :group AND m.account = :account "
        "LEFT JOIN accounts AS me ON me.id = :account "
        "LEFT JOIN group_messages AS x ON x.group_id = :group AND x.sender_key = :sender_key "
        "AND x.iteration = :iteration",
        {
            "group": group_id,
            "account": account,
            "sender_key": header.sender_key,
            "iteration": header.iteration,
            "per_sender": limits.max_pending_per_sender,
        },
    ).fetchone()
    version, flags, stored, member, until_seq, muted, moderator, sent_bytes = row[:8]
    seen_id, seen_seq, seen_ts, from_them = row[8:]
    if version is None:
        raise NotFoundError("There is no such group, or this account may not see it.")
    if member is None or until_seq is not None:
        raise NotAMemberError()
    if seen_id is not None:
        # The same sender key and iteration: a retry of a message stored already.
        item = Appended(bytes(seen_id), seen_seq, seen_ts, MESSAGE, body, new=False)
        return Posted(item, [])
    if header.roster_version > version:
        raise MalformedApiError(
            "The message names a roster version newer than the group's; fetch the group."
        )
    if muted and not moderator:
        raise MutedError()
    if flags & ROSTER_FLAG_PAUSED and not moderator:
        raise GroupPausedError()
    if stored >= limits.max_inbox:
        raise InboxFullError(
            "This group has as many messages waiting to be read as this server keeps; "
            "nothing was stored. Try again later."
        )
    if from_them >= limits.max_pending_per_sender:
        raise InboxFullError(
            f"{from_them} of your messages in this group are not read by everyone yet, the "
            "most this server keeps from one member; nothing was stored. Try again later."
        )
    if (sent_bytes or 0) + len(body) > limits.max_pending_bytes:
        raise InboxFullError(
            "Your messages not yet collected by their recipients reach this server's limit "
            f"of {limits.max_pending_bytes} bytes; nothing was stored. Try again later."
        )
    if limits.disk_low:
        raise StorageFullError()
    item = append(conn, group_id, account, MESSAGE, body, header.sender_key, header.iteration)
    return Posted(item, recipients(conn, group_id, item.seq))


def remove_message(
    conn: Connection,
    account: bytes,
    group_id: bytes,
    signed: bytes,
    sender_key: bytes,
    iteration: int,
) -> Posted:
    """Append a moderator's verified tombstone and delete the copy of the message it names."""
    conn.execute(
        "DELETE FROM group_messages WHERE group_id = ? AND kind = ? AND sender_key = ? "
        "AND iteration = ?",
        (group_id, MESSAGE, sender_key, iteration),
    )
    item = append(conn, group_id, account, TOMBSTONE, signed)
    return Posted(item, recipients(conn, group_id, item.seq))


def collect(conn: Connection, group_id: bytes) -> int:
    """Delete the items every routing member has acknowledged; returns how many."""
    return conn.execute(
        "DELETE FROM group_messages WHERE group_id = :group AND seq <= COALESCE("
        "(SELECT MIN(cursor) FROM group_members WHERE group_id = :group), "
        "(SELECT MAX(seq) FROM group_messages WHERE group_id = :group))",
        {"group": group_id},
    ).rowcount


def acknowledge(
    conn: Connection,
    account: bytes,
    group_id: bytes,
    item_id: bytes,
    writes: list[vault.VaultWrite],
    limits: Limits,
) -> int | None:
    """Move the account's cursor to the item (never back), with its vault writes.

    Returns the account's vault cursor after the writes, or None without writes.
    """
    member = conn.execute(
        "SELECT cursor, until_seq FROM group_members WHERE group_id = ? AND account = ?",
        (group_id, account),
    ).fetchone()
    if member is None:
        raise NotAMemberError()
    cursor, until_seq = member
    row = conn.execute(
        "SELECT seq FROM group_messages WHERE id = ? AND group_id = ?", (item_id, group_id)
    ).fetchone()
    if row is None or (until_seq is not None and row[0] > until_seq):
        raise NotFoundError("This group has no such item for you; it may have expired.")
    seq = max(cursor, row[0])
    if until_seq is not None and seq >= until_seq:
        # The roster that ended this membership is read: the row ends.
        conn.execute(
            "DELETE FROM group_members WHERE group_id = ? AND account = ?", (group_id, account)
        )
    elif seq > cursor:
        conn.execute(
            "UPDATE group_members SET cursor = ? WHERE group_id = ? AND account = ?",
            (seq, group_id, account),
        )
    collect(conn, group_id)
    if not writes:
        return None
    return vault.apply(
        conn, account, writes, limits.max_vault_bytes, limits.max_vault_items, may_grow=True
    )


def backlog(conn: Connection, account: bytes, after_seq: int, limit: int) -> list[tuple[int, str]]:
    """Items of all the account's groups after its cursors and `after_seq`, as (seq, frame)."""
    rows = conn.execute(
        "SELECT m.seq, m.group_id, m.id, m.kind, m.body, m.ts FROM group_members AS gm "
        "JOIN group_messages AS m ON m.group_id = gm.group_id AND m.seq > gm.cursor "
        "WHERE gm.account = ? AND m.seq > ? AND (gm.until_seq IS NULL OR m.seq <= gm.until_seq) "
        "ORDER BY m.seq LIMIT ?",
        (account, after_seq, limit),
    ).fetchall()
    return [
        (
            row[0],
            frame(bytes(row[1]), Appended(bytes(row[2]), row[0], row[5], row[3], bytes(row[4]))),
        )
        for row in rows
    ]


def page(conn: Connection, account: bytes, group_id: bytes, after: bytes | None) -> dict[str, Any]:
    """`GET /api/groups/{group}/messages`: items after the cursor (or after `after`)."""
    member = conn.execute(
        "SELECT cursor, until_seq FROM group_members WHERE group_id = ? AND account = ?",
        (group_id, account),
    ).fetchone()
    if member is None:
        raise NotAMemberError()
    start, until_seq = member
    if after is not None:
        row = conn.execute(
            "SELECT seq FROM group_messages WHERE id = ? AND group_id = ?", (after, group_id)
        ).fetchone()
        if row is None:
            raise NotFoundError("This group has no such item; it may have expired.")
        start = max(start, row[0])
    rows = conn.execute(
        "SELECT seq, id, kind, body, ts FROM group_messages WHERE group_id = ? AND seq > ? "
        "AND seq <= COALESCE(?, seq) ORDER BY seq LIMIT ?",
        (group_id, start, until_seq, PAGE + 1),
    ).fetchall()
    return {
        "messages": [
            {
                "group": b64u_encode(group_id),
                "id": b64u_encode(bytes(row[1])),
                "kind": KIND_NAMES[row[2]],
                "body": b64u_encode(bytes(row[3])),
                "ts": row[4],
            }
            for row in rows[:PAGE]
        ],
        "more": len(rows) > PAGE,
    }


def purge(conn: Connection, cutoff: int) -> int:
    """Retention: delete items stored before `cutoff`; end memberships left with nothing."""
    purged = conn.execute("DELETE FROM group_messages WHERE ts < ?", (cutoff,)).rowcount
    conn.execute(
        "DELETE FROM group_members WHERE until_seq IS NOT NULL AND NOT EXISTS ("
        "SELECT 1 FROM group_messages AS m WHERE m.group_id = group_members.group_id "
        "AND m.seq > group_members.cursor AND m.seq <= group_members.until_seq)"
    )
    return purged
