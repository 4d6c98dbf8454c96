"""Real receivers for notifications on loopback: an SMTP server and an HTTP server.

`MailReceiver` is aiosmtpd's SMTP server in its own thread; `PushReceiver`
is the standard library's HTTP server in a thread. Both record everything
that reaches them (the raw mail with every header, or the request line,
headers and body) for the tests to search.
"""

import asyncio
import http.server
import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A loopback port nothing listens on now (for a server started later on it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.raw)


class _MailHandler:
    def __init__(self, store: list[Mail]) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.store.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


class MailReceiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.mails: list[Mail] = []
        self._controller = Controller(
            _MailHandler(self.mails), hostname="127.0.0.1", port=self.port
        )

    def start(self) -> "MailReceiver":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


@dataclass
class Push:
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def raw(self) -> bytes:
        lines = [f"POST {self.path}"] + [f"{name}: {value}" for name, value in self.headers]
        return "\n".join(lines).encode() + b"\n\n" + self.body


class PushReceiver:
    """Answers every POST with `status` (200 unless a test changes it)."""

    def __init__(self) -> None:
        self.pushes: list[Push] = []
        self.status = 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.pushes.append(Push(self.path, list(self.headers.items()), body))
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/x")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> "PushReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    """Poll until `predicate()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not become true in time")
        time.sleep(0.05)


async def eventually(predicate: Any, timeout: float = 20.0) -> None:
    """`wait_for` for async tests: polls without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not become true in time")
        await asyncio.sleep(0.05)
