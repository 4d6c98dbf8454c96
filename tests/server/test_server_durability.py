"""An acknowledged message survives kill -9, and is delivered exactly once.

A client pipelines sends as fast as it can; the server is killed with SIGKILL
in the middle. After a restart on the same data directory the recipient must
receive every envelope the server had answered `sent` for, each exactly once
and with the bytes that were sent; envelopes whose answer was lost may arrive
(they may have been committed) but also at most once, and sending them again
with the same cmid stores nothing new.
"""

import asyncio
import collections
import json
import os
from typing import Any

import websockets
from server_harness import make_account, make_therapist, open_socket, random_envelope

from crypto.encoding import b64u_decode, b64u_encode

SENDS = 3000
KILL_AFTER_SENT = 200


async def test_sigkill_while_sending_loses_no_acknowledged_envelope(server_factory: Any) -> None:
    # One sender under load, not the per-sender limit, is what this tests.
    server = server_factory(max_pending_per_sender=SENDS)
    therapist = make_therapist(server)
    client = make_account(server.url)
    socket = await open_socket(server.url, client)

    envelopes = {os.urandom(16): random_envelope() for _ in range(SENDS)}
    acknowledged: dict[str, str] = {}
    enough = asyncio.Event()

    async def read_answers() -> None:
        try:
            async for raw in socket.ws:
                frame = json.loads(raw)
                if frame["type"] == "sent":
                    acknowledged[frame["cmid"]] = frame["id"]
                    if len(acknowledged) >= KILL_AFTER_SENT:
                        enough.set()
        except websockets.ConnectionClosed:
            pass

    async def send_all() -> None:
        try:
            for cmid, env in envelopes.items():
                frame = {"type": "send", "cmid": b64u_encode(cmid), "to": therapist.id_text}
                frame["env"] = b64u_encode(env)
                await socket.ws.send(json.dumps(frame))
        except websockets.ConnectionClosed:
            pass

    reader = asyncio.create_task(read_answers())
    sender = asyncio.create_task(send_all())
    await asyncio.wait_for(enough.wait(), 60)
    server.kill()
    await asyncio.gather(reader, sender)
    assert len(acknowledged) >= KILL_AFTER_SENT
    assert len(acknowledged) < SENDS, "the kill came after every send was answered"

    server.start()
    assert therapist.login().status == 200
    inbox = await open_socket(server.url, therapist)
    delivered: list[dict[str, Any]] = []
    for _ in range(inbox.ready["pending"]):
        delivered.append(await inbox.expect("envelope"))

    counts = collections.Counter(frame["id"] for frame in delivered)
    assert all(count == 1 for count in counts.values()), "an envelope was delivered twice"
    by_id = {frame["id"]: b64u_decode(frame["env"]) for frame in delivered}
    for cmid_text, envelope_id in acknowledged.items():
        assert envelope_id in by_id, "an acknowledged envelope was lost"
        assert by_id[envelope_id] == envelopes[b64u_decode(cmid_text)]
    assert set(by_id) >= set(acknowledged.values())

    # Sending everything again with the same cmids stores nothing twice.
    assert client.login().status == 200
    resender = await open_socket(server.url, client)
    for cmid, env in list(envelopes.items())[: len(by_id) + 5]:
        answer = await resender.send_envelope(therapist, env, cmid=cmid)
        assert answer["type"] == "sent"
        if b64u_encode(cmid) in acknowledged:
            assert answer["id"] == acknowledged[b64u_encode(cmid)]
    for frame in delivered:
        assert (await inbox.ack(frame["id"]))["type"] == "acked"
    extra = []
    for _ in range(5):
        extra.append(await inbox.expect("envelope"))
    assert not {frame["id"] for frame in extra} & set(by_id)
    await resender.close()
    await inbox.close()
