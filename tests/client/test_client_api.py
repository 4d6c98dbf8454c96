"""Two Python clients talk through the real server (uvicorn, SQLite file, websockets).

Covered: registration and login, messages both ways live and offline,
envelopes opened out of order and envelopes the server delivers out of order,
delivered and read receipts, equal safety numbers, a second device that logs
in with the secret alone and finds everything (and a stale device that loses
the compare-and-swap race and recovers), prekey top-up and rotation, typed
errors, an unreadable envelope that is reported and loses nothing, another
identity key under a known sender's id, and account deletion.
"""

import asyncio
import os
import secrets
import sqlite3
import time
from typing import Any

import pytest
from client_harness import close_all, new_client, new_therapist
from server_harness import make_account

from client_py.client import Client, Message
from client_py.errors import (
    InvalidSecretError,
    NotTherapistError,
    ServerError,
    UnknownPeerError,
)
from client_py.records import session_item
from crypto import session as sessions
from crypto.constants import OPK_BATCH, OPK_LOW_WATER
from crypto.encoding import b64u_decode, b64u_encode
from crypto.envelope import Header, MessageEnvelope
from crypto.errors import ProtocolError
from server.config import Settings

WAIT = 20.0


def texts(client: Client, peer: str) -> list[tuple[str, str]]:
    return [(m.dir, m.body) for m in client.history(peer)]


async def next_message(client: Client) -> Message:
    """The next text that arrives, past any receipts."""
    while True:
        incoming = await client.receive(WAIT)
        assert incoming.error is None
        if incoming.message is not None:
            return incoming.message


def states(client: Client, peer: str) -> dict[str, str]:
    return {m.body: m.state for m in client.history(peer) if m.dir == "out"}


async def test_live_exchange_with_receipts_and_safety_numbers(server: Any) -> None:
    therapist, _ = await new_therapist(server)
    client, _ = await new_client(server)
    try:
        await therapist.connect()
        await client.connect()
        directory = await client.directory()
        assert [t.account for t in directory if t.account == therapist.account]
        peer = await client.resolve_peer("dr. ana ruiz")
        assert peer == therapist.account

        sent = await client.send(peer, "Hello, is this a safe place to talk?")
        assert sent.state == "sent"
        got = await therapist.receive(WAIT)
        assert got.message is not None and got.message.body == sent.body
        assert got.peer == client.account

        # The therapist's client answered with a delivered receipt.
        receipt = await client.receive(WAIT)
        assert receipt.receipt == ("delivered", [sent.id])
        assert states(client, peer) == {sent.body: "delivered"}

        assert await therapist.mark_read(client.account) == 1
        receipt = await client.receive(WAIT)
        assert receipt.receipt == ("read", [sent.id])
        assert states(client, peer) == {sent.body: "read"}

        reply = await therapist.send(client.account, "Yes. Write whenever it suits you. ✨")
        got = await client.receive(WAIT)
        assert got.message is not None and got.message.body == reply.body
        receipt = await therapist.receive(WAIT)
        assert receipt.receipt == ("delivered", [reply.id])

        expected = [("out", sent.body), ("in", reply.body)]
        assert texts(client, peer) == expected
        assert texts(therapist, client.account) == [
            ("in" if d == "out" else "out", b) for d, b in expected
        ]

        number = await client.safety_number(peer)
        assert len(number) == 60 and number.isdigit()
        assert number == await therapist.safety_number(client.account)
        assert not client.is_verified(peer)
        await client.set_verified(peer, True)
        assert client.is_verified(peer)
    finally:
        await close_all(therapist, client)


