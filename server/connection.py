"""One authenticated websocket: a bounded outbound queue and in-order delivery.

Everything sent to the client goes through `send`, into a queue bounded in
frames and bytes that one sender task drains. A client that stops reading
makes the transport push back, the queue fills, and the connection is closed
rather than allowed to grow the server's memory; its envelopes stay stored
and are delivered again when it reconnects.

Delivery order is the order envelopes were stored (their `seq`). On connect
the stored backlog is read page by page, only as fast as the queue drains.
Envelopes committed meanwhile are not queued directly: they only mark the
backlog as stale, and it is read again, until a read finds nothing new.
From then on, new envelopes are pushed straight from the writer in commit
order, skipping any `seq` already queued.

The items of the account's groups (server/group_stream.py) travel the same
way beside the envelopes, with their own `seq` order: one order for all the
groups' items, so one high-water mark serves every group of the account.
"""

import asyncio
import json
import logging
from collections import deque
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from server import envelopes, group_stream
from server.errors import ApiError
from server.readers import Readers
from server.storage import Connection as StorageConnection

BACKLOG_PAGE = 64
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013
FLUSH_TIMEOUT = 10.0
# What sending or receiving raises once the client has gone away.
CLIENT_GONE = (OSError, WebSocketDisconnect, WebSocketDisconnected)

logger = logging.getLogger("quietline.relay")


def error_frame(error: ApiError, ref: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", **error.body()}
    if ref is not None:
        frame["ref"] = ref
    return frame


class Connection:
    def __init__(
        self, ws: WebSocket, account: bytes, session: bytes, max_frames: int, max_bytes: int
    ) -> None:
        self.ws = ws
        self.account = account
        self.session = session
        self.closing = False
        self.done = asyncio.Event()
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._out: deque[str] = deque()
        self._out_bytes = 0
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._close_code: int | None = None
        self._catching_up = True
        self._missed = False
        self._max_seq = 0
        self._wakeups: set[asyncio.Task[None]] = set()
        self._max_group_seq = 0

    def send(self, frame: dict[str, Any] | str) -> None:
        """Queue a frame; a queue over its bounds closes the connection instead."""
        if self.done.is_set():
            return
        text = frame if isinstance(frame, str) else json.dumps(frame)
        if len(self._out) >= self._max_frames or self._out_bytes + len(text) > self._max_bytes:
            self._overflow()
            return
        self._out.append(text)
        self._out_bytes += len(text)
        self._wake.set()

    def push_envelope(self, seq: int, text: str) -> None:
        """Called by the writer after the envelope's commit, in commit order."""
        if self._catching_up:
            self._missed = True
        elif seq > self._max_seq:
            self._max_seq = seq
            self.send(text)

    def push_group(self, seq: int, text: str) -> None:
        """Called by the writer after a group item's commit, in commit order."""
        if self._catching_up:
            self._missed = True
        elif seq > self._max_group_seq:
            self._max_group_seq = seq
            self.send(text)

    def close_with(self, error: ApiError, code: int = CLOSE_POLICY) -> None:
        """Send `error`, then close; frames already queued go out first."""
        if self.closing or self.done.is_set():
            return
        self.closing = True
        self._out.append(json.dumps(error_frame(error)))
        self._close_code = code
        self._wake.set()
        # A client that does not read would hold the close frame back forever.
        asyncio.get_running_loop().call_later(FLUSH_TIMEOUT, self.done.set)

    def _overflow(self) -> None:
        logger.info("closed a connection whose client did not read its frames")
        self._out.clear()
        self._out_bytes = 0
        self.closing = True
        self.done.set()

    def _has_room_for_backlog(self) -> bool:
        # The backlog uses half the queue, so live frames still fit beside it.
        return len(self._out) < self._max_frames // 2 and self._out_bytes < self._max_bytes // 2

    async def run_sender(self) -> None:
        try:
            while not self.done.is_set():
                while self._out:
                    text = self._out.popleft()
                    self._out_bytes -= len(text)
                    self._space.set()
                    await self.ws.send_text(text)
                if self._close_code is not None:
                    await self.ws.close(self._close_code)
                    break
                self._wake.clear()
                if not self._out:
                    await self._wake.wait()
        except CLIENT_GONE:
            # The client went away while we were sending; nothing is lost,
            # unacknowledged envelopes stay stored.
            pass
        finally:
            self.done.set()

    def wake(self, readers: Readers) -> None:
        """Envelopes were stored elsewhere (server/wakeup.py): read the backlog again.

        During a catch-up this only marks it stale, as a pushed envelope
        does; otherwise it starts one. A read that fails closes the
        connection: the client connects again and catches up then.
        """
        if self.done.is_set():
            return
        if self._catching_up:
            self._missed = True
            return
        self._catching_up = True
        task = asyncio.create_task(self._catch_up_or_close(readers))
        self._wakeups.add(task)
        task.add_done_callback(self._wakeups.discard)

    async def _catch_up_or_close(self, readers: Readers) -> None:
        try:
            await self.catch_up(readers)
        except Exception:
            logger.info("closed a connection whose backlog could not be read")
            self.closing = True
            self.done.set()

    async def catch_up(self, readers: Readers) -> None:
        """Queue the stored backlog in order, then switch to live delivery."""
        while not self.done.is_set():
            self._missed = False
            rows, items = await readers.run(
                _backlog, self.account, self._max_seq, self._max_group_seq
            )
            for seq, text in rows:
                if not await self._room_for_backlog():
                    return
                if seq > self._max_seq:
                    self._max_seq = seq
                    self.send(text)
            for seq, text in items:
                if not await self._room_for_backlog():
                    return
                if seq > self._max_group_seq:
                    self._max_group_seq = seq
                    self.send(text)
            if len(rows) < BACKLOG_PAGE and len(items) < BACKLOG_PAGE and not self._missed:
                self._catching_up = False
                return

    async def _room_for_backlog(self) -> bool:
        """Wait for room in the queue; False when the connection ended meanwhile."""
        while not self._has_room_for_backlog():
            self._space.clear()
            await self._space.wait()
            if self.done.is_set():
                return False
        return True


def _backlog(
    conn: StorageConnection, account: bytes, after_seq: int, after_group_seq: int
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """One page of each backlog, read in one transaction."""
    return (
        envelopes.backlog(conn, account, after_seq, BACKLOG_PAGE),
        group_stream.backlog(conn, account, after_group_seq, BACKLOG_PAGE),
    )
