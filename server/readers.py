"""Reads on their own connections, off the event loop and beside the writer.

In WAL mode a reader sees the last committed state and never waits for the
writer, so reads keep working when writing fails (a full disk). Each worker
thread keeps one `query_only` connection; every read runs in a transaction so
that a multi-statement read sees one consistent snapshot.
"""

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from server import database

T = TypeVar("T")


class Readers:
    def __init__(self, path: Path, threads: int = 2) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="quietline-reader")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = database.connect(self._path, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _read(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            return function(conn, *args)
        finally:
            conn.execute("ROLLBACK")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(conn, *args)` in a read transaction on a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read, function, args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
