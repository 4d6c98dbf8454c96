"""Revoking a therapist: the account stays listed for the practice, and nothing else remains.

`quietline admin revoke-therapist` marks the account with the day of
revocation and, in the same transaction, deletes its tokens (every HTTP
request with them is refused at once), its profile (it leaves the directory),
its prekeys (no new session can start) and the envelopes waiting for it (no
one will read them). Its login is refused with `revoked`; sends and bundle
fetches addressed to it are refused with `recipient_gone`. A running server
closes the account's open websockets within `POLL_SECONDS`.
"""

from server import clock
from server.storage import Connection

POLL_SECONDS = 2.0
_OWNED_ROWS = (
    "DELETE FROM tokens WHERE account = ?",
    "DELETE FROM profiles WHERE account = ?",
    "DELETE FROM one_time_prekeys WHERE account = ?",
    "DELETE FROM signed_prekeys WHERE account = ?",
    "DELETE FROM envelopes WHERE recipient = ?",
)


def revoke(conn: Connection, account: bytes) -> bool:
    """Revoke a therapist in the caller's transaction; False if it was revoked already."""
    changed = conn.execute(
        "UPDATE accounts SET revoked = ? WHERE id = ? AND role = 'therapist' AND revoked IS NULL",
        (clock.today(), account),
    ).rowcount
    if changed != 1:
        return False
    for statement in _OWNED_ROWS:
        conn.execute(statement, (account,))
    return True


def is_revoked(conn: Connection, account: bytes) -> bool:
    row = conn.execute("SELECT revoked FROM accounts WHERE id = ?", (account,)).fetchone()
    return row is not None and row[0] is not None


def revoked_accounts(conn: Connection) -> set[bytes]:
    """Every revoked account: a practice has few, so this stays small."""
    return {bytes(row[0]) for row in conn.execute("SELECT id FROM accounts WHERE revoked > 0")}
