"""The SQLite backend of the storage interface (server/storage.py), the default.

One file in the data directory, opened with the settings every connection needs.

WAL lets readers run while the single writer commits; `synchronous=FULL`
makes a commit durable before it returns (an acknowledged message survives
kill -9 and power loss); foreign keys make account deletion cascade; the busy
timeout lets the admin command and the server share the file.
"""

import sqlite3
from pathlib import Path
from typing import ClassVar

from server import migrations
from server.storage import Storage

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


class SqliteConnection(sqlite3.Connection):
    """sqlite3's own connection, named by its engine as the storage interface asks."""

    engine = "sqlite"


def connect(path: Path, *, readonly: bool = False) -> SqliteConnection:
    """A connection in manual transaction mode (`BEGIN` and `COMMIT` are explicit)."""
    conn = sqlite3.connect(
        str(path),
        isolation_level=None,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_MS / 1000,
        factory=SqliteConnection,
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


class SqliteStorage(Storage):
    engine = "sqlite"
    # A statement is a call into the library, cheaper than a hop to a thread.
    runs_on_loop: ClassVar[bool] = True
    exclusive: ClassVar[bool] = True

    def __init__(self, path: Path) -> None:
        self.path = path

    def connect(self, *, readonly: bool = False) -> SqliteConnection:
        return connect(self.path, readonly=readonly)

    def begin(self, conn: sqlite3.Connection) -> None:  # type: ignore[override]
        conn.execute("BEGIN IMMEDIATE")

    def begin_at_once(self, conn: sqlite3.Connection) -> bool:  # type: ignore[override]
        """BEGIN without waiting for the write lock; False if that failed.

        The lock is free unless another process writes, so this usually saves
        a round trip to the writer's thread: under load that took longer than
        running the batch's statements. On any failure the caller begins in
        the thread, which waits for the lock or raises the real error.
        """
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return True

    def is_write_failure(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.Error) and is_write_failure(error)

    def is_unreachable(self, error: BaseException) -> bool:
        # A file on a local disk is never out of reach; a disk that fails is
        # a write failure (I/O error, can't open), answered as such.
        return False

    def prepare(self) -> list[int]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        conn = connect(self.path)
        try:
            enable_wal(conn)
            return migrations.migrate(conn)
        finally:
            conn.close()

    def describe(self) -> str:
        return f"Database {self.path}"
