"""The storage interface: what the server needs of a database engine, and nothing more.

Two engines implement it: SQLite (server/database.py), the default, one file
in the data directory and one server process; and PostgreSQL
(server/postgres.py), a shared store that several relay processes on several
machines can use at once. `--database` chooses (server/engines.py).

Everything the server stores is written by operations, plain functions of an
open transaction's `Connection` (server/writer.py), and read by functions of
a read transaction's `Connection` (server/readers.py). Both engines give the
same `Connection`: `execute(sql, parameters)` with `?` or `:name`
placeholders, a cursor with `fetchone`, `fetchall`, `rowcount` and iteration,
and bytes for binary columns. Most statements are plain SQL both engines run
alike; where an engine needs its own (a lock, an ordering column, a function
the other lacks), the operation asks `conn.engine` and says why. Each engine
has its own schema and its own numbered migrations, with the same numbers
meaning the same change.

A `Storage` opens connections, begins write transactions the way its engine
needs, prepares the schema at start, and tells a failure of the store (full,
read-only, unreachable) from a bug, so that both engines answer a person the
same way: `read_only` while nothing can be written, `unavailable` while the
store cannot be reached at all.
"""

import sqlite3
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

import psycopg

# Every error a driver raises, and the ones that mean "a constraint refused this row".
DRIVER_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)


class Connection(Protocol):
    """One open connection of either engine, in manual transaction mode."""

    engine: str

    @property
    def in_transaction(self) -> bool: ...

    @property
    def total_changes(self) -> int: ...

    def execute(self, sql: str, parameters: Any = (), /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    def close(self) -> None: ...


class Storage(ABC):
    engine: ClassVar[str]
    # Whether a batch of quick operations may run its statements on the event
    # loop (server/writer.py): true where a statement is a function call into
    # an embedded library, false where it is a round trip over a socket.
    runs_on_loop: ClassVar[bool]
    # Whether one server process owns the store, so that the data directory's
    # lock (server/datalock.py) keeps a second one out.
    exclusive: ClassVar[bool]

    @abstractmethod
    def connect(self, *, readonly: bool = False) -> Connection:
        """A new connection; `readonly` ones refuse every write."""

    @abstractmethod
    def begin(self, conn: Connection) -> None:
        """Begin a write transaction, waiting for whatever the engine must wait for."""

    def begin_at_once(self, conn: Connection) -> bool:
        """Begin a write transaction without waiting; False if that was not possible."""
        return False

    @abstractmethod
    def is_write_failure(self, error: BaseException) -> bool:
        """True when the store refused a write for a reason of its own (full, read-only)."""

    @abstractmethod
    def is_unreachable(self, error: BaseException) -> bool:
        """True when the store cannot be reached at all (a server restarting, a network cut)."""

    def is_broken(self, conn: Connection) -> bool:
        """True when `conn` can no longer be used and must be replaced."""
        return False

    @abstractmethod
    def prepare(self) -> list[int]:
        """Create the schema if needed and apply every migration; the versions applied now."""

    @abstractmethod
    def describe(self) -> str:
        """Where the data is, for messages to the operator (never a password)."""

    def backend_pid(self, conn: Connection) -> int | None:
        """The database server's process for `conn`, where the engine has one."""
        return None

    def retry_after_conflict(self, error: BaseException) -> bool:
        """True when a transaction failed only because another one ran at the same time."""
        return False
