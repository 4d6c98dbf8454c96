"""Blocks: a therapist closes a thread, and that client's messages to them are refused.

Blocking also deletes the client's envelopes still waiting for the therapist,
in the same transaction: a flood that was the reason to block must not stay
in the inbox. Unblocking brings nothing back.
"""

from crypto.encoding import b64u_encode
from server.errors import NotFoundError
from server.storage import Connection


def block(conn: Connection, therapist: bytes, client: bytes) -> None:
    row = conn.execute("SELECT role FROM accounts WHERE id = ?", (client,)).fetchone()
    if row is None or row[0] != "client":
        raise NotFoundError("There is no client account with that id.")
    conn.execute(
        "INSERT INTO blocks (therapist, client) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (therapist, client),
    )
    conn.execute("DELETE FROM envelopes WHERE sender = ? AND recipient = ?", (client, therapist))


def unblock(conn: Connection, therapist: bytes, client: bytes) -> None:
    conn.execute("DELETE FROM blocks WHERE therapist = ? AND client = ?", (therapist, client))


def blocked(conn: Connection, therapist: bytes) -> list[str]:
    rows = conn.execute(
        "SELECT client FROM blocks WHERE therapist = ? ORDER BY client", (therapist,)
    ).fetchall()
    return [b64u_encode(bytes(row[0])) for row in rows]
