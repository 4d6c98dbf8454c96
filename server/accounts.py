"""Accounts: anonymous registration, login lookups and deletion.

An account row holds a random 16-byte id, the role, the HMAC of the handle,
the identity public key and the Argon2id hash of the login key; nothing that
names a person. Deleting the row deletes, through foreign keys with ON DELETE
CASCADE, every row the account owns (tokens, prekeys, profile, vault, inbox,
the envelopes it sent that are still undelivered, blocks) in the same
statement and so in the same transaction.
"""

import secrets
from dataclasses import dataclass

from crypto.constants import ID_BYTES
from server import clock, invites, settings_store, wakeup
from server.errors import HandleTakenError, InviteRequiredError
from server.storage import Connection

ROLES = ("client", "therapist")


@dataclass(frozen=True)
class Registration:
    role: str
    handle_hash: bytes
    login_hash: str
    identity_key: bytes
    invite: str | None


def register(conn: Connection, reg: Registration) -> bytes:
    """Create the account in the caller's transaction; the invite is used up with it."""
    if reg.role == "therapist" or settings_store.intake(conn) == "invite-only":
        if reg.invite is None:
            raise InviteRequiredError(
                "A therapist account needs an invite code from the practice."
                if reg.role == "therapist"
                else "This practice accepts new clients by invite only; ask it for a code."
            )
        invites.consume(conn, reg.invite, reg.role)
    # A handle some account is changing its secret to is taken as well.
    taken = conn.execute(
        "SELECT 1 FROM accounts WHERE handle_hash = ? UNION ALL "
        "SELECT 1 FROM secret_changes WHERE handle_hash = ?",
        (reg.handle_hash, reg.handle_hash),
    ).fetchone()
    if taken is not None:
        raise HandleTakenError()
    account = secrets.token_bytes(ID_BYTES)
    conn.execute(
        "INSERT INTO accounts (id, handle_hash, role, identity_key, login_hash, created) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (account, reg.handle_hash, reg.role, reg.identity_key, reg.login_hash, clock.today()),
    )
    return account


def login_row(conn: Connection, handle_hash: bytes) -> tuple[bytes, str] | None:
    row = conn.execute(
        "SELECT id, login_hash FROM accounts WHERE handle_hash = ?", (handle_hash,)
    ).fetchone()
    return None if row is None else (bytes(row[0]), row[1])


def identity_key(conn: Connection, account: bytes) -> bytes | None:
    row = conn.execute("SELECT identity_key FROM accounts WHERE id = ?", (account,)).fetchone()
    return None if row is None else bytes(row[0])


def identity_and_role(conn: Connection, account: bytes) -> tuple[bytes, str] | None:
    row = conn.execute(
        "SELECT identity_key, role FROM accounts WHERE id = ? AND revoked IS NULL", (account,)
    ).fetchone()
    return None if row is None else (bytes(row[0]), row[1])


def delete(conn: Connection, account: bytes) -> bool:
    deleted = conn.execute("DELETE FROM accounts WHERE id = ?", (account,)).rowcount == 1
    wakeup.notify(conn, wakeup.SESSIONS, account)
    wakeup.notify(conn, wakeup.TARGET, account)
    return deleted
