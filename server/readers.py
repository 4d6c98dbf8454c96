"""Reads on their own connections, off the event loop and beside the writer.

A reader sees the last committed state and never waits for the writer (WAL
on SQLite, MVCC on PostgreSQL), so reads keep working when writing fails (a
full disk). Each worker thread keeps one read-only connection; every read
runs in a transaction so that a multi-statement read sees one consistent
snapshot. A connection the engine broke (PostgreSQL restarted) is replaced
on the thread's next read; a store out of reach answers `unavailable`.
"""

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from server.errors import UnavailableError
from server.storage import DRIVER_ERRORS, Connection, Storage

T = TypeVar("T")


class Readers:
    def __init__(self, storage: Storage, threads: int = 2) -> None:
        self._storage = storage
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="quietline-reader")
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._storage.is_broken(conn):
            self._forget(conn)
            conn = None
        if conn is None:
            conn = self._storage.connect(readonly=True)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _forget(self, conn: Connection) -> None:
        self._local.conn = None
        with self._lock:
            self._connections.remove(conn)
        with contextlib.suppress(*DRIVER_ERRORS):
            conn.close()

    def _read(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return self._read_once(function, args)
        except DRIVER_ERRORS as error:
            # A connection found broken (PostgreSQL restarted since this
            # thread last read) is replaced and the read made again, once:
            # a read changes nothing, so repeating it is always safe.
            conn = getattr(self._local, "conn", None)
            if conn is None or not self._storage.is_broken(conn):
                return self._unavailable_or(error)
        try:
            return self._read_once(function, args)
        except DRIVER_ERRORS as error:
            return self._unavailable_or(error)

    def _unavailable_or(self, error: Exception) -> Any:
        if self._storage.is_unreachable(error):
            raise UnavailableError() from None
        raise error

    def _read_once(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            return function(conn, *args)
        finally:
            if conn.in_transaction:
                with contextlib.suppress(*DRIVER_ERRORS):
                    conn.execute("ROLLBACK")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(conn, *args)` in a read transaction on a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read, function, args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(*DRIVER_ERRORS):
                    conn.close()
            self._connections.clear()
