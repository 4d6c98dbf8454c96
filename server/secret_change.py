"""Changing the account secret (docs/PROTOCOL.md section 9.1): stage, then switch at once.

A new secret means a new handle, a new login key and a new vault key. The
client re-encrypts every vault item under the new key; the server's part is
to make the switch from one key set to the other a single step, so that at
any moment the whole vault opens under exactly one of the two secrets.

While a change is pending the vault itself is not touched: the new handle's
HMAC and the Argon2id hash of the new login key wait in `secret_changes`, and
each re-encrypted item waits in `secret_change_items` with the `base`
version it was made from. The account keeps working under the old secret
meanwhile (other devices go on writing), and a crash at any point leaves the
old secret opening everything.

`commit` is the switch, one transaction: every live item must have a staged
blob made from its current version, otherwise it refuses and lists the
items to stage again (written, created or staged from an older version in
the meantime); then each item takes its staged blob at `base + 1` with a new
sequence number, the account's handle and login hash become the new ones,
every token of the account is signed out (the committing device gets a fresh
one in the same transaction) and the staging rows go. Because every old
token dies in the transaction that switches the keys, nothing encrypted
under the old key can be written afterwards, and the old secret no longer
signs in.

Staging the same new secret again resumes: `begin` with the same new handle
and a login key that verifies against the waiting hash keeps what was
staged. Anything else starts over. `cancel` rolls back by deleting the
staging rows. Tombstones (deleted items) hold no blob and are kept as they
are.
"""

from dataclasses import dataclass
from typing import Any

from crypto.constants import ID_BYTES
from crypto.encoding import b64u_encode
from server import clock, tokens, vault, wakeup
from server.errors import (
    BadRequestError,
    HandleTakenError,
    InvalidCredentialsError,
    NoSecretChangeError,
    SecretChangeIncompleteError,
    TooLargeError,
    UnauthorizedError,
)
from server.storage import Connection
from server.tokens import Caller
from server.validation import SQLITE_INT_MAX, binary, integer, require_object


@dataclass(frozen=True)
class StagedItem:
    id: bytes
    base: int
    blob: bytes


@dataclass(frozen=True)
class Pending:
    handle_hash: bytes
    login_hash: str


def parse_items(value: Any, max_items: int) -> list[StagedItem]:
    if not isinstance(value, list):
        raise BadRequestError("The staged items must be an array.")
    if len(value) > max_items:
        raise TooLargeError(f"At most {max_items} items can be staged in one request.")
    items = []
    for entry in value:
        data = require_object(entry, "A staged item")
        blob = binary(data, "blob", max_length=vault.MAX_BLOB)
        vault.check_blob(blob)
        items.append(
            StagedItem(
                binary(data, "id", ID_BYTES), integer(data, "base", 1, SQLITE_INT_MAX - 1), blob
            )
        )
    if len({item.id for item in items}) != len(items):
        raise BadRequestError("Two staged items in one request name the same vault item.")
    return items


def login_hash(conn: Connection, account: bytes) -> str:
    row = conn.execute("SELECT login_hash FROM accounts WHERE id = ?", (account,)).fetchone()
    if row is None:
        raise UnauthorizedError("This account no longer exists.")
    return str(row[0])


def pending(conn: Connection, account: bytes) -> Pending | None:
    row = conn.execute(
        "SELECT handle_hash, login_hash FROM secret_changes WHERE account = ?", (account,)
    ).fetchone()
    return None if row is None else Pending(bytes(row[0]), str(row[1]))


def handle_taken(conn: Connection, account: bytes, handle_hash: bytes) -> bool:
    """Whether another account holds, or is changing to, this handle."""
    return (
        conn.execute(
            "SELECT 1 FROM accounts WHERE handle_hash = ? UNION ALL "
            "SELECT 1 FROM secret_changes WHERE handle_hash = ? AND account != ?",
            (handle_hash, handle_hash, account),
        ).fetchone()
        is not None
    )


def _check_unchanged(conn: Connection, account: bytes, verified_hash: str) -> None:
    # The login key was verified against `verified_hash` before this
    # transaction (Argon2id runs off the writer); another device's change
    # committed since then makes that verification stale.
    if login_hash(conn, account) != verified_hash:
        raise InvalidCredentialsError(
            "The account secret was changed meanwhile; sign in with the new one."
        )


