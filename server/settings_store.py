"""Installation settings kept in the database, so the admin command can change them live.

`server_id` names this installation in signatures (docs/PROTOCOL.md sections 9
and 11); `handle_key` keys the hash under which handles are stored; `intake`
is "open" or "invite-only". They are created with the database.
"""

import secrets

from crypto.constants import SERVER_ID_BYTES
from server.storage import Connection

SERVER_ID = "server_id"
HANDLE_KEY = "handle_key"
INTAKE = "intake"
INTAKE_MODES = ("open", "invite-only")
HANDLE_KEY_BYTES = 32


def initialise(conn: Connection) -> None:
    conn.executemany(
        "INSERT INTO settings (key, value) VALUES (?, ?)",
        [
            (SERVER_ID, secrets.token_bytes(SERVER_ID_BYTES)),
            (HANDLE_KEY, secrets.token_bytes(HANDLE_KEY_BYTES)),
            (INTAKE, b"open"),
        ],
    )


def get(conn: Connection, key: str) -> bytes:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise LookupError(f"the setting {key} is missing from the database")
    return bytes(row[0])


def put(conn: Connection, key: str, value: bytes) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def intake(conn: Connection) -> str:
    return get(conn, INTAKE).decode("ascii")
