"""Repeated kill -9 under load: every acknowledged envelope is delivered, none is lost or doubled.

Three clients pipeline sends to one therapist, who is connected, receives and
acknowledges as fast as it can; the server is killed with SIGKILL in the
middle, `CYCLES` times, and started again on the same data directory.

What must hold across all of it (docs/API.md "Websocket frames"):

- every `send` answered `sent` is stored: its envelope reaches the therapist
  with the bytes that were sent;
- a cmid names one envelope as long as that envelope waits: resending every
  cmid afterwards gets the id first answered, unless the envelope was
  delivered and may have been collected (its de-duplication row goes with it,
  docs/SECURITY.md "sent_cmids"); then the copy is stored anew, once, for the
  recipient's client to drop as a replay;
- an envelope whose `ack` was answered `acked` is never delivered again; one
  whose answer was lost in a kill may come once more after the restart, but
  no connection ever receives the same envelope twice;
- when everything is acknowledged nothing is pending, and the file passes
  SQLite's integrity and foreign-key checks.
"""

import asyncio
import collections
import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import websockets
from reliability_harness import integrity
from server_harness import (
    Account,
    Socket,
    make_account,
    make_therapist,
    open_socket,
    random_envelope,
)

from crypto.encoding import b64u_decode, b64u_encode

CYCLES = 5
CLIENTS = 3
KILL_AFTER_SENT = 150  # per cycle, over all clients
SENDS_PER_CYCLE = 600  # per client: more than can be answered before the kill
RESEND_UNANSWERED = 100  # per client
CYCLE_TIMEOUT = 60.0


@dataclass
class Ledger:
    """Everything the clients and the therapist were told, across all cycles."""

    envelopes: dict[str, bytes] = field(default_factory=dict)  # cmid -> bytes sent
    sender: dict[str, Account] = field(default_factory=dict)  # cmid -> client
    sent: dict[str, str] = field(default_factory=dict)  # cmid -> envelope id answered
    acked: set[str] = field(default_factory=set)
    deliveries: list[tuple[int, str, bytes]] = field(default_factory=list)  # (connection, id, env)
    acked_before: dict[str, int] = field(default_factory=dict)  # id -> deliveries count at ack


async def _client_load(
    socket: Socket,
    client: Account,
    to: Account,
    ledger: Ledger,
    kill_at: int,
    enough: asyncio.Event,
) -> None:
    """Pipeline sends until the connection dies; `enough` once `kill_at` sends are answered."""

    async def read() -> None:
        async for raw in socket.ws:
            frame = json.loads(raw)
            if frame["type"] == "sent":
                previous = ledger.sent.setdefault(frame["cmid"], frame["id"])
                assert previous == frame["id"], "one cmid was answered with two envelope ids"
                if len(ledger.sent) >= kill_at:
                    enough.set()
            else:
                assert frame["type"] in ("ready", "prekeys_low"), frame

    async def write() -> None:
        for _ in range(SENDS_PER_CYCLE):
            cmid = b64u_encode(os.urandom(16))
            env = random_envelope()
            ledger.envelopes[cmid], ledger.sender[cmid] = env, client
            await socket.send(
                {"type": "send", "cmid": cmid, "to": to.id_text, "env": b64u_encode(env)}
            )

    with contextlib.suppress(websockets.ConnectionClosed):
        await asyncio.gather(read(), write())


async def _therapist_load(socket: Socket, connection: int, ledger: Ledger) -> None:
    """Receive and acknowledge every envelope until the connection dies."""
    try:
        async for raw in socket.ws:
            frame = json.loads(raw)
            if frame["type"] == "envelope":
                ledger.deliveries.append((connection, frame["id"], b64u_decode(frame["env"])))
                await socket.send({"type": "ack", "id": frame["id"]})
            elif frame["type"] == "acked":
                ledger.acked.add(frame["id"])
                ledger.acked_before[frame["id"]] = sum(
                    1 for d in ledger.deliveries if d[1] == frame["id"]
                )
            else:
                assert frame["type"] in ("ready", "prekeys_low"), frame
    except websockets.ConnectionClosed:
        pass