async def test_offline_messages_and_out_of_order_delivery(server: Any) -> None:
    therapist, _ = await new_therapist(server, "Dr. Offline")
    client, _ = await new_client(server)
    try:
        # The therapist is offline: three messages wait on the server.
        await client.connect()
        first = [f"offline message {i}" for i in range(3)]
        for text in first:
            await client.send(therapist.account, text)
        await therapist.connect()
        frames = [await therapist.next_envelope(WAIT) for _ in first]
        # Opened in another order than sent: the ratchet keeps skipped keys.
        opened = {}
        for index in (2, 0, 1):
            incoming = await therapist.open_envelope(frames[index])
            assert incoming.error is None and incoming.message is not None
            opened[index] = incoming.message.body
        assert opened == dict(enumerate(first))
        await therapist.flush_receipts()
        assert sorted(b for d, b in texts(therapist, client.account) if d == "in") == first

        # The client goes offline; the therapist's envelopes reach the server
        # in reverse order of encryption, so they are delivered out of order.
        await client.close()
        replies = [f"reply {i}" for i in range(4)]
        await therapist.send_many(client.account, replies, submit_order=[3, 1, 2, 0])
        await client.connect()
        received = []
        while len(received) < len(replies):
            incoming = await client.receive(WAIT)
            assert incoming.error is None
            if incoming.message is not None:
                received.append(incoming.message.body)
        assert received == [replies[i] for i in (3, 1, 2, 0)]
        assert sorted(b for d, b in texts(client, therapist.account) if d == "in") == replies
        # And the session goes on normally afterwards, both ways.
        await client.send(therapist.account, "got them all")
        assert (await next_message(therapist)).body == "got them all"
    finally:
        await close_all(therapist, client)


async def test_second_device_finds_everything_and_stale_device_recovers(server: Any) -> None:
    therapist, therapist_secret = await new_therapist(server, "Dr. Two Devices")
    client, client_secret = await new_client(server)
    try:
        await therapist.connect()
        await client.connect()
        await client.send(therapist.account, "first, from device one")
        await therapist.receive(WAIT)
        await therapist.send(client.account, "answer to device one")
        await client.receive(WAIT)
        await client.receive(WAIT)  # the therapist's delivered receipt
        await therapist.receive(WAIT)  # the client's delivered receipt

        # A fresh client object with the secret alone: no local state at all.
        second = await Client.login(server.url, client_secret)
        try:
            assert second.account == client.account and second.role == "client"
            assert texts(second, therapist.account) == texts(client, therapist.account)
            assert await second.safety_number(therapist.account) == await client.safety_number(
                therapist.account
            )
            await client.close()
            await second.connect()
            await second.send(therapist.account, "now from device two")
            incoming = await therapist.receive(WAIT)
            assert incoming.message is not None
            assert incoming.message.body == "now from device two"

            # Device one is behind: its session state is an old version. Its
            # write is refused (compare-and-swap), it syncs, and sends from
            # the current state, so the session never forks.
            await second.close()
            stale = client.vault.find("session", peer=therapist.account)
            current = second.vault.find("session", peer=therapist.account)
            assert stale.version < current.version
            await client.connect()
            await client.send(therapist.account, "device one again")
            assert client.vault.find("session", peer=therapist.account).version > current.version
            assert (await next_message(therapist)).body == "device one again"
        finally:
            await second.close()

        therapist_again = await Client.login(server.url, therapist_secret)
        try:
            assert texts(therapist_again, client.account) == texts(therapist, client.account)
        finally:
            await therapist_again.close()
    finally:
        await close_all(therapist, client)


