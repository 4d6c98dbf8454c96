"""The single writer: every change to the database goes through one task.

Requests submit an operation, a plain function of an open transaction. The
writer takes whatever operations have arrived, runs them in one transaction,
commits, and only then resolves each waiter. There is no fixed delay: while
one commit is being made durable the next operations queue up, and they go
into the next transaction as soon as this one returns. So the cost of an
fsync is shared by everything that arrived during the previous one, and
nobody is told "stored" before the data is on disk.

Most batches are refused nothing, so they run without savepoints. When an
operation raises, the batch is rolled back and run again with each operation
inside its own savepoint, so that one refused operation does not undo the
others. (An operation is a function of the database alone, so running it
twice is safe.)

Where the statements run: on SQLite, a batch made only of quick operations
(a message sent or acknowledged: a few indexed statements each) runs them on
the event loop, and only waiting in the writer thread: for the disk at commit, and for
the write lock when another process (the admin command) holds it. The two
threads share one interpreter lock, and handing it back and forth around
every statement cost more than the statements (docs/SERVER.md, "The
writer"). Any other batch, and every batch on PostgreSQL, where a statement
is a round trip over a socket, runs wholly in the thread.

The engine is behind the storage interface (server/storage.py). When its
connection breaks (PostgreSQL restarted), the batch fails with `unavailable`
and the next batch opens a new connection: the server recovers by itself.
On PostgreSQL a batch that lost a race with another process's transaction
(a deadlock or serialization failure, which the writers' turns make rare)
is run again, a few times, before anyone is told it failed.

An operation may register effects (pushing a frame to a live connection,
closing connections) with `Tx.after_commit`; they run on the event loop after
the commit succeeded, in submission order, and never when it failed.
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from server.errors import ApiError, InternalError, ReadOnlyError, UnavailableError
from server.logs import log_unexpected
from server.storage import DRIVER_ERRORS, Connection, Storage

T = TypeVar("T")
MAX_BATCH = 1024
# How often a batch that lost a race with another process is run again.
CONFLICT_RETRIES = 5

logger = logging.getLogger("quietline.writer")


@dataclass
class Tx:
    """What an operation sees: the connection, and a place to put after-commit effects."""

    conn: Connection
    effects: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, effect: Callable[[], None]) -> None:
        self.effects.append(effect)


Operation = Callable[[Tx], Any]


@dataclass
class _Job:
    operation: Operation
    future: asyncio.Future[Any]
    quick: bool
    outcome: Any = None
    error: ApiError | None = None
    effects: list[Callable[[], None]] = field(default_factory=list)


class Writer:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._conn: Connection | None = None
        self._queue: list[_Job] = []
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="quietline-writer")
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # True from the first write the disk refused until a commit that wrote
        # rows succeeds: the outage is logged once at each end, not per write.
        self._outage = False
        self._changes = 0
        self._commit_sent = False

    def _failure_for(self, error: BaseException, where: str) -> ApiError:
        storage = self._storage
        unreachable = storage.is_unreachable(error)
        if unreachable or storage.is_write_failure(error):
            if not self._outage:
                self._outage = True
                logger.warning(
                    "the database cannot be %s (%s); answering %s until it can",
                    "reached" if unreachable else "written",
                    type(error).__name__,
                    "unavailable" if unreachable else "read_only",
                )
            return UnavailableError() if unreachable else ReadOnlyError()
        log_unexpected(error, where)
        return InternalError()

    def _committed(self, done: list[_Job]) -> None:
        changes = self._connection().total_changes
        # A new connection counts from zero: any count but the last one seen is a write.
        wrote = bool(done) and changes != self._changes
        self._changes = changes
        if self._outage and wrote:
            self._outage = False
            logger.warning("the database can be written again")

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._executor, self._storage.connect)
        self._task = asyncio.create_task(self._run(), name="quietline-writer")

    def backend_pids(self) -> set[int]:
        """The database server's process of the writer's connection (server/listener.py)."""
        pid = None if self._conn is None else self._storage.backend_pid(self._conn)
        return set() if pid is None else {pid}

    def submit(self, operation: Operation, *, quick: bool = False) -> asyncio.Future[Any]:
        """Queue `operation`; the future resolves after the commit, or with an ApiError.

        `quick` marks an operation of a few indexed statements that may run on
        the event loop; anything that can touch many rows must not set it.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._closing:
            future.set_exception(ReadOnlyError("The server is shutting down; try again shortly."))
            return future
        self._queue.append(_Job(operation, future, quick))
        self._wake.set()
        return future

    async def run(self, operation: Callable[[Tx], T]) -> T:
        return await self.submit(operation)

    async def stop(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._queue:
                if self._closing:
                    return
                continue
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            if self._queue or self._closing:
                self._wake.set()
            try:
                if self._storage.runs_on_loop and all(job.quick for job in batch):
                    await self._commit_quick(batch)
                else:
                    await self._in_thread(functools.partial(self._commit_retrying, batch))
            except BaseException as error:
                failure = self._failure_for(error, "writer")
                for job in batch:
                    job.error = failure
            self._resolve(batch)

    async def _in_thread(self, step: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._guarded, step)

    async def _commit_quick(self, batch: list[_Job]) -> None:
        # Guarded like every step: whatever fails, no transaction is left open.
        if not self._guarded(self._begin_at_once):
            await self._in_thread(self._begin)
        if self._guarded(lambda: self._apply_all(batch)):
            await self._in_thread(lambda: self._finish(batch))
        else:
            await self._in_thread(lambda: self._commit_each(batch))

    def _resolve(self, batch: list[_Job]) -> None:
        for job in batch:
            if job.error is None:
                for effect in job.effects:
                    try:
                        effect()
                    except Exception as error:
                        log_unexpected(error, "after-commit effect")
            if job.future.done():
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.outcome)

    def _guarded(self, step: Callable[[], T]) -> T:
        conn = self._connection()
        try:
            return step()
        except BaseException:
            # Never leave a transaction open: the next batch could not begin.
            if conn.in_transaction:
                with contextlib.suppress(*DRIVER_ERRORS):
                    conn.execute("ROLLBACK")
            raise

    def _connection(self) -> Connection:
        assert self._conn is not None
        return self._conn

    def _reconnect_if_broken(self) -> None:
        """Replace a connection the engine broke (a restarted server); raises if it cannot."""
        conn = self._connection()
        if not self._storage.is_broken(conn):
            return
        with contextlib.suppress(*DRIVER_ERRORS):
            conn.close()
        self._conn = self._storage.connect()
        self._changes = self._conn.total_changes

    def _begin(self) -> None:
        self._storage.begin(self._connection())

    def _begin_at_once(self) -> bool:
        return self._storage.begin_at_once(self._connection())

    def _commit_retrying(self, batch: list[_Job]) -> None:
        """`_commit_all`, run again while it loses races with other processes.

        Also run again, once, on a new connection when the connection turns
        out to have broken before COMMIT was sent (PostgreSQL restarted while
        this process was idle): that transaction cannot have committed, so
        running it again stores nothing twice. A connection lost during
        COMMIT is never retried, since the commit may have happened.
        """
        self._reconnect_if_broken()
        reconnected = False
        for attempt in range(CONFLICT_RETRIES + 1):
            self._commit_sent = False
            for job in batch:
                job.error = None
            try:
                self._commit_all(batch)
                return
            except BaseException as error:
                broken = self._storage.is_broken(self._connection())
                if broken and not reconnected and not self._commit_sent:
                    reconnected = True
                    self._reconnect_if_broken()
                    continue
                if attempt == CONFLICT_RETRIES or not self._storage.retry_after_conflict(error):
                    raise

    def _commit_all(self, batch: list[_Job]) -> None:
        self._begin()
        if self._apply_all(batch):
            self._finish(batch)
        else:
            self._commit_each(batch)

    def _apply_all(self, batch: list[_Job]) -> bool:
        """Every operation, no savepoints; False, rolled back, if any of them raised."""
        conn = self._connection()
        try:
            for job in batch:
                tx = Tx(conn)
                job.outcome = job.operation(tx)
                job.effects = tx.effects
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return False
        return True

    def _commit_each(self, batch: list[_Job]) -> None:
        """Each operation in its own savepoint, so a refused one is undone alone."""
        conn = self._connection()
        self._begin()
        done: list[_Job] = []
        for job in batch:
            job.effects = []
            if not conn.in_transaction:
                self._begin()
            tx = Tx(conn)
            conn.execute("SAVEPOINT operation")
            try:
                job.outcome = job.operation(tx)
                conn.execute("RELEASE operation")
                job.effects = tx.effects
                done.append(job)
            except BaseException as error:
                job.error = (
                    error if isinstance(error, ApiError) else self._failure_for(error, "operation")
                )
                if conn.in_transaction:
                    conn.execute("ROLLBACK TO operation")
                    conn.execute("RELEASE operation")
                else:
                    # SQLite abandoned the whole transaction (a full disk does
                    # that): the operations before this one are gone too.
                    for earlier in done:
                        earlier.error = job.error
                    done.clear()
        self._finish(done)

    def _finish(self, done: list[_Job]) -> None:
        """Commit; on failure every operation in `done` gets the error."""
        conn = self._connection()
        if not conn.in_transaction:
            return
        self._commit_sent = True
        try:
            conn.execute("COMMIT")
        except BaseException as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = self._failure_for(error, "commit")
            for job in done:
                job.error = failure
            return
        self._committed(done)
