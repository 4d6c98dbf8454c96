"""Opening the SQLite database, with the settings every connection needs.

WAL lets readers run while the single writer commits; `synchronous=FULL`
makes a commit durable before it returns (an acknowledged message survives
kill -9 and power loss); foreign keys make account deletion cascade; the busy
timeout lets the admin command and the server share the file.
"""

import sqlite3
from pathlib import Path

BUSY_TIMEOUT_MS = 5000

# SQLite's primary result codes that mean "this database cannot be written now".
_WRITE_FAILURE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
    }
)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in manual transaction mode (`BEGIN` and `COMMIT` are explicit)."""
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    # When a batch is retried, each writer operation runs in a savepoint; its
    # small statement journal belongs in memory, not in a temporary file.
    conn.execute("PRAGMA temp_store = MEMORY")
    # Deleted rows (acknowledged envelopes, deleted accounts) are zeroed in the
    # pages SQLite writes anyway, so their metadata does not linger in the file.
    conn.execute("PRAGMA secure_delete = FAST")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    return conn


def enable_wal(conn: sqlite3.Connection) -> None:
    """WAL is a property of the file: set once, it stays for every later connection."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"the database refused WAL mode (it reports {mode})")


def is_write_failure(error: sqlite3.Error) -> bool:
    """True when SQLite says the file cannot be written (full, read-only, I/O error, busy)."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _WRITE_FAILURE_CODES