async def test_repeated_sigkill_under_load_loses_and_doubles_nothing(server_factory: Any) -> None:
    # Each client's unanswered sends pile up over the cycles: load, not the
    # per-sender limit, is what this tests.
    server = server_factory(max_pending_per_sender=CYCLES * SENDS_PER_CYCLE)
    therapist = make_therapist(server)
    clients = [make_account(server.url) for _ in range(CLIENTS)]
    ledger = Ledger()
    connection = 0
    for cycle in range(CYCLES):
        enough = asyncio.Event()
        kill_at = len(ledger.sent) + KILL_AFTER_SENT
        connection += 1
        inbox = await open_socket(server.url, therapist)
        tasks = [asyncio.create_task(_therapist_load(inbox, connection, ledger))]
        for client in clients:
            socket = await open_socket(server.url, client)
            tasks.append(
                asyncio.create_task(
                    _client_load(socket, client, therapist, ledger, kill_at, enough)
                )
            )
        await asyncio.wait_for(enough.wait(), CYCLE_TIMEOUT)
        server.kill()
        await asyncio.wait_for(asyncio.gather(*tasks), CYCLE_TIMEOUT)
        assert len(ledger.sent) < len(ledger.envelopes), (
            f"cycle {cycle}: every send was answered before the kill"
        )
        server.start()

    # Resend every answered cmid, and the first unanswered ones of each cycle
    # (some of which were committed before the kill): an answered cmid whose
    # envelope still waits must get its first id back.
    delivered_before_resend = {envelope_id for _, envelope_id, _ in ledger.deliveries}
    for client in clients:
        socket = await open_socket(server.url, client)
        mine = [c for c, owner in ledger.sender.items() if owner is client]
        answered = [c for c in mine if c in ledger.sent]
        unanswered = [c for c in mine if c not in ledger.sent][:RESEND_UNANSWERED]
        for cmid in answered + unanswered:
            frame = {"type": "send", "cmid": cmid, "to": therapist.id_text}
            await socket.send({**frame, "env": b64u_encode(ledger.envelopes[cmid])})
        for cmid in answered + unanswered:
            answer = await socket.answer_for("cmid", cmid)
            assert answer["type"] == "sent", answer
            first = ledger.sent.setdefault(cmid, answer["id"])
            if first != answer["id"]:
                assert first in delivered_before_resend, "a cmid changed its envelope"
        await socket.close()

    # Receive and acknowledge everything still pending.
    connection += 1
    inbox = await open_socket(server.url, therapist)
    pending = [await inbox.expect("envelope") for _ in range(inbox.ready["pending"])]
    for frame in pending:
        ledger.deliveries.append((connection, frame["id"], b64u_decode(frame["env"])))
        await inbox.send({"type": "ack", "id": frame["id"]})
    for frame in pending:
        assert (await inbox.answer_for("id", frame["id"]))["type"] == "acked"
    await inbox.close()
    again = await open_socket(server.url, therapist)
    assert again.ready["pending"] == 0
    await again.close()

    cmid_of = {env: cmid for cmid, env in ledger.envelopes.items()}
    ids_of_cmid: dict[str, set[str]] = collections.defaultdict(set)
    for _, envelope_id, env in ledger.deliveries:
        assert env in cmid_of, "a delivered envelope is not one that was sent"
        ids_of_cmid[cmid_of[env]].add(envelope_id)
    # Each cmid was stored at most once while its envelope waited (a second
    # time only by the resend, after the first was delivered), and every
    # answered one was delivered under the id it was answered with.
    for ids in ids_of_cmid.values():
        assert len(ids & delivered_before_resend) <= 1, "a cmid was stored twice"
        assert len(ids - delivered_before_resend) <= 1, "a cmid was stored twice"
    for cmid, envelope_id in ledger.sent.items():
        assert envelope_id in ids_of_cmid[cmid], "an acknowledged envelope was lost"
    # No connection saw an envelope twice.
    per_connection = collections.Counter((c, i) for c, i, _ in ledger.deliveries)
    assert max(per_connection.values()) == 1
    # Once `acked` was answered, the envelope never came back.
    counts = collections.Counter(i for _, i, _ in ledger.deliveries)
    for envelope_id, seen in ledger.acked_before.items():
        assert counts[envelope_id] == seen, "an acknowledged envelope was delivered again"
    assert ledger.acked_before, "no acknowledgement was answered before a kill"

    server.stop()
    assert integrity(server) == ("ok", [])
