"""Bearer tokens: 32 random bytes handed to the client, only their SHA-256 kept.

A stolen database therefore holds no usable token. A token lives between
8 and 12 hours: `TOKEN_TTL`, with the expiry rounded down to `EXPIRY_GRAIN`,
so that the row tells the login time only to within four hours (one of six
windows a day). The lookup is by hash (an
index on a hash of a random value leaks nothing about the token), and the
stored hash is still compared with `hmac.compare_digest`, so no code path
compares a secret in variable time.
"""

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass

from crypto.constants import TOKEN_BYTES, TOKEN_TTL
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import ProtocolError
from server import clock

EXPIRY_GRAIN = 4 * clock.HOUR


@dataclass(frozen=True)
class Caller:
    """The account a valid token belongs to."""

    account: bytes
    role: str


def token_hash(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def issue(conn: sqlite3.Connection, account: bytes) -> tuple[str, int]:
    token = secrets.token_bytes(TOKEN_BYTES)
    expires = (clock.now() + TOKEN_TTL) // EXPIRY_GRAIN * EXPIRY_GRAIN
    conn.execute(
        "INSERT INTO tokens (hash, account, expires) VALUES (?, ?, ?)",
        (token_hash(token), account, expires),
    )
    return b64u_encode(token), expires


def parse_bearer(header: str | None) -> bytes | None:
    """The token bytes of an `Authorization: Bearer` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        return b64u_decode(value.strip(), length=TOKEN_BYTES)
    except ProtocolError:
        return None


def lookup(conn: sqlite3.Connection, token: bytes) -> Caller | None:
    wanted = token_hash(token)
    row = conn.execute(
        "SELECT t.hash, t.expires, a.id, a.role FROM tokens t "
        "JOIN accounts a ON a.id = t.account WHERE t.hash = ? AND a.revoked IS NULL",
        (wanted,),
    ).fetchone()
    if row is None or not hmac.compare_digest(bytes(row[0]), wanted) or row[1] <= clock.now():
        return None
    return Caller(bytes(row[2]), row[3])


def revoke(conn: sqlite3.Connection, token: bytes) -> None:
    conn.execute("DELETE FROM tokens WHERE hash = ?", (token_hash(token),))