def begin(
    conn: Connection,
    account: bytes,
    verified_hash: str,
    new: Pending,
    resume: bool,
) -> list[dict[str, Any]]:
    """Start a change, or resume the same one; returns what is already staged."""
    _check_unchanged(conn, account, verified_hash)
    if handle_taken(conn, account, new.handle_hash):
        raise HandleTakenError(
            "The new secret's handle is taken; nothing was changed. Start again for another secret."
        )
    current = pending(conn, account)
    if resume and current == new:
        rows = conn.execute(
            "SELECT id, base FROM secret_change_items WHERE account = ? ORDER BY id", (account,)
        ).fetchall()
        return [{"id": b64u_encode(bytes(row[0])), "base": row[1]} for row in rows]
    cancel(conn, account)
    conn.execute(
        "INSERT INTO secret_changes (account, handle_hash, login_hash, started) "
        "VALUES (?, ?, ?, ?)",
        (account, new.handle_hash, new.login_hash, clock.today()),
    )
    return []


def stage(conn: Connection, account: bytes, items: list[StagedItem], max_bytes: int) -> int:
    """Keep re-encrypted items for the switch; returns how many are staged in all."""
    if pending(conn, account) is None:
        raise NoSecretChangeError()
    for item in items:
        conn.execute(
            "INSERT INTO secret_change_items (account, id, base, blob) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account, id) DO UPDATE SET base = excluded.base, blob = excluded.blob",
            (account, item.id, item.base, item.blob),
        )
    count, size = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(length(blob)), 0) FROM secret_change_items "
        "WHERE account = ?",
        (account,),
    ).fetchone()
    # The staged copy is at most a second vault: the same limit bounds it.
    if size > max_bytes:
        raise TooLargeError(
            f"The staged items would exceed this server's vault limit of {max_bytes} bytes."
        )
    return int(count)


def commit(conn: Connection, caller: Caller, verified_hash: str) -> tuple[str, int, list[bytes]]:
    """The switch: the new token, its expiry and the sessions signed out."""
    account = caller.account
    _check_unchanged(conn, account, verified_hash)
    new = pending(conn, account)
    if new is None:
        raise NoSecretChangeError()
    stale = conn.execute(
        "SELECT v.id, v.version FROM vault_items v LEFT JOIN secret_change_items s "
        "ON s.account = v.account AND s.id = v.id "
        "WHERE v.account = ? AND v.blob IS NOT NULL AND (s.base IS NULL OR s.base != v.version) "
        "ORDER BY v.seq",
        (account,),
    ).fetchall()
    if stale:
        raise SecretChangeIncompleteError(
            items=[{"id": b64u_encode(bytes(row[0])), "version": row[1]} for row in stale]
        )
    if handle_taken(conn, account, new.handle_hash):
        raise HandleTakenError(
            "The new secret's handle is taken; nothing was changed. Start again for another secret."
        )
    seq = conn.execute("SELECT vault_seq FROM accounts WHERE id = ?", (account,)).fetchone()[0]
    staged = conn.execute(
        "SELECT s.id, s.base, s.blob FROM secret_change_items s JOIN vault_items v "
        "ON v.account = s.account AND v.id = s.id AND v.version = s.base "
        "WHERE s.account = ? AND v.blob IS NOT NULL ORDER BY v.seq",
        (account,),
    ).fetchall()
    for item_id, base, blob in staged:
        seq += 1
        conn.execute(
            "UPDATE vault_items SET version = ?, blob = ?, seq = ? WHERE account = ? AND id = ?",
            (base + 1, blob, seq, account, item_id),
        )
    conn.execute(
        "UPDATE accounts SET handle_hash = ?, login_hash = ?, vault_seq = ?, "
        "vault_bytes = (SELECT COALESCE(SUM(length(blob)), 0) FROM vault_items WHERE account = ?) "
        "WHERE id = ?",
        (new.handle_hash, new.login_hash, seq, account, account),
    )
    cancel(conn, account)
    kind = conn.execute("SELECT kind FROM tokens WHERE id = ?", (caller.session,)).fetchone()
    ended = [
        bytes(row[0])
        for row in conn.execute(
            "SELECT id FROM tokens WHERE account = ? AND signed_out IS NULL", (account,)
        ).fetchall()
    ]
    conn.execute(
        "UPDATE tokens SET signed_out = ? WHERE account = ? AND signed_out IS NULL",
        (clock.today(), account),
    )
    token, expires = tokens.issue(conn, account, None if kind is None else kind[0])
    # Other relay processes close the signed-out sessions' connections and
    # tell the account's devices there of the re-encrypted vault.
    wakeup.notify(conn, wakeup.SESSIONS, account)
    wakeup.notify(conn, wakeup.VAULT, account)
    return token, expires, ended


def cancel(conn: Connection, account: bytes) -> None:
    conn.execute("DELETE FROM secret_change_items WHERE account = ?", (account,))
    conn.execute("DELETE FROM secret_changes WHERE account = ?", (account,))
