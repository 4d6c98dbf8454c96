"""Envelopes: stored until their recipient acknowledges them, or retention ends.

The server checks an envelope's framing (crypto.envelope.parse) and nothing
else: it cannot read one. A `send` is stored once per (sender, cmid) while the
envelope waits: a client that lost the `sent` answer can send again and gets
the same envelope id. The pair is deleted with the envelope (a foreign key
cascade), so nothing ties a sender to a message once it has been collected;
a copy sent again after that is stored anew, and the recipient's client
recognises it as a replay (PROTOCOL.md section 5.6) and drops it. Envelopes
carry a sequence number that orders delivery; their timestamp is the hour
they were stored.

What one sender may leave waiting is bounded three ways (docs/SECURITY.md,
"Limits"): `max_inbox` per recipient in all, `max_pending_per_sender` from
one sender to one recipient, and `max_pending_bytes` from one sender to
everyone; each refusal is `inbox_full`, with a message that says which.
"""

import secrets
from dataclasses import dataclass
from typing import Any

from crypto import envelope as framing
from crypto.constants import ID_BYTES, MAX_ENVELOPE
from crypto.encoding import b64u_encode
from crypto.errors import ProtocolError
from server import clock, vault, wakeup
from server.errors import (
    BlockedError,
    ForbiddenError,
    InboxFullError,
    NotFoundError,
    RecipientGoneError,
    StorageFullError,
    UnauthorizedError,
    from_protocol_error,
)
from server.storage import INTEGRITY_ERRORS, Connection
from server.validation import binary


def parse_envelope(data: dict[str, Any]) -> bytes:
    env = binary(data, "env", max_length=MAX_ENVELOPE)
    try:
        framing.parse(env)
    except ProtocolError as error:
        raise from_protocol_error(error) from None
    return env


@dataclass(frozen=True)
class Send:
    sender: bytes
    sender_role: str
    recipient: bytes
    cmid: bytes
    env: bytes
    writes: list[vault.VaultWrite]
    # An envelope sent as or to a member key (server/groups.py): its group and
    # keys. Such an envelope was authorised by groups.route_envelope.
    group: bytes | None = None
    sender_key: bytes | None = None
    recipient_key: bytes | None = None


@dataclass(frozen=True)
class Stored:
    id: bytes
    seq: int | None  # None when this was a repeated cmid and nothing new was stored
    ts: int
    vault_cursor: int | None = None  # the sender's vault cursor after its writes, if any


@dataclass(frozen=True)
class Limits:
    max_inbox: int
    max_pending_per_sender: int
    max_pending_bytes: int
    max_vault_bytes: int
    max_vault_items: int
    disk_low: bool  # server/diskspace.py: refuse new envelopes and vault growth


def store(conn: Connection, send: Send, limits: Limits) -> Stored:
    """Store the envelope and its sender's vault writes in the caller's transaction."""
    # Everything the checks need in one statement: this runs for every send,
    # on the event loop, where each statement's overhead delays every frame.
    # The count of the sender's envelopes to this recipient stops at the limit,
    # so a sender at its limit costs no more than one below it.
    row = conn.execute(
        "SELECT s.envelope, e.ts, a.role, a.inbox, a.revoked, "
        "EXISTS (SELECT 1 FROM blocks WHERE therapist = :recipient AND client = :sender), "
        "me.outbox_bytes, "
        "(SELECT COUNT(*) FROM (SELECT 1 FROM envelopes "
        "WHERE sender = :sender AND recipient = :recipient LIMIT :per_sender) AS mine) "
        "FROM (SELECT 1) AS one "
        "LEFT JOIN sent_cmids AS s ON s.sender = :sender AND s.cmid = :cmid "
        "LEFT JOIN envelopes AS e ON e.id = s.envelope "
        "LEFT JOIN accounts AS a ON a.id = :recipient "
        "LEFT JOIN accounts AS me ON me.id = :sender",
        {
            "sender": send.sender,
            "cmid": send.cmid,
            "recipient": send.recipient,
            "per_sender": limits.max_pending_per_sender,
        },
    ).fetchone()
    seen_envelope, seen_ts, recipient_role, waiting, revoked, blocked, sent_bytes, to_them = row
    if seen_envelope is not None:
        return Stored(bytes(seen_envelope), None, seen_ts)
    if send.recipient == send.sender:
        raise ForbiddenError("An account cannot send a message to itself.")
    if recipient_role is None:
        raise NotFoundError("There is no account with that id; it may have been deleted.")
    if revoked is not None:
        raise RecipientGoneError()
    if send.sender_role == "client":
        if recipient_role != "therapist" and send.group is None:
            raise ForbiddenError("A client account can write only to therapists.")
        if blocked:
            raise BlockedError()
    if waiting >= limits.max_inbox:
        raise InboxFullError()
    if to_them >= limits.max_pending_per_sender:
        raise InboxFullError(
            f"{to_them} of your messages to this account are not collected yet, the most "
            "this server keeps from one sender; nothing was stored. Try again later."
        )
    if (sent_bytes or 0) + len(send.env) > limits.max_pending_bytes:
        raise InboxFullError(
            "Your messages not yet collected by their recipients reach this server's limit "
            f"of {limits.max_pending_bytes} bytes; nothing was stored. Try again later."
        )
    if limits.disk_low:
        raise StorageFullError()
    cursor = None
    if send.writes:
        cursor = vault.apply(
            conn,
            send.sender,
            send.writes,
            limits.max_vault_bytes,
            limits.max_vault_items,
            may_grow=True,
        )
    envelope_id = secrets.token_bytes(ID_BYTES)
    ts = clock.this_hour()
    try:
        if send.group is None:
            seq = conn.execute(
                "INSERT INTO envelopes (id, recipient, sender, env, ts) VALUES (?, ?, ?, ?, ?) "
                "RETURNING seq",
                (envelope_id, send.recipient, send.sender, send.env, ts),
            ).fetchone()[0]
        else:
            seq = conn.execute(
                "INSERT INTO envelopes (id, recipient, sender, env, ts, group_id, sender_key, "
                "recipient_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                (
                    envelope_id,
                    send.recipient,
                    send.sender,
                    send.env,
                    ts,
                    send.group,
                    send.sender_key,
                    send.recipient_key,
                ),
            ).fetchone()[0]
    except INTEGRITY_ERRORS:
        # The sender's row is gone: the account was deleted while this was in flight.
        raise UnauthorizedError("This account no longer exists.") from None
    conn.execute(
        "INSERT INTO sent_cmids (sender, cmid, envelope) VALUES (?, ?, ?)",
        (send.sender, send.cmid, envelope_id),
    )
    wakeup.notify(conn, wakeup.ENVELOPE, send.recipient)
    assert seq is not None
    return Stored(envelope_id, seq, ts, cursor)


