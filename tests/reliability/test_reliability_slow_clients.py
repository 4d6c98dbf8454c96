"""Clients that stop reading or vanish cost the server bounded memory, and lose nothing.

A recipient that authenticates and then stops reading (a frozen tab, a phone
that lost the network without closing its connection) is sent far more than
the server may queue for it. The server must close that connection when its
bounded queue overflows rather than grow, and keep every envelope stored for
the next connection. A client that stops answering pings is reaped by
uvicorn's keepalive (by default a ping every 20 s, and the connection closed
20 s after an unanswered one; `ws_ping_interval` and `ws_ping_timeout`).
"""

import asyncio
import os
from typing import Any

from reliability_harness import StalledClient, close_code, rss_bytes
from server_harness import make_account, make_therapist, open_socket, random_envelope

from crypto.constants import BUCKETS
from crypto.encoding import b64u_encode

QUEUE_BYTES = 1024 * 1024
SENDS = 2000  # 16 KiB envelopes: about 45 MB of frames for a reader that reads none
WINDOW = 32
WARM_UP = 50
# What the server may keep for the stalled client: its queue, socket buffers,
# SQLite's page cache, and the allocator's slack. Far below what was sent.
MAX_GROWTH = 24 * 1024 * 1024
# Keepalive shortened from the defaults (ping every 20 s, give up 20 s later)
# so the test waits seconds, not a minute; the mechanism is the same.
PING_INTERVAL = 1.0
PING_TIMEOUT = 1.0
KEEPALIVE_DEADLINE = PING_INTERVAL + PING_TIMEOUT + 15.0


async def test_a_client_that_stops_reading_is_closed_and_loses_nothing(server_factory: Any) -> None:
    # One sender's backlog, not the per-sender limits, is what this tests.
    server = server_factory(
        send_queue_frames=64,
        send_queue_bytes=QUEUE_BYTES,
        max_inbox=WARM_UP + SENDS,
        max_pending_per_sender=WARM_UP + SENDS,
        max_pending_bytes=64 * 1024 * 1024,
    )
    therapist = make_therapist(server)
    client = make_account(server.url)
    stalled = StalledClient(server.ws_url, therapist)
    assert stalled.ready["type"] == "ready"
    sender = await open_socket(server.url, client)
    # Warm up the server's code paths and caches before the baseline.
    for _ in range(WARM_UP):
        answer = await sender.send_envelope(therapist, random_envelope())
        assert answer["type"] == "sent", answer
    baseline = rss_bytes(server.process.pid)

    envelope = random_envelope(BUCKETS[3])
    peak = baseline
    cmids = [b64u_encode(os.urandom(16)) for _ in range(SENDS)]
    for start in range(0, SENDS, WINDOW):
        batch = cmids[start : start + WINDOW]
        for cmid in batch:
            frame = {"type": "send", "cmid": cmid, "to": therapist.id_text}
            await sender.send({**frame, "env": b64u_encode(envelope)})
        for cmid in batch:
            answer = await sender.answer_for("cmid", cmid)
            assert answer["type"] == "sent", answer
        peak = max(peak, rss_bytes(server.process.pid))
    assert peak - baseline < MAX_GROWTH, f"the server grew by {(peak - baseline) >> 20} MiB"

    # The server gave up on the stalled connection: reading what it had
    # buffered ends in the connection's end, not in a wait.
    _frames, ended = await asyncio.to_thread(stalled.read_until_closed, 30.0)
    stalled.close()
    assert ended, "the server kept a connection whose client read nothing"
    assert "did not read its frames" in server.log_text()

    # Nothing was lost: everything sent is waiting for the next connection.
    await sender.close()
    inbox = await open_socket(server.url, therapist)
    assert inbox.ready["pending"] == WARM_UP + SENDS
    await inbox.close()


async def test_a_client_that_vanished_is_reaped_by_keepalive(server_factory: Any) -> None:
    server = server_factory(ws_ping_interval=PING_INTERVAL, ws_ping_timeout=PING_TIMEOUT)
    therapist = make_therapist(server)
    client = make_account(server.url)
    vanished = StalledClient(server.ws_url, client)
    sender = await open_socket(server.url, therapist)
    answer = await sender.send_envelope(client, random_envelope())
    assert answer["type"] == "sent"

    frames, ended = await asyncio.to_thread(vanished.read_until_closed, KEEPALIVE_DEADLINE)
    vanished.close()
    assert ended, "a client that answers no ping was never disconnected"
    assert close_code(frames) == 1011  # uvicorn: keepalive ping timeout
    # The envelope it never acknowledged is still stored for its next connection.
    back = await open_socket(server.url, client)
    assert back.ready["pending"] == 1
    assert (await back.expect("envelope"))["id"] == answer["id"]
    await asyncio.gather(back.close(), sender.close())