async def test_prekeys_are_topped_up_and_rotated(server: Any) -> None:
    therapist, _ = await new_therapist(server, "Dr. Prekeys")
    client, _ = await new_client(server)
    try:
        status = await therapist.http.get("/api/prekeys")
        assert status["one_time"] == OPK_BATCH
        await therapist.connect()
        # Others fetch bundles until fewer than OPK_LOW_WATER one-time prekeys
        # remain: many others, since one takes only a few (docs/SECURITY.md, "Limits").
        path = f"/api/bundle/{therapist.account}"
        fetches = OPK_BATCH - OPK_LOW_WATER + 1
        each = Settings().one_time_prekeys_per_requester
        for start in range(0, fetches, each):
            other = await asyncio.to_thread(make_account, server.url)
            for _ in range(min(each, fetches - start)):
                reply = await asyncio.to_thread(other.call, "GET", path)
                assert reply.body["one_time_prekey"] is not None
        deadline = time.monotonic() + WAIT
        while (await therapist.http.get("/api/prekeys"))["one_time"] < OPK_LOW_WATER:
            assert time.monotonic() < deadline, "the prekeys_low top-up never happened"
            await asyncio.sleep(0.05)
        held = therapist.vault.find("prekeys").value["opk"]
        assert len(held) >= OPK_BATCH + OPK_LOW_WATER - 1

        # A bundle fetched before a rotation must still open after it.
        await client.connect()
        old_spk = (await therapist.http.get("/api/prekeys"))["signed_prekey_id"]
        item = therapist.vault.find("prekeys")
        batch = therapist.vault.batch()
        batch.put({**item.value, "rotated": item.value["rotated"] - 8 * 24 * 3600}, item.id)
        await therapist.commit(batch)
        bundle_before = await client.fetch_bundle(therapist.account)
        assert bundle_before.signed_prekey.id == old_spk
        await therapist.maintain_prekeys()
        status = await therapist.http.get("/api/prekeys")
        assert status["signed_prekey_id"] != old_spk
        spks = [entry["id"] for entry in therapist.vault.find("prekeys").value["spk"]]
        assert spks == [old_spk, status["signed_prekey_id"]]

        # The client's session was set up from the old signed prekey.
        state = sessions.start_session(client.identity, bundle_before)
        batch = client.vault.batch()
        batch.put(session_item(None, therapist.account, bundle_before.identity_key, (state,)))
        await client.commit(batch)
        await client.send(therapist.account, "sent across a rotation")
        incoming = await therapist.receive(WAIT)
        assert incoming.error is None and incoming.message is not None
        assert incoming.message.body == "sent across a rotation"
    finally:
        await close_all(therapist, client)


async def test_unreadable_envelope_is_reported_and_loses_nothing(server: Any) -> None:
    therapist, _ = await new_therapist(server, "Dr. Robust")
    client, _ = await new_client(server)
    try:
        await client.connect()
        await client.send(therapist.account, "before")
        # Well-framed garbage: the server relays it, no key can open it.
        header = Header(os.urandom(32), 0, 7)
        junk = MessageEnvelope(header, os.urandom(256 + 16)).encode()
        await client.channel.send(b64u_encode(secrets.token_bytes(16)), therapist.account, junk, [])
        await client.send(therapist.account, "after")
        await therapist.connect()
        results = await therapist.receive_pending()
        assert [r.message.body for r in results if r.message is not None] == ["before", "after"]
        errors = [r.error for r in results if r.error is not None]
        assert len(errors) == 1 and isinstance(errors[0], ProtocolError)
        assert errors[0].code == "tampered"
        # Nothing is left pending, and the conversation goes on.
        await therapist.close()
        await therapist.connect()
        assert therapist.channel.pending_at_start == 0
        await therapist.send(client.account, "still here")
        assert (await next_message(client)).body == "still here"
    finally:
        await close_all(therapist, client)


async def test_another_identity_under_a_known_sender_is_refused(server: Any) -> None:
    """A server relaying one account's envelope as another's gets it refused (step 0)."""
    therapist, _ = await new_therapist(server, "Dr. Careful")
    alice, _ = await new_client(server)
    mallory, _ = await new_client(server)
    try:
        for sender, text in ((alice, "hello"), (mallory, "it's me, alice")):
            await sender.connect()
            await sender.send(therapist.account, text)
        await therapist.connect()
        frames = [await therapist.next_envelope(WAIT) for _ in range(2)]
        genuine = next(f for f in frames if f["from"] == alice.account)
        forged = {**next(f for f in frames if f["from"] == mallory.account)}
        forged["from"] = alice.account
        opened = await therapist.open_envelope(genuine)
        assert opened.message is not None and opened.message.body == "hello"
        refused = await therapist.open_envelope(forged)
        assert refused.message is None and isinstance(refused.error, ProtocolError)
        assert refused.error.code == "identity_changed"
        assert texts(therapist, alice.account) == [("in", "hello")]
    finally:
        await close_all(therapist, alice, mallory)


