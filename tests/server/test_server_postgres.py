"""What only PostgreSQL has: several relay processes on one database, and a server to restart.

Every other test of this directory runs on both backends; these need
PostgreSQL itself. Two relay processes share one database: a device on one
receives live what was sent through the other (server/wakeup.py), and one
of them killed with SIGKILL under load loses no acknowledged envelope while
the other carries on. PostgreSQL stopped beneath a running relay gives
`unavailable` answers meanwhile, and the relay recovers by itself once
PostgreSQL is back, with no restart.
"""

import asyncio
import collections
import json
import os
import time
from typing import Any

import pytest
import websockets
from server_harness import (
    make_account,
    make_therapist,
    open_socket,
    random_envelope,
    vault_blob,
    vault_write,
)

from crypto import signatures
from crypto.constants import CTX_PROFILE
from crypto.encoding import b64u_decode, b64u_encode
from server import migrations
from server.postgres import PostgresStorage

SENDS = 1500
KILL_AFTER_SENT = 300
RECOVERY_DEADLINE = 30.0


@pytest.fixture(scope="module")
def backend() -> str:
    return "postgresql"


def second_process(server_factory: Any, first: Any, **settings: Any) -> Any:
    """Another relay process with its own data directory, on `first`'s database."""
    return server_factory(database=first.settings["database"], **settings)


async def test_devices_on_different_processes_talk_live(server_factory: Any) -> None:
    a = server_factory()
    b = second_process(server_factory, a)
    therapist = make_therapist(a)
    client = make_account(b.url)
    on_a = await open_socket(a.url, therapist)
    on_b = await open_socket(b.url, client)
    for _ in range(5):
        sent = await on_b.send_envelope(therapist, random_envelope())
        assert sent["type"] == "sent"
        assert (await on_a.expect("envelope"))["id"] == sent["id"]
        assert (await on_a.ack(sent["id"]))["type"] == "acked"
        answer = await on_a.send_envelope(client, random_envelope())
        assert (await on_b.expect("envelope"))["id"] == answer["id"]
        assert (await on_b.ack(answer["id"]))["type"] == "acked"
    # A second device of the therapist, on the other process, learns of vault writes.
    second = await open_socket(b.url, therapist)
    item = os.urandom(16)
    stored = therapist.call("POST", "/api/vault", {"writes": [vault_write(item, 1, vault_blob())]})
    assert stored.status == 200
    changed = await second.expect("vault_changed")
    assert changed["cursor"] == str(stored.body["cursor"])
    # ... and of a profile the therapist published through the first process.
    profile = json.dumps({"display_name": "Dr. On Two Processes"}).encode()
    sig = signatures.sign(therapist.identity.seed, CTX_PROFILE, profile)
    body = {"profile": b64u_encode(profile), "sig": b64u_encode(sig)}
    assert therapist.call("PUT", "/api/profile", body).status == 200
    assert await second.expect("profile_changed") == {"type": "profile_changed"}
    for socket in (on_a, on_b, second):
        await socket.close()


