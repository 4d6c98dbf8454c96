"""The load generator's side of a device: authenticate, send pre-encrypted envelopes, acknowledge.

A `Peer` is one device's websocket, used the way a client uses it
(docs/API.md "Websocket frames"): it answers the challenge with a real
Ed25519 signature, sends `send` frames carrying envelopes encrypted ahead of
time, and acknowledges every envelope it receives. It keeps counts, and the
time from each send to its partner's receipt.

Each device writes only to its partner, so the partner can match a received
envelope to its send by the envelope's leading bytes (version, type and
ratchet header: unique within a chain). Times come from the monotonic clock
of this one process, so send and receipt are on the same clock.
"""

import asyncio
import json
import os
import time
from collections import Counter, deque
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.seed import Device
from crypto import signatures
from crypto.constants import CTX_WEBSOCKET_AUTH
from crypto.encoding import b64u_decode, b64u_encode

CONNECT_TIMEOUT = 60.0
# b64u characters covering version, type and the 40-byte ratchet header.
MATCH_CHARS = 56


async def open_device(ws_url: str, device: Device) -> tuple[ClientConnection, dict[str, Any]]:
    """An authenticated websocket for `device`, and the server's `ready` frame."""
    ws = await connect(
        ws_url,
        compression=None,
        max_size=None,
        ping_interval=None,
        open_timeout=CONNECT_TIMEOUT,
        close_timeout=2,
    )
    try:
        challenge = json.loads(await asyncio.wait_for(ws.recv(), CONNECT_TIMEOUT))
        data = signatures.websocket_auth_data(
            b64u_decode(challenge["server"]), b64u_decode(challenge["nonce"]), device.account_bytes
        )
        sig = signatures.sign(device.seed_bytes, CTX_WEBSOCKET_AUTH, data)
        await ws.send(
            json.dumps(
                {
                    "type": "auth",
                    "account": device.account,
                    "sig": b64u_encode(sig),
                    "token": device.token,
                }
            )
        )
        ready = json.loads(await asyncio.wait_for(ws.recv(), CONNECT_TIMEOUT))
    except BaseException:
        await ws.close()
        raise
    if ready.get("type") != "ready":
        await ws.close()
        raise RuntimeError(f"authentication refused: {ready}")
    return ws, ready


class Peer:
    """One device: its connection, its envelopes, and what happened to them."""

    def __init__(self, device: Device, ws: ClientConnection, pool: list[str]) -> None:
        self.device = device
        self.ws = ws
        self.pool = pool
        self.partner: Peer | None = None
        self.next_index = 0
        self.sends = 0
        self.sent = 0
        self.delivered = 0
        self.acked = 0
        self.errors: Counter[str] = Counter()
        self.expected: dict[str, deque[float]] = {}
        self.latencies: list[float] = []
        self.record_after = float("inf")
        self.recorded_sends = 0  # sends at or after record_after
        self.window: asyncio.Semaphore | None = None
        self.closed = False
        self._head = '{"type":"send","cmid":"'
        self._middle = f'","to":"{device.partner}","env":"'

    async def send_next(self) -> None:
        """Send the next pooled envelope to the partner, under a fresh cmid."""
        env = self.pool[self.next_index]
        self.next_index = (self.next_index + 1) % len(self.pool)
        cmid = b64u_encode(os.urandom(16))
        assert self.partner is not None
        queue = self.partner.expected.get(env[:MATCH_CHARS])
        if queue is None:
            queue = self.partner.expected[env[:MATCH_CHARS]] = deque()
        now = time.monotonic()
        queue.append(now)
        self.sends += 1
        if now >= self.record_after:
            self.recorded_sends += 1
        await self.ws.send(self._head + cmid + self._middle + env + '"}')

    async def read(self) -> None:
        """Handle every frame until the connection closes: count, time, acknowledge."""
        try:
            async for text in self.ws:
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "envelope":
                    self._received(frame)
                    await self.ws.send('{"type":"ack","id":"' + frame["id"] + '"}')
                elif kind == "sent":
                    self.sent += 1
                    if self.window is not None:
                        self.window.release()
                elif kind == "acked":
                    self.acked += 1
                elif kind == "error":
                    self.errors[str(frame.get("code"))] += 1
                    if self.window is not None and frame.get("ref") is not None:
                        self.window.release()
        except ConnectionClosed:
            pass
        finally:
            self.closed = True

    def _received(self, frame: dict[str, Any]) -> None:
        now = time.monotonic()
        self.delivered += 1
        queue = self.expected.get(frame["env"][:MATCH_CHARS])
        if queue:
            sent_at = queue.popleft()
            if sent_at >= self.record_after:
                self.latencies.append(now - sent_at)
        else:
            self.errors["unmatched_envelope"] += 1


def pair_up(peers: list["Peer"]) -> None:
    by_account = {p.device.account: p for p in peers}
    for peer in peers:
        peer.partner = by_account[peer.device.partner]
