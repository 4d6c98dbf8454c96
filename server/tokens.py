"""Bearer tokens, one per signed-in session: 32 random bytes handed to the client.

Only the token's SHA-256 is kept, so a stolen database holds no usable token.
A token lives between 8 and 12 hours: `TOKEN_TTL`, with the expiry rounded
down to `EXPIRY_GRAIN`, so that the row tells the login time only to within
four hours (one of six windows a day). The lookup is by hash (an index on a hash of a random value
leaks nothing about the token), and the stored hash is still compared with
`hmac.compare_digest`, so no code path compares a secret in variable time.

A session is what a person sees of a token from another device: an opaque
random `id` (never the token or its hash), the `kind` the client stated at
login (`browser` or `cli`, nothing more: no user agent, no device name), and
the last day it was used. Signing out the other sessions marks their tokens
`signed_out` rather than deleting them, so that until they expire the server
can answer them with `signed_out` ("another device signed you out") instead
of a bare `unauthorized`; retention deletes them with the other expired tokens.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from crypto.constants import ID_BYTES, TOKEN_BYTES, TOKEN_TTL
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import ProtocolError
from server import clock, wakeup
from server.errors import SignedOutError
from server.storage import Connection

KINDS = ("browser", "cli")

EXPIRY_GRAIN = 4 * clock.HOUR


@dataclass(frozen=True)
class Caller:
    """The account a valid token belongs to, and which of its sessions it is."""

    account: bytes
    role: str
    session: bytes


def token_hash(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def issue(conn: Connection, account: bytes, kind: str | None = None) -> tuple[str, int]:
    token = secrets.token_bytes(TOKEN_BYTES)
    expires = (clock.now() + TOKEN_TTL) // EXPIRY_GRAIN * EXPIRY_GRAIN
    conn.execute(
        "INSERT INTO tokens (hash, account, expires, id, kind, active) VALUES (?, ?, ?, ?, ?, ?)",
        (token_hash(token), account, expires, secrets.token_bytes(ID_BYTES), kind, clock.today()),
    )
    return b64u_encode(token), expires


def parse_token(text: str) -> bytes | None:
    try:
        return b64u_decode(text.strip(), length=TOKEN_BYTES)
    except ProtocolError:
        return None


def parse_bearer(header: str | None) -> bytes | None:
    """The token bytes of an `Authorization: Bearer` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return parse_token(value)


def lookup(conn: Connection, token: bytes) -> Caller | None:
    """The token's caller; None when unknown or expired; SignedOutError when signed out."""
    wanted = token_hash(token)
    row = conn.execute(
        "SELECT t.hash, t.expires, a.id, a.role, t.id, t.signed_out FROM tokens t "
        "JOIN accounts a ON a.id = t.account WHERE t.hash = ? AND a.revoked IS NULL",
        (wanted,),
    ).fetchone()
    if row is None or not hmac.compare_digest(bytes(row[0]), wanted) or row[1] <= clock.now():
        return None
    if row[5] is not None:
        raise SignedOutError()
    return Caller(bytes(row[2]), row[3], bytes(row[4]))


def revoke(conn: Connection, token: bytes) -> None:
    row = conn.execute(
        "DELETE FROM tokens WHERE hash = ? RETURNING account", (token_hash(token),)
    ).fetchone()
    if row is not None:
        wakeup.notify(conn, wakeup.SESSIONS, bytes(row[0]))


def touch(conn: Connection, session: bytes) -> None:
    """Record that the session was used today: one write per session per day at most."""
    today = clock.today()
    conn.execute(
        "UPDATE tokens SET active = ? WHERE id = ? AND active < ?", (today, session, today)
    )


def sessions(conn: Connection, caller: Caller) -> list[dict[str, Any]]:
    """The account's live sessions, most recently active first, the caller's marked."""
    rows = conn.execute(
        "SELECT id, kind, active FROM tokens WHERE account = ? AND expires > ? "
        "AND signed_out IS NULL ORDER BY active DESC, id",
        (caller.account, clock.now()),
    ).fetchall()
    return [
        {
            "id": b64u_encode(bytes(row[0])),
            "kind": row[1],
            "active": row[2],
            "this": bytes(row[0]) == caller.session,
        }
        for row in rows
    ]


def sign_out_others(conn: Connection, caller: Caller) -> list[bytes]:
    """Sign out every other live session of the caller's account; returns their ids."""
    rows = conn.execute(
        "SELECT id FROM tokens WHERE account = ? AND id != ? AND signed_out IS NULL",
        (caller.account, caller.session),
    ).fetchall()
    conn.execute(
        "UPDATE tokens SET signed_out = ? WHERE account = ? AND id != ? AND signed_out IS NULL",
        (clock.today(), caller.account, caller.session),
    )
    wakeup.notify(conn, wakeup.SESSIONS, caller.account)
    return [bytes(row[0]) for row in rows]