async def test_sigkill_of_one_process_loses_no_acknowledged_envelope(server_factory: Any) -> None:
    a = server_factory(max_pending_per_sender=SENDS)
    b = second_process(server_factory, a, max_pending_per_sender=SENDS)
    therapist = make_therapist(a)
    client_b = make_account(b.url)
    client_a = make_account(a.url)
    inbox = await open_socket(a.url, therapist)
    socket = await open_socket(b.url, client_b)

    envelopes = {os.urandom(16): random_envelope() for _ in range(SENDS)}
    acknowledged: dict[str, str] = {}
    enough = asyncio.Event()
    received: list[dict[str, Any]] = []

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

    async def receive_live() -> None:
        # The therapist on A acknowledges everything as it arrives, live.
        while True:
            frame = await inbox.expect("envelope")
            received.append(frame)
            await inbox.send({"type": "ack", "id": frame["id"]})

    receiver = asyncio.create_task(receive_live())
    reader = asyncio.create_task(read_answers())
    sender = asyncio.create_task(send_all())
    await asyncio.wait_for(enough.wait(), 60)
    b.kill()
    await asyncio.gather(reader, sender)
    assert len(acknowledged) < SENDS, "the kill came after every send was answered"

    # Process A carries on: a client on it sends, the therapist receives live.
    other = await open_socket(a.url, client_a)
    after = {}
    for _ in range(20):
        env = random_envelope()
        answer = await other.send_envelope(therapist, env)
        assert answer["type"] == "sent"
        after[answer["id"]] = env
    await other.close()

    wanted = set(acknowledged.values()) | set(after)
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while not wanted <= {frame["id"] for frame in received}:
        assert time.monotonic() < deadline, "an acknowledged envelope did not arrive live"
        await asyncio.sleep(0.1)
    receiver.cancel()
    await asyncio.gather(receiver, return_exceptions=True)
    await inbox.close()

    # Anything committed but never answered arrives on reconnecting, still at most once.
    again = await open_socket(a.url, therapist)
    for _ in range(again.ready["pending"]):
        received.append(await again.expect("envelope"))
    await again.close()
    counts = collections.Counter(frame["id"] for frame in received)
    assert all(count == 1 for count in counts.values()), "an envelope was delivered twice"
    by_id = {frame["id"]: b64u_decode(frame["env"]) for frame in received}
    for cmid_text, envelope_id in acknowledged.items():
        assert by_id[envelope_id] == envelopes[b64u_decode(cmid_text)]
    for envelope_id, env in after.items():
        assert by_id[envelope_id] == env


async def test_a_postgresql_restart_answers_unavailable_and_the_relay_recovers(
    server_factory: Any, postgres: Any
) -> None:
    server = server_factory()
    therapist = make_therapist(server)
    client = make_account(server.url)
    inbox = await open_socket(server.url, therapist)
    assert (await inbox.ack((await _send(server, client, therapist))["id"]))["type"] == "acked"

    postgres.stop_server()
    try:
        write = vault_write(os.urandom(16), 1, vault_blob())
        refused = client.call("POST", "/api/vault", {"writes": [write]})
        assert (refused.status, refused.code) == (503, "unavailable")
        assert "nothing was stored" in refused.body["error"]["message"]
        read = client.call("GET", "/api/vault")
        assert (read.status, read.code) == (503, "unavailable")
    finally:
        postgres.start_server()

    # The same relay process, never restarted, works again within seconds.
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while client.call("POST", "/api/vault", {"writes": [write]}).status != 200:
        assert time.monotonic() < deadline, "the relay did not recover"
        await asyncio.sleep(0.2)
    sent = await _send(server, client, therapist)
    fresh = await open_socket(server.url, therapist)
    assert (await fresh.expect("envelope"))["id"] == sent["id"]
    await fresh.close()
    await inbox.close()
    # The listening connection comes back by itself too, after its backoff.
    while "listening for wake-ups again" not in server.log_text():
        assert time.monotonic() < deadline, "the wake-up listener did not reconnect"
        await asyncio.sleep(0.2)
    log = server.log_text()
    assert "the wake-up connection was lost" in log
    # An outage is an expected condition, never logged as a bug.
    assert "unexpected" not in log


async def _send(server: Any, sender: Any, recipient: Any) -> dict[str, Any]:
    socket = await open_socket(server.url, sender)
    try:
        answer = await socket.send_envelope(recipient, random_envelope())
    finally:
        await socket.close()
    assert answer["type"] == "sent"
    return answer


def test_postgresql_migrations_match_sqlites_and_apply_once(postgres: Any) -> None:
    """Migration N is the same change on both engines: a new one must be written for both."""
    url = postgres.create_database()
    storage = PostgresStorage(url)
    numbers = [version for version, _, _ in migrations.MIGRATIONS]
    assert storage.prepare() == numbers
    assert storage.prepare() == []
    conn = storage.connect(readonly=True)
    try:
        applied = conn.execute("SELECT version, name FROM schema_migrations ORDER BY 1").fetchall()
    finally:
        conn.close()
    assert applied == [(version, name) for version, name, _ in migrations.MIGRATIONS]
    postgres.drop_database(url)
