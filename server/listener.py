"""Each relay process's listening connection: wake-ups from the others (server/wakeup.py).

One dedicated PostgreSQL connection per process does nothing but LISTEN.
A wake-up is handled by reading the store, never by trusting the
notification: an `e` makes the account's live connections here read their
backlog, a `v` tells them the vault's cursor as the store has it, an `s`
closes those whose session the store no longer holds, a `t` reloads the
account's notification addresses. When the listening connection is lost,
it is made again with growing pauses, and then every live connection here
catches up on everything, since what was notified meanwhile went unheard.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import psycopg

from server import notification_targets
from server.errors import SignedOutError, UnauthorizedError
from server.logs import log_unexpected
from server.postgres import PostgresStorage
from server.profiles import PROFILE_CHANGED
from server.services import Services
from server.storage import Connection, Storage
from server.wakeup import CHANNEL, ENVELOPE, PROFILE, SESSIONS, TARGET, VAULT

# After the listening connection is lost: the first retry soon, then waits
# that double up to a few seconds, so a restarting PostgreSQL is found again
# within seconds of it accepting connections.
RETRY_FIRST = 0.2
RETRY_MAX = 5.0

logger = logging.getLogger("quietline.wakeup")


class Wakeups:
    """One process's listening connection, turning notifications into catch-up reads."""

    def __init__(
        self,
        storage: Storage,
        handlers: dict[str, Callable[[bytes], None]],
        wake_all: Callable[[], None],
        own_pids: Callable[[], set[int]],
    ) -> None:
        self._storage = storage
        self._handlers = handlers
        self._wake_all = wake_all
        self._own_pids = own_pids
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        if isinstance(self._storage, PostgresStorage):
            self._task = asyncio.create_task(self._run(self._storage), name="quietline-wakeups")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, storage: PostgresStorage) -> None:
        delay = RETRY_FIRST
        lost = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    storage.url, autocommit=True, connect_timeout=5, application_name="quietline"
                )
            except psycopg.Error as error:
                if not lost:
                    lost = True
                    logger.warning(
                        "cannot listen for wake-ups (%s); retrying", type(error).__name__
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            try:
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if lost:
                        logger.warning(
                            "listening for wake-ups again; every live connection catches up"
                        )
                        # Whatever was notified while nobody listened is in the store.
                        self._wake_all()
                    lost = False
                    delay = RETRY_FIRST
                    async for note in conn.notifies():
                        if note.pid in self._own_pids():
                            continue
                        kind, _, account = note.payload.partition(":")
                        handler = self._handlers.get(kind)
                        if handler is not None:
                            with contextlib.suppress(ValueError):
                                handler(bytes.fromhex(account))
            except psycopg.Error as error:
                self.listening.clear()
                if not lost:
                    lost = True
                    logger.warning(
                        "the wake-up connection was lost (%s); reconnecting",
                        type(error).__name__,
                    )
                await asyncio.sleep(delay)


def _vault_cursor(conn: Connection, account: bytes) -> int | None:
    row = conn.execute("SELECT vault_seq FROM accounts WHERE id = ?", (account,)).fetchone()
    return None if row is None else int(row[0])


def _sessions(conn: Connection, account: bytes) -> dict[bytes, bool] | None:
    """The account's sessions, each with whether another device signed it out; None if gone."""
    if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account,)).fetchone() is None:
        return None
    rows = conn.execute("SELECT id, signed_out FROM tokens WHERE account = ?", (account,))
    return {bytes(row[0]): row[1] is not None for row in rows}


class Handlers:
    """What a wake-up from another process makes this one do: read the store, then act."""

    def __init__(self, service: Services) -> None:
        self._service = service
        self._tasks: set[asyncio.Task[Any]] = set()

    def table(self) -> dict[str, Callable[[bytes], None]]:
        return {
            ENVELOPE: self.envelope,
            VAULT: lambda account: self._spawn(self._vault(account), account),
            SESSIONS: lambda account: self._spawn(self._sessions(account), account),
            TARGET: lambda account: self._spawn(self._target(account), None),
            PROFILE: self.profile,
        }

    def _spawn(self, work: Any, live_account: bytes | None) -> None:
        if live_account is not None and not self._service.hub.is_live(live_account):
            work.close()
            return
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log_unexpected(task.exception(), "wake-up")  # type: ignore[arg-type]

    def envelope(self, account: bytes) -> None:
        self._service.hub.wake(account, self._service.readers)

    def profile(self, account: bytes) -> None:
        # Nothing to read: the push only tells the devices to fetch the profile.
        self._service.hub.notify(account, PROFILE_CHANGED)

    def wake_all(self) -> None:
        for account in self._service.hub.accounts():
            self.envelope(account)
            self._spawn(self._vault(account), account)
            self._spawn(self._sessions(account), account)

    async def _vault(self, account: bytes) -> None:
        cursor = await self._service.readers.run(_vault_cursor, account)
        if cursor is not None:
            self._service.hub.vault_changed(account, cursor)

    async def _sessions(self, account: bytes) -> None:
        sessions = await self._service.readers.run(_sessions, account)
        hub = self._service.hub
        if sessions is None:
            hub.close_account(account, UnauthorizedError("This account was deleted; log in again."))
            return
        hub.close_sessions(
            account,
            {s for s, out in sessions.items() if out},
            SignedOutError(),
        )
        hub.close_sessions_except(
            account, set(sessions), UnauthorizedError("This session logged out.")
        )

    async def _target(self, account: bytes) -> None:
        target = await self._service.readers.run(notification_targets.get, account)
        self._service.notifier.set_target(account, target)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
