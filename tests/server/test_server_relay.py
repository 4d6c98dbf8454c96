"""The websocket relay: authentication, ordering, de-duplication, atomic acks, slow clients."""

import asyncio
import json
import os
import socket as socket_module
from typing import Any

from server_harness import (
    auth_frame,
    auth_signature,
    count_rows,
    make_account,
    make_therapist,
    open_socket,
    random_envelope,
    request,
    vault_blob,
    vault_write,
    wait_closed,
)
from websockets.asyncio.client import connect

from crypto.encoding import b64u_decode, b64u_encode

BACKLOG_WAIT = 30.0


async def test_unauthenticated_connections_are_closed(server_factory: Any) -> None:
    server = server_factory(auth_timeout=0.5)
    idle = await connect(server.ws_url, compression=None)
    challenge = json.loads(await idle.recv())
    assert challenge["type"] == "challenge"
    assert len(b64u_decode(challenge["nonce"])) == 32
    assert b64u_decode(challenge["server"]) == b64u_decode(
        server.get_json("/api/info")["server_id"]
    )
    frames = await wait_closed(idle)
    assert [f["code"] for f in frames] == ["unauthorized"]
    assert idle.close_code == 1008

    early = await connect(server.ws_url, compression=None)
    await early.recv()
    await early.send(json.dumps({"type": "ping"}))
    assert [f["code"] for f in await wait_closed(early)] == ["unauthorized"]

    garbled = await connect(server.ws_url, compression=None)
    await garbled.recv()
    await garbled.send(json.dumps({"type": "auth", "account": 7}))
    assert [f["code"] for f in await wait_closed(garbled)] == ["bad_request"]


async def test_a_repeated_cmid_is_stored_once_and_answered_the_same(server: Any) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    socket = await open_socket(server.url, client)
    cmid = os.urandom(16)
    first = await socket.send_envelope(therapist, random_envelope(), cmid=cmid)
    again = await socket.send_envelope(therapist, random_envelope(), cmid=cmid)
    assert first["type"] == again["type"] == "sent"
    assert first["id"] == again["id"]
    inbox = await open_socket(server.url, therapist)
    assert inbox.ready["pending"] == 1
    delivered = await inbox.expect("envelope")
    assert (await inbox.ack(delivered["id"]))["type"] == "acked"
    # Acknowledged, the envelope takes its de-duplication row with it: nothing
    # ties the sender to it any more. A copy sent again is a new envelope,
    # which the recipient's client drops as a replay (PROTOCOL.md 5.6).
    assert count_rows(server, "sent_cmids") == 0
    third = await socket.send_envelope(therapist, random_envelope(), cmid=cmid)
    assert third["type"] == "sent" and third["id"] != first["id"]
    assert (await inbox.expect("envelope"))["id"] == third["id"]
    await socket.close()
    await inbox.close()


async def test_delivery_is_in_order_across_backlog_and_live(server: Any) -> None:
    """The recipient connects while envelopes keep arriving: no gap, no duplicate, no reordering."""
    therapist = make_therapist(server)
    client = make_account(server.url)
    sender = await open_socket(server.url, client)
    order: list[str] = []
    total = 300

    async def send_all() -> None:
        for _ in range(total):
            answer = await sender.send_envelope(therapist, random_envelope())
            order.append(answer["id"])

    sending = asyncio.create_task(send_all())
    # Wait for a backlog, but never forever: a sender that failed raises here,
    # and one that stalls fails the test after BACKLOG_WAIT seconds.
    deadline = asyncio.get_running_loop().time() + BACKLOG_WAIT
    while len(order) < 100:
        if sending.done():
            sending.result()
        assert asyncio.get_running_loop().time() < deadline, f"only {len(order)} stored in time"
        await asyncio.sleep(0.01)
    inbox = await open_socket(server.url, therapist)
    received = [(await inbox.expect("envelope"))["id"] for _ in range(total)]
    await sending
    assert received == order
    await sender.close()
    await inbox.close()


async def test_a_failed_ack_keeps_the_envelope_and_commits_nothing(server: Any) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    sender = await open_socket(server.url, client)
    await sender.send_envelope(therapist, random_envelope())
    inbox = await open_socket(server.url, therapist)
    envelope = await inbox.expect("envelope")
    good, taken = os.urandom(16), os.urandom(16)
    assert (
        therapist.call(
            "POST", "/api/vault", {"writes": [vault_write(taken, 1, vault_blob())]}
        ).status
        == 200
    )
    writes = [vault_write(good, 1, vault_blob()), vault_write(taken, 1, vault_blob())]
    answer = await inbox.ack(envelope["id"], vault=writes)
    assert (answer["code"], answer["ref"]) == ("vault_conflict", envelope["id"])
    assert answer["items"] == [{"id": b64u_encode(taken), "version": 1}]
    items = therapist.call("GET", "/api/vault").body["items"]
    assert [i["id"] for i in items] == [b64u_encode(taken)]
    await inbox.close()
    # The envelope is still there, and an ack with the right versions commits both.
    inbox = await open_socket(server.url, therapist)
    assert inbox.ready["pending"] == 1
    again = await inbox.expect("envelope")
    assert again["id"] == envelope["id"] and again["env"] == envelope["env"]
    writes[1] = vault_write(taken, 2, vault_blob())
    assert (await inbox.ack(envelope["id"], vault=writes))["type"] == "acked"
    versions = {i["id"]: i["version"] for i in therapist.call("GET", "/api/vault").body["items"]}
    assert versions == {b64u_encode(good): 1, b64u_encode(taken): 2}
    await sender.close()
    await inbox.close()


