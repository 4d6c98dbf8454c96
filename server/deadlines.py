"""Deadlines for slow HTTP requests, kept on the connection itself.

uvicorn bounds only the idle time between requests (`timeout_keep_alive`):
once a client has sent the first byte of a request, it may take as long as it
likes over the rest of the headers, or declare a body and send it a byte at a
time, holding a connection, its buffers and, for the body, a task. A reverse
proxy usually bounds this, but the server must not depend on one.

`protocol_for` is the server's h11 protocol (server/transport.py) with two
deadlines: the request's headers must be complete `header_timeout` seconds
after the connection opened or the previous response ended, and its body
`body_timeout` seconds after the headers. Data arriving does not extend them.
A connection past its deadline is closed; a request whose body was being read
ends as if the client had left, and nothing of it was stored. A websocket
upgrade leaves the deadlines behind: the relay has its own (`auth_timeout`, keepalive pings).
"""

import asyncio
from typing import Any

import h11

from server.config import Settings
from server.transport import HttpProtocol


class _DeadlineProtocol(HttpProtocol):
    header_timeout: float
    body_timeout: float

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: type[h11.IDLE] | type[h11.SEND_BODY] | None = None
        self._upgraded = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._upgraded = True
        self._stop()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the deadline of the phase the client is in, when that phase begins."""
        if self._upgraded:
            return
        state = self.conn.their_state
        phase = state if state is h11.IDLE or state is h11.SEND_BODY else None
        if phase is self._phase:
            return
        self._stop()
        self._phase = phase
        if phase is h11.IDLE:
            self._deadline = self.loop.call_later(self.header_timeout, self._expire)
        elif phase is h11.SEND_BODY:
            self._deadline = self.loop.call_later(self.body_timeout, self._expire)

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def protocol_for(settings: Settings) -> type[HttpProtocol]:
    """The HTTP protocol class uvicorn runs, with this server's deadlines."""
    return type(
        "DeadlineProtocol",
        (_DeadlineProtocol,),
        {"header_timeout": settings.header_timeout, "body_timeout": settings.body_timeout},
    )