def acknowledge(
    conn: Connection,
    account: bytes,
    envelope_id: bytes,
    writes: list[vault.VaultWrite],
    limits: Limits,
) -> int | None:
    """Delete one of the account's own envelopes and commit its vault writes with it.

    Returns the account's vault cursor after the writes, or None without writes.
    """
    deleted = conn.execute(
        "DELETE FROM envelopes WHERE id = ? AND recipient = ?", (envelope_id, account)
    ).rowcount
    if deleted != 1:
        raise NotFoundError("This account has no such envelope; it may be acknowledged already.")
    if not writes:
        return None
    # Even while the disk guard refuses growth: acknowledging is how stored
    # messages leave the server, and the reserve is kept for it.
    return vault.apply(
        conn, account, writes, limits.max_vault_bytes, limits.max_vault_items, may_grow=True
    )


def frame(
    envelope_id: bytes,
    sender: bytes,
    env_text: str,
    ts: int,
    group: bytes | None = None,
    sender_key: bytes | None = None,
    recipient_key: bytes | None = None,
) -> str:
    """The `envelope` frame; `env_text` is the envelope in canonical base64url.

    Written out rather than through json.dumps, which scans the kilobyte of
    envelope text for characters to escape, for every message: every value
    here is base64url or an integer, and none needs escaping. An envelope
    sent as a member key names the key and never the sending account.
    """
    if group is None:
        names = f'"from":"{b64u_encode(sender)}"'
    else:
        names = f'"group":"{b64u_encode(group)}"'
        names += (
            f',"from":"{b64u_encode(sender)}"'
            if sender_key is None
            else f',"from_key":"{b64u_encode(sender_key)}"'
        )
        if recipient_key is not None:
            names += f',"to_key":"{b64u_encode(recipient_key)}"'
    return (
        f'{{"type":"envelope","id":"{b64u_encode(envelope_id)}",'
        f'{names},"env":"{env_text}","ts":{int(ts)}}}'
    )


def _optional(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(value)


def backlog(conn: Connection, account: bytes, after_seq: int, limit: int) -> list[tuple[int, str]]:
    """Stored envelopes for `account` after `after_seq`, in order, as (seq, frame text)."""
    rows = conn.execute(
        "SELECT seq, id, sender, env, ts, group_id, sender_key, recipient_key FROM envelopes "
        "WHERE recipient = ? AND seq > ? ORDER BY seq LIMIT ?",
        (account, after_seq, limit),
    ).fetchall()
    return [
        (
            row[0],
            frame(
                bytes(row[1]),
                bytes(row[2]),
                b64u_encode(row[3]),
                row[4],
                _optional(row[5]),
                _optional(row[6]),
                _optional(row[7]),
            ),
        )
        for row in rows
    ]


def pending(conn: Connection, account: bytes) -> int:
    row = conn.execute("SELECT inbox FROM accounts WHERE id = ?", (account,)).fetchone()
    return 0 if row is None else row[0]
