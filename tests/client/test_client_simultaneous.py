"""Both sides of a conversation set up a session at the same instant (PROTOCOL.md 5.8).

Real server, two Python clients: a client writes to a therapist and the
therapist writes to the client before either has received the other's first
message, so each sets up a session of its own. Both keep both sessions, both
first messages are read, later messages in both directions (and crossed ones
again) arrive, each exactly once, and both sides end on the same session.
The vault's session item is in the record form; an item written in the older
single-session form still works and is upgraded by its next write.
"""

from typing import Any

from client_harness import close_all, new_client, new_therapist

from client_py import records
from client_py.client import Client
from crypto.encoding import b64u_decode, b64u_encode
from crypto.session_record import SessionRecord
from crypto.session_state import encode_state

WAIT = 20.0


async def read_texts(client: Client, count: int) -> list[str]:
    """The next `count` texts that arrive, past any receipts."""
    bodies: list[str] = []
    while len(bodies) < count:
        incoming = await client.receive(WAIT)
        assert incoming.error is None, incoming.error
        if incoming.message is not None:
            bodies.append(incoming.message.body)
    return bodies


def record_of(client: Client, peer: str) -> SessionRecord:
    item = client.vault.find("session", peer=peer)
    assert item is not None
    assert "state" not in item.value and "sessions" in item.value
    return records.session_record(item.value)


def history(client: Client, peer: str) -> list[tuple[str, str]]:
    return [(m.dir, m.body) for m in client.history(peer)]


async def test_both_sides_start_at_once_and_nothing_is_lost(server: Any) -> None:
    therapist, _ = await new_therapist(server, "Dr. Both At Once")
    client, secret = await new_client(server)
    try:
        await client.connect()
        await therapist.connect()
        # Neither has received anything: both set up a session of their own.
        await client.send(therapist.account, "first from the client")
        await therapist.send(client.account, "first from the therapist")
        assert len(record_of(client, therapist.account)) == 1
        assert len(record_of(therapist, client.account)) == 1

        assert await read_texts(therapist, 1) == ["first from the client"]
        assert await read_texts(client, 1) == ["first from the therapist"]
        assert len(record_of(client, therapist.account)) == 2
        assert len(record_of(therapist, client.account)) == 2

        # Crossed again: each answers at once under its own active session.
        await client.send(therapist.account, "client again")
        await therapist.send(client.account, "therapist again")
        assert await read_texts(therapist, 1) == ["client again"]
        assert await read_texts(client, 1) == ["therapist again"]

        # Then turn by turn, both directions.
        for turn in range(4):
            await client.send(therapist.account, f"client turn {turn}")
            assert await read_texts(therapist, 1) == [f"client turn {turn}"]
            await therapist.send(client.account, f"therapist turn {turn}")
            assert await read_texts(client, 1) == [f"therapist turn {turn}"]
        ours = record_of(client, therapist.account)
        theirs = record_of(therapist, client.account)
        assert ours[0].ek == theirs[0].ek, "both ended on one session"

        # Each side holds every message once, in both directions.
        sent_by_client = ["first from the client", "client again"] + [
            f"client turn {t}" for t in range(4)
        ]
        sent_by_therapist = ["first from the therapist", "therapist again"] + [
            f"therapist turn {t}" for t in range(4)
        ]
        client_view = history(client, therapist.account)
        therapist_view = history(therapist, client.account)
        assert sorted(b for d, b in client_view if d == "out") == sorted(sent_by_client)
        assert sorted(b for d, b in client_view if d == "in") == sorted(sent_by_therapist)
        assert sorted(b for d, b in therapist_view if d == "in") == sorted(sent_by_client)
        assert sorted(b for d, b in therapist_view if d == "out") == sorted(sent_by_therapist)

        # Another device of the client, logged in fresh, reads the same record.
        laptop = await Client.login(server.url, secret)
        try:
            assert [s.ek for s in record_of(laptop, therapist.account)] == [s.ek for s in ours]
        finally:
            await laptop.close()
    finally:
        await close_all(client, therapist)


async def test_a_session_item_in_the_older_form_works_and_is_upgraded(server: Any) -> None:
    therapist, _ = await new_therapist(server, "Dr. Older Form")
    client, _ = await new_client(server)
    try:
        await client.connect()
        await therapist.connect()
        await client.send(therapist.account, "hello")
        assert await read_texts(therapist, 1) == ["hello"]
        # Rewrite both session items as a client before records wrote them.
        for device, peer in ((client, therapist.account), (therapist, client.account)):
            item = device.vault.find("session", peer=peer)
            assert item is not None
            (state,) = records.session_record(item.value)
            older = {k: v for k, v in item.value.items() if k != "sessions"}
            older["state"] = b64u_encode(encode_state(state))
            batch = device.vault.batch()
            batch.put(older, item.id)
            await device.commit(batch)
            stored = device.vault.find("session", peer=peer)
            assert stored is not None and "sessions" not in stored.value
            assert encode_state(records.session_record(stored.value)[0]) == b64u_decode(
                older["state"]
            )
        await therapist.send(client.account, "answer under the older form")
        assert await read_texts(client, 1) == ["answer under the older form"]
        await client.send(therapist.account, "and back")
        assert await read_texts(therapist, 1) == ["and back"]
        for device, peer in ((client, therapist.account), (therapist, client.account)):
            assert len(record_of(device, peer)) == 1
    finally:
        await close_all(client, therapist)


async def test_two_devices_starting_with_one_peer_at_once_keep_both_and_converge(
    server: Any,
) -> None:
    """Two devices of one account each create the peer's session item (PROTOCOL.md 5.8)."""
    office, secret = await new_therapist(server, "Dr. Two Desks")
    laptop = await Client.login(server.url, secret)
    client, _ = await new_client(server)
    try:
        for device in (office, laptop, client):
            await device.connect()
        # Neither device has seen the other's session: each sets up its own,
        # in an item of its own, and both commits succeed.
        await office.send(client.account, "from the office")
        await laptop.send(client.account, "from the laptop")
        await office.sync()
        items = office.vault.list("session")
        assert len([i for i in items if i.value.get("peer") == client.account]) == 2
        merged = records.stored_sessions(office.vault, client.account)
        assert merged.record is not None and len(merged.record) == 2

        assert sorted(await read_texts(client, 2)) == ["from the laptop", "from the office"]
        # The client answers under the last session set up; whichever device
        # opens it reads both items as one record.
        await client.send(office.account, "one answer")
        assert await read_texts(office, 1) == ["one answer"]
        # That write kept one item for the client and deleted the other.
        left = [i for i in office.vault.list("session") if i.value.get("peer") == client.account]
        assert len(left) == 1
        assert len(records.session_record(left[0].value)) == 2
        await laptop.sync()
        await laptop.send(client.account, "the laptop again")
        await office.send(client.account, "the office again")
        assert sorted(await read_texts(client, 2)) == ["the laptop again", "the office again"]
        await client.send(office.account, "and back to both")
        # The laptop first finds what the office already opened, then this.
        assert await read_texts(laptop, 1) == ["and back to both"]
    finally:
        await close_all(office, laptop, client)
