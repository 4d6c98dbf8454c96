"""For the load generator's `group` job: one sender, every recipient acknowledging what it gets.

In `group` mode the first device sends group messages to its group and every
device (the sender's own account included, since it is a member too) is a
routing member that acknowledges each item (`group_ack`); in `pair` mode the
first device sends envelopes to the second, which acknowledges them (`ack`),
the one-to-one baseline. The sender keeps `window` sends in flight. The
server's CPU time is read from the first send until every send is answered
and every recipient has acknowledged every message.

With `ack` false only the sender connects and nobody acknowledges: the
messages stay stored, for bench/groups_bench.py to measure the bytes they
take in the database.

Group messages are made before the clock starts: random ciphertext padded to
the 1024-byte bucket, framed and signed with a sender key like a real one
(PROTOCOL.md 15.4), so the server verifies them as it would any.
"""

import asyncio
import json
import os
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.seed import Device, random_envelope
from crypto import signatures
from crypto.constants import CTX_GROUP_MESSAGE
from crypto.encoding import b64u_decode, b64u_encode
from crypto.group_message import GroupHeader
from crypto.sender_key import signing_public_key

BUCKET = 1024


def group_messages(group: bytes, roster_version: int, count: int) -> list[str]:
    """`count` signed group messages of one sender key, iterations 0, 1, ..., as b64u."""
    seed = os.urandom(32)
    sender_key = signing_public_key(seed)
    made = []
    for iteration in range(count):
        header = GroupHeader(group, roster_version, sender_key, iteration).encode()
        ciphertext = os.urandom(BUCKET + 16)
        sig = signatures.sign(seed, CTX_GROUP_MESSAGE, header + ciphertext)
        made.append(b64u_encode(header + ciphertext + sig))
    return made


class Recipient:
    """One device that counts what it receives and acknowledges it at once."""

    def __init__(self, ws: ClientConnection, group: str, acknowledge: bool) -> None:
        self.ws = ws
        self.group = group
        self.acknowledge = acknowledge
        self.received = 0
        self.acked = 0
        self.sent = 0
        self.errors: dict[str, int] = {}
        self.window: asyncio.Semaphore | None = None

    async def read(self) -> None:
        try:
            async for text in self.ws:
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "group" and frame.get("kind") == "message":
                    self.received += 1
                    if self.acknowledge:
                        await self.ws.send(
                            f'{{"type":"group_ack","group":"{self.group}","id":"{frame["id"]}"}}'
                        )
                elif kind == "envelope":
                    self.received += 1
                    if self.acknowledge:
                        await self.ws.send(f'{{"type":"ack","id":"{frame["id"]}"}}')
                elif kind in ("group_acked", "acked"):
                    self.acked += 1
                elif kind in ("group_sent", "sent"):
                    self.sent += 1
                    if self.window is not None:
                        self.window.release()
                elif kind == "error":
                    code = str(frame.get("code"))
                    self.errors[code] = self.errors.get(code, 0) + 1
                    if self.window is not None and frame.get("ref") is not None:
                        self.window.release()
        except ConnectionClosed:
            pass


def send_frames(job: dict[str, Any], devices: list[Device]) -> list[str]:
    """The sender's frames, made before the clock starts."""
    count = int(job["messages"])
    if job["mode"] == "group":
        group_text = job["group"]
        bodies = group_messages(b64u_decode(group_text), int(job["roster_version"]), count)
        return [
            f'{{"type":"group_send","cmid":"{b64u_encode(os.urandom(16))}",'
            f'"group":"{group_text}","msg":"{body}"}}'
            for body in bodies
        ]
    to = devices[0].partner
    return [
        f'{{"type":"send","cmid":"{b64u_encode(os.urandom(16))}","to":"{to}",'
        f'"env":"{b64u_encode(random_envelope(BUCKET))}"}}'
        for _ in range(count)
    ]
