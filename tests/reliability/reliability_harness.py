"""Helpers for the reliability tests: a client that stops reading, /proc, SQLite, frame checks.

`StalledClient` speaks the websocket protocol over a plain blocking socket
(websockets' sans-I/O client), authenticates like any client and then does
nothing: it reads no frame, answers no ping. To the server it is a device
that froze or vanished without closing its connection.
"""

import json
import os
import socket
import sqlite3
import time
from typing import Any
from urllib.parse import urlsplit

from server_harness import Account, auth_signature
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from crypto.encoding import b64u_decode, b64u_encode
from server import envelopes, relay, vault
from server.config import Settings
from server.validation import identifier

IO_TIMEOUT = 20.0
MAX_FRAME_BYTES = Settings().max_frame_bytes
MAX_VAULT_WRITES = Settings().max_vault_writes
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * _PAGE_BYTES


# Accounts whose counters (kept by triggers) disagree with the rows they count.
_MISCOUNTED = (
    "SELECT a.id FROM accounts a WHERE a.inbox != "
    "(SELECT COUNT(*) FROM envelopes e WHERE e.recipient = a.id) "
    "OR a.outbox_bytes != (SELECT COALESCE(SUM(length(e.env)), 0) FROM envelopes e "
    "WHERE e.sender = a.id) + (SELECT COALESCE(SUM(length(m.body)), 0) FROM group_messages m "
    "WHERE m.sender = a.id) "
    "UNION ALL SELECT g.id FROM groups g WHERE g.stored != "
    "(SELECT COUNT(*) FROM group_messages m WHERE m.group_id = g.id)"
)


def integrity(server: Any) -> tuple[str, list[Any]]:
    """The engine's verdict on the store, and any rows it holds that contradict each other.

    SQLite: its integrity check and any rows that break a foreign key.
    PostgreSQL enforces foreign keys in every transaction, and a crashed
    relay process cannot damage its files; for both, the counters the
    triggers keep must match the rows they count.
    """
    miscounted = server.rows(_MISCOUNTED)
    if server.backend != "sqlite":
        return "ok", miscounted
    conn = sqlite3.connect(str(server.database))
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.close()
    return verdict, orphans + miscounted


class StalledClient:
    """An authenticated websocket on a raw socket whose owner stops reading."""

    def __init__(self, ws_url: str, account: Account, receive_buffer: int = 4096) -> None:
        parts = urlsplit(ws_url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small kernel buffer, so that a client that stops reading pushes
        # back on the server after kilobytes rather than megabytes.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(IO_TIMEOUT)
        self.sock.connect((parts.hostname, parts.port))
        self.protocol = ClientProtocol(parse_uri(ws_url), max_size=None)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self.pending: list[Frame] = []
        challenge = json.loads(self._next_text())
        sig = auth_signature(
            account.identity,
            b64u_decode(challenge["server"]),
            b64u_decode(challenge["nonce"]),
            account.id,
        )
        auth = {
            "type": "auth",
            "account": account.id_text,
            "sig": b64u_encode(sig),
            "token": account.token,
        }
        self.protocol.send_text(json.dumps(auth).encode())
        self._flush()
        self.ready = json.loads(self._next_text())

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.sock.sendall(chunk)

    def _next_text(self) -> str:
        while True:
            while self.pending:
                frame = self.pending.pop(0)
                if frame.opcode == Opcode.TEXT:
                    return frame.data.decode()
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection during the handshake")
            self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                if isinstance(event, Response):
                    if event.status_code != 101:
                        raise ConnectionError(f"handshake refused: {event.status_code}")
                else:
                    self.pending.append(event)

    def read_until_closed(self, deadline_s: float) -> tuple[list[Frame], bool]:
        """Read everything the server sent until it closes the TCP connection.

        Returns the frames and whether the end of the stream was reached
        before the deadline. Pings are not answered: this client is gone.
        """
        frames = list(self.pending)
        deadline = time.monotonic() + deadline_s
        self.sock.settimeout(1.0)
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            except ConnectionResetError:
                return frames, True
            if not data:
                return frames, True
            self.protocol.receive_data(data)
            frames.extend(e for e in self.protocol.events_received() if isinstance(e, Frame))
        return frames, False

    def close(self) -> None:
        self.sock.close()


def close_code(frames: list[Frame]) -> int | None:
    for frame in frames:
        if frame.opcode == Opcode.CLOSE:
            return Close.parse(frame.data).code
    return None


def handle_frame(text: str) -> Any:
    """What the relay checks in a frame, in its order, before anything is stored.

    Returns the parsed parts, or raises what the relay would answer (an ApiError).
    """
    frame = relay._parse_frame(text, MAX_FRAME_BYTES)
    if frame["type"] == "send":
        return (
            identifier(frame, "to"),
            identifier(frame, "cmid"),
            envelopes.parse_envelope(frame),
            vault.parse_writes(frame["vault"], MAX_VAULT_WRITES) if "vault" in frame else [],
        )
    if frame["type"] == "ack":
        writes = frame.get("vault")
        return identifier(frame, "id"), [] if writes is None else vault.parse_writes(
            writes, MAX_VAULT_WRITES
        )
    return frame