async def test_a_send_with_a_conflicting_vault_write_is_not_stored(server: Any) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    sender = await open_socket(server.url, client)
    answer = await sender.send_envelope(
        therapist, random_envelope(), vault=[vault_write(os.urandom(16), 3, vault_blob())]
    )
    assert answer["code"] == "vault_conflict"
    session_item = os.urandom(16)
    answer = await sender.send_envelope(
        therapist, random_envelope(), vault=[vault_write(session_item, 1, vault_blob())]
    )
    assert answer["type"] == "sent"
    assert [i["id"] for i in client.call("GET", "/api/vault").body["items"]] == [
        b64u_encode(session_item)
    ]
    inbox = await open_socket(server.url, therapist)
    assert inbox.ready["pending"] == 1
    await sender.close()
    await inbox.close()


async def test_prekeys_low_is_pushed_to_the_owner(server: Any) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    assert therapist.call("PUT", "/api/prekeys", therapist.prekey_upload(11)).status == 200
    owner = await open_socket(server.url, therapist)
    assert client.call("GET", f"/api/bundle/{therapist.id_text}").status == 200
    assert client.call("GET", f"/api/bundle/{therapist.id_text}").status == 200
    low = await owner.expect("prekeys_low")
    assert low == {"type": "prekeys_low", "one_time": 9}
    await owner.close()


async def test_deleting_the_account_closes_its_connections(server: Any) -> None:
    account = make_account(server.url)
    socket = await open_socket(server.url, account)
    assert account.call("DELETE", "/api/account").status == 200
    frames = await wait_closed(socket.ws)
    assert [f["code"] for f in frames if f["type"] == "error"] == ["unauthorized"]


async def test_a_client_that_stops_reading_is_disconnected_and_loses_nothing(
    server_factory: Any,
) -> None:
    server = server_factory(send_queue_frames=8, send_queue_bytes=1024 * 1024)
    therapist = make_therapist(server)
    client = make_account(server.url)
    # A small receive buffer and a client library that stops reading once 4
    # frames wait unread: the server's writes back up after a few frames.
    raw = socket_module.create_connection(("127.0.0.1", server.port))
    raw.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 65536)
    ws = await connect(server.ws_url, sock=raw, compression=None, max_queue=4, max_size=None)
    challenge = json.loads(await ws.recv())
    sig = auth_signature(
        therapist.identity,
        b64u_decode(challenge["server"]),
        b64u_decode(challenge["nonce"]),
        therapist.id,
    )
    await ws.send(json.dumps(auth_frame(therapist, sig)))

    sender = await open_socket(server.url, client)
    sent: list[str] = []
    closed_line = "closed a connection whose client did not read its frames"
    while closed_line not in server.log_text():
        assert len(sent) < 2000, "the server kept queueing for a client that does not read"
        sent.append((await sender.send_envelope(therapist, random_envelope(65536)))["id"])
    # The connection is gone; what the client reads now is what was already on its way.
    frames = await wait_closed(ws)
    received = [f["id"] for f in frames if f["type"] == "envelope"]
    assert len(received) < len(sent)
    assert received == sent[: len(received)]

    inbox = await open_socket(server.url, therapist)
    assert inbox.ready["pending"] == len(sent)
    redelivered = [(await inbox.expect("envelope"))["id"] for _ in sent]
    assert redelivered == sent
    await sender.close()
    await inbox.close()
    assert request(server.url, "GET", "/api/health").status == 200


async def test_an_acknowledged_envelope_leaves_no_copy_in_the_database(server_factory: Any) -> None:
    server = server_factory()
    therapist = make_therapist(server)
    client = make_account(server.url)
    envelope = random_envelope()
    sender = await open_socket(server.url, client)
    sent = await sender.send_envelope(therapist, envelope)
    inbox = await open_socket(server.url, therapist)
    assert (await inbox.expect("envelope"))["id"] == sent["id"]
    assert (await inbox.ack(sent["id"]))["type"] == "acked"
    await sender.close()
    await inbox.close()
    # A clean stop checkpoints SQLite's write-ahead log into the database
    # file. PostgreSQL's files keep a deleted row until VACUUM reuses its
    # space (docs/SECURITY.md, "PostgreSQL"); a dump of it holds none.
    server.stop()
    if server.backend == "sqlite":
        assert not server.database.with_name("quietline.sqlite3-wal").exists()
    for data in server.stored_bytes().values():
        assert envelope[2:] not in data