async def test_typed_errors(server: Any) -> None:
    therapist, therapist_secret = await new_therapist(server, "Dr. Errors")
    client, _ = await new_client(server)
    try:
        with pytest.raises(InvalidSecretError):
            await Client.login(server.url, "not a secret")
        wrong = therapist_secret[:-1] + ("0" if therapist_secret[-1] != "0" else "1")
        with pytest.raises(ServerError) as caught:
            await Client.login(server.url, wrong)
        assert caught.value.code == "invalid_credentials"
        with pytest.raises(NotTherapistError):
            await client.publish_profile({"display_name": "Not a therapist"})
        with pytest.raises(NotTherapistError):
            await client.set_note(therapist.account, "no")
        with pytest.raises(UnknownPeerError):
            await client.resolve_peer("nobody by this name")
        with pytest.raises(UnknownPeerError):
            await client.safety_number(b64u_encode(secrets.token_bytes(16)))
        await client.connect()
        with pytest.raises(ServerError) as caught:
            await client.send(b64u_encode(secrets.token_bytes(16)), "to nobody")
        assert caught.value.code == "not_found"

        # A blocked client's message is refused and not stored.
        await client.send(therapist.account, "hello")
        await therapist.block(client.account)
        assert await therapist.blocked() == [client.account]
        with pytest.raises(ServerError) as caught:
            await client.send(therapist.account, "are you there?")
        assert caught.value.code == "blocked"
        await therapist.unblock(client.account)
        await client.send(therapist.account, "me again")
        await therapist.connect()
        # Blocking deleted "hello", still waiting; what came after the block
        # was lifted still opens (it carries the session's set-up too).
        bodies = [r.message.body for r in await therapist.receive_pending() if r.message]
        assert bodies == ["me again"]
        # A refused send commits nothing: the blocked message has no item.
        assert [b for d, b in texts(client, therapist.account)] == ["hello", "me again"]
    finally:
        await close_all(therapist, client)


async def test_notes_are_private_and_survive_login(server: Any) -> None:
    therapist, secret = await new_therapist(server, "Dr. Notes")
    client, _ = await new_client(server)
    try:
        await therapist.set_note(client.account, "Prefers evenings.")
        await therapist.set_note(client.account, "Prefers evenings. Mentioned a new job.")
        again = await Client.login(server.url, secret)
        try:
            assert again.note(client.account) == "Prefers evenings. Mentioned a new job."
        finally:
            await again.close()
        assert len(therapist.vault.list("note")) == 1
    finally:
        await close_all(therapist, client)


async def test_delete_account_removes_everything(server: Any) -> None:
    therapist, _ = await new_therapist(server, "Dr. Stays")
    client, secret = await new_client(server)
    try:
        await client.connect()
        await client.send(therapist.account, "soon I will be gone")
        account = client.account
        await client.delete_account()
        with pytest.raises(ServerError) as caught:
            await Client.login(server.url, secret)
        assert caught.value.code == "invalid_credentials"
        with pytest.raises(ServerError) as caught:
            await therapist.http.get(f"/api/bundle/{account}")
        assert caught.value.code == "not_found"
        await therapist.connect()
        with pytest.raises(ServerError) as caught:
            await therapist.send(account, "are you still there?")
        assert caught.value.code == "not_found"
        # The database keeps no row that names the account.
        conn = sqlite3.connect(server.database)
        try:
            raw = b64u_decode(account)
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
                for column in columns:
                    found = conn.execute(
                        f"SELECT count(*) FROM {table} WHERE {column} = ?", (raw,)
                    ).fetchone()[0]
                    assert found == 0, f"{table}.{column} still names the deleted account"
        finally:
            conn.close()
    finally:
        await close_all(therapist, client)


async def test_receipts_to_a_peer_who_blocked_or_left_are_dropped(server: Any) -> None:
    therapist, _ = await new_therapist(server, "Dr. Closes Threads")
    client, _ = await new_client(server)
    leaver, _ = await new_client(server)
    try:
        await client.connect()
        await leaver.connect()
        await client.send(therapist.account, "hello")
        await leaver.send(therapist.account, "hello, then goodbye")
        await therapist.connect()
        await therapist.receive_pending()
        await therapist.send(client.account, "a last reply")
        await therapist.block(client.account)

        # The blocked client still receives, and its receipts are refused quietly.
        assert (await next_message(client)).body == "a last reply"
        assert await client.mark_read(therapist.account) == 1
        assert [m.state for m in client.history(therapist.account) if m.dir == "in"] == ["read"]

        # A peer who deleted the account: reading the thread still works.
        await leaver.delete_account()
        assert await therapist.mark_read(leaver.account) == 1
        assert [m.state for m in therapist.history(leaver.account)] == ["read"]
    finally:
        await close_all(therapist, client, leaver)
