"""The PostgreSQL backend of the storage interface (server/storage.py).

psycopg 3's synchronous connection, in autocommit mode with explicit
`BEGIN` and `COMMIT`, as SQLite's is used: so the writer's batches, the
readers' snapshots and every operation run unchanged. The adapter translates
the placeholders the operations use (`?` and `:name`) into psycopg's once per
statement text, and psycopg prepares a statement on the server after it has
run a few times.

Several relay processes may write at once. Each process's writer takes
`WRITER_LOCK`, a transaction-scoped advisory lock, at the start of every
batch, so the writers of all processes take turns, as SQLite's single write
lock makes them: a batch still carries everything that arrived during the
previous commit, so the cost of a commit is shared as before. Taking turns
keeps three promises across processes without any further machinery:
envelope numbers (`seq`) become visible in the order they were allocated, so
a connection that has delivered up to `seq` never misses a smaller one
committed later (server/connection.py reads the backlog by `seq`); the vault's
compare-and-swap reads and writes without another process in between; and
the limits read from counters (inbox, pending bytes, vault quota) hold
exactly across processes. docs/SERVER.md, "Several relay processes", has
the measurements behind the choice.

Failures: a database that refuses writes (`default_transaction_read_only`,
a full disk, too many connections) answers `read_only` as SQLite's does; a
database that cannot be reached answers `unavailable`. A broken connection is
replaced on the next use, so a restarted PostgreSQL is used again without
restarting any relay process.
"""

import functools
import re
import urllib.parse
from typing import Any, ClassVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from server import postgres_schema
from server.storage import Storage

# pg_advisory_xact_lock's key for the writers' turns (see above).
WRITER_LOCK = 0x5175_6965_746C_0002
# The channel of server/wakeup.py, which imports this module's neighbours.
WAKEUP_CHANNEL = "quietline_wakeup"
CONNECT_TIMEOUT_SECONDS = 5
# SQLSTATE classes of a server that refuses work for want of a resource
# (53: disk full, out of memory, too many connections) or is shutting down or
# starting (57: operator intervention, 08: connection exception).
_WRITE_FAILURE_CLASSES = ("53",)
_UNREACHABLE_CLASSES = ("08", "57")
# Transactions that failed only because another ran at the same time.
_CONFLICTS = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)

_PLACEHOLDER = re.compile(r"\?|(?<!:):([A-Za-z_][A-Za-z0-9_]*)|%")


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """`?` and `:name` placeholders as psycopg's `%s` and `%(name)s`; a literal % doubled."""

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return f"%({match.group(1)})s"

    return _PLACEHOLDER.sub(replace, sql)


class PostgresConnection:
    """A psycopg connection that speaks like server/database.py's SQLite connection."""

    engine = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self._changes = 0
        # Wake-ups of this transaction (server/wakeup.py), sent in one
        # statement just before COMMIT rather than one round trip each.
        self._wakeups: set[str] = set()

    def notify_on_commit(self, payload: str) -> None:
        self._wakeups.add(payload)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status in (
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
            TransactionStatus.ACTIVE,
        )

    @property
    def total_changes(self) -> int:
        """Rows written by this connection, as sqlite3's attribute of the same name counts."""
        return self._changes

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        if sql == "COMMIT" and self._wakeups:
            payloads, self._wakeups = sorted(self._wakeups), set()
            # Inside the transaction: PostgreSQL delivers them only if it commits.
            self.raw.execute(
                "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload",
                (WAKEUP_CHANNEL, payloads),
            )
        elif sql == "ROLLBACK":
            self._wakeups.clear()
        if parameters:
            cursor = self.raw.execute(translate(sql), parameters)
        else:
            # Without parameters psycopg sends the text as it is: no % to double.
            cursor = self.raw.execute(sql)
        self._count(cursor)
        return cursor

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), parameters)
        self._count(cursor)
        return cursor

    def _count(self, cursor: psycopg.Cursor[Any]) -> None:
        status = cursor.statusmessage or ""
        if cursor.rowcount > 0 and status.startswith(("INSERT", "UPDATE", "DELETE")):
            self._changes += cursor.rowcount

    @property
    def closed(self) -> bool:
        return self.raw.closed or self.raw.broken

    def close(self) -> None:
        self.raw.close()


def begin_write(conn: Any) -> None:
    """Begin a transaction in the writers' turn (see above); admin commands take it too."""
    # Both in one round trip: a statement without parameters may hold several.
    conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK})")


def _sqlstate(error: BaseException) -> str:
    return getattr(error, "sqlstate", None) or ""


def is_url(value: str) -> bool:
    return value.startswith(("postgresql://", "postgres://"))


def without_password(url: str) -> str:
    """The URL as it may be shown: user, host and database, never a password."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host
    if parts.port:
        netloc += f":{parts.port}"
    query = urllib.parse.parse_qsl(parts.query)
    shown = [(k, v) for k, v in query if k != "password"]
    return urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path, urllib.parse.urlencode(shown), "")
    )


class PostgresStorage(Storage):
    engine = "postgresql"
    # Every statement is a round trip over a socket: never on the event loop.
    runs_on_loop: ClassVar[bool] = False
    exclusive: ClassVar[bool] = False

    def __init__(self, url: str) -> None:
        self.url = url

    def connect(self, *, readonly: bool = False) -> PostgresConnection:
        raw = psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="quietline",
            # Timestamps never enter the database from its own clock; UTC
            # keeps whatever the operator's tools show independent of ours.
            options="-c TimeZone=UTC"
            + (" -c default_transaction_read_only=on" if readonly else ""),
        )
        return PostgresConnection(raw)

    def begin(self, conn: Any) -> None:
        begin_write(conn)

    def is_write_failure(self, error: BaseException) -> bool:
        if not isinstance(error, psycopg.Error):
            return False
        if isinstance(error, pg_errors.ReadOnlySqlTransaction):
            return True
        return _sqlstate(error)[:2] in _WRITE_FAILURE_CLASSES

    def is_unreachable(self, error: BaseException) -> bool:
        if isinstance(error, psycopg.OperationalError) and not _sqlstate(error):
            # No SQLSTATE: the driver's own error, a connection that failed or broke.
            return True
        return _sqlstate(error)[:2] in _UNREACHABLE_CLASSES

    def is_broken(self, conn: Any) -> bool:
        return bool(conn.closed)

    def backend_pid(self, conn: Any) -> int | None:
        return None if conn.closed else int(conn.raw.info.backend_pid)

    def retry_after_conflict(self, error: BaseException) -> bool:
        return isinstance(error, _CONFLICTS)

    def prepare(self) -> list[int]:
        conn = self.connect()
        try:
            return postgres_schema.migrate(conn)
        finally:
            conn.close()

    def describe(self) -> str:
        return f"Database {without_password(self.url)}"
