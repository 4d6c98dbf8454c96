"""One anonymous person must not be able to deny service to others (docs/SECURITY.md, "Limits").

Each test plays the abuser against the real server with the limit at stake,
then checks what everyone else still gets: the account still connects, the
owner still logs in, the therapist's prekeys and inbox are still there for
other clients.
"""

import asyncio
import concurrent.futures
import json
import os
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from server_harness import (
    Account,
    make_account,
    make_therapist,
    new_handle,
    open_socket,
    random_envelope,
    request,
    vault_blob,
    vault_write,
    wait_closed,
)
from server_process import small_disk_server
from websockets.asyncio.client import ClientConnection, connect

from crypto.constants import BUCKETS
from crypto.encoding import b64u_encode
from crypto.keys import IdentityKeyPair
from crypto.x3dh import parse_bundle

MIB = 1024 * 1024


async def _silent_socket(ws_url: str) -> ClientConnection:
    """A websocket that reads its challenge and never answers it."""
    ws = await connect(ws_url, compression=None)
    assert json.loads(await ws.recv())["type"] == "challenge"
    return ws


async def test_silent_sockets_cannot_keep_an_account_out(server_factory: Any) -> None:
    # A long auth timeout, so that only the admission slots can help.
    server = server_factory(max_connections=3, max_unauthenticated=4, auth_timeout=30)
    account = make_account(server.url)
    silent = [await _silent_socket(server.ws_url) for _ in range(12)]
    # Each newcomer beyond the cap pushed out the one that had waited longest.
    pushed_out = silent[:8]
    for ws in pushed_out:
        frames = await wait_closed(ws)
        assert [f["code"] for f in frames] == ["too_many_connections"]
        assert ws.close_code == 1013
    # The account gets in, although more silent sockets are open than
    # max_connections allows connections.
    socket = await open_socket(server.url, account)
    await socket.send({"type": "ping"})
    assert (await socket.expect("pong"))["type"] == "pong"
    await socket.close()
    await asyncio.gather(*(ws.close() for ws in silent[8:]))


def test_wrong_logins_do_not_keep_the_owner_out(server_factory: Any) -> None:
    # The default login budget: no setting helps the owner here.
    server = server_factory(login_rate=10.0, login_burst=60)
    owner = make_account(server.url)
    wrong = {"handle": owner.handle, "login_key": b64u_encode(os.urandom(32))}
    for _ in range(50):
        assert request(server.url, "POST", "/api/login", wrong).code == "invalid_credentials"
    assert owner.login().status == 200
    assert owner.call("GET", "/api/vault").status == 200


def test_one_requester_takes_only_a_few_one_time_prekeys(server_factory: Any) -> None:
    server = server_factory(one_time_prekeys_per_requester=3)
    therapist = make_therapist(server)
    upload = therapist.prekey_upload(20)
    assert therapist.call("PUT", "/api/prekeys", upload).status == 200
    greedy = make_account(server.url)
    path = f"/api/bundle/{therapist.id_text}"
    bundles = [parse_bundle(greedy.call("GET", path).body) for _ in range(10)]
    # Three with a one-time prekey, then the last-resort bundle: still usable.
    assert [b.one_time_prekey is not None for b in bundles] == [True] * 3 + [False] * 7
    assert all(b.signed_prekey.id == upload["signed_prekey"]["id"] for b in bundles)
    assert therapist.call("GET", "/api/prekeys").body["one_time"] == 17
    # Another client still gets one.
    other = parse_bundle(make_account(server.url).call("GET", path).body)
    assert other.one_time_prekey is not None
    assert therapist.call("GET", "/api/prekeys").body["one_time"] == 16


async def test_one_sender_cannot_fill_an_inbox(server_factory: Any) -> None:
    server = server_factory(max_inbox=10, max_pending_per_sender=4)
    therapist = make_therapist(server)
    flooder, other = make_account(server.url), make_account(server.url)
    flooding = await open_socket(server.url, flooder)
    answers = [await flooding.send_envelope(therapist, random_envelope()) for _ in range(6)]
    assert [a["type"] for a in answers] == ["sent"] * 4 + ["error"] * 2
    refused = answers[-1]
    assert refused["code"] == "inbox_full" and "from one sender" in refused["message"]
    # Everyone else still reaches the therapist.
    writing = await open_socket(server.url, other)
    assert (await writing.send_envelope(therapist, random_envelope()))["type"] == "sent"
    # Once the therapist collects one, the flooder may send one more.
    inbox = await open_socket(server.url, therapist)
    first = await inbox.expect("envelope")
    assert (await inbox.ack(first["id"]))["type"] == "acked"
    assert (await flooding.send_envelope(therapist, random_envelope()))["type"] == "sent"
    await asyncio.gather(flooding.close(), writing.close(), inbox.close())


async def test_pending_bytes_are_bounded_per_sender_across_recipients(
    server_factory: Any,
) -> None:
    server = server_factory(max_pending_bytes=256 * 1024)
    therapists = [make_therapist(server) for _ in range(3)]
    sender = await open_socket(server.url, make_account(server.url))
    largest = random_envelope(BUCKETS[-1])
    sent = 0
    for therapist in therapists:
        for _ in range(2):
            answer = await sender.send_envelope(therapist, largest)
            if answer["type"] == "sent":
                sent += 1
            else:
                assert answer["code"] == "inbox_full" and "bytes" in answer["message"]
    assert sent == 256 * 1024 // len(largest)
    # A small message still fits where a large one does not.
    answer = await sender.send_envelope(therapists[0], random_envelope(BUCKETS[0]))
    assert answer["type"] == "sent"
    await sender.close()


async def test_blocking_drops_the_blocked_clients_waiting_envelopes(server: Any) -> None:
    therapist = make_therapist(server)
    flooder, other = make_account(server.url), make_account(server.url)
    flooding = await open_socket(server.url, flooder)
    for _ in range(5):
        assert (await flooding.send_envelope(therapist, random_envelope()))["type"] == "sent"
    writing = await open_socket(server.url, other)
    kept = await writing.send_envelope(therapist, random_envelope())
    assert therapist.call("PUT", f"/api/blocks/{flooder.id_text}").status == 200
    inbox = await open_socket(server.url, therapist)
    assert inbox.ready["pending"] == 1
    assert (await inbox.expect("envelope"))["id"] == kept["id"]
    # The flooder's sender traces went with its envelopes.
    answer = await flooding.send_envelope(therapist, random_envelope())
    assert (answer["type"], answer["code"]) == ("error", "blocked")
    await asyncio.gather(flooding.close(), writing.close(), inbox.close())


def test_a_client_vault_has_its_own_quota(server_factory: Any) -> None:
    server = server_factory(max_client_vault_bytes=MIB, max_vault_bytes=4 * MIB)
    limits = request(server.url, "GET", "/api/info").body["limits"]
    assert (limits["max_client_vault_bytes"], limits["max_vault_bytes"]) == (MIB, 4 * MIB)
    blob = vault_blob(256 * 1024)

    def fill(account: Any) -> list[int]:
        writes = [vault_write(os.urandom(16), 1, blob) for _ in range(6)]
        return [account.call("POST", "/api/vault", {"writes": [w]}).status for w in writes]

    # Three blobs of 256 KiB and their overhead fit in 1 MiB; the fourth does not.
    client_answers = fill(make_account(server.url))
    assert client_answers == [200] * 3 + [413] * 3
    assert fill(make_therapist(server)) == [200] * 6


def _take_space(directory: Path, leave_free: int) -> Path:
    """A file that leaves `leave_free` bytes free on the directory's file system."""
    stats = os.statvfs(directory)
    filler = directory / "filler"
    with filler.open("wb") as handle:
        handle.write(b"\xff" * (stats.f_bavail * stats.f_frsize - leave_free))
    return filler


async def test_the_disk_guard_refuses_growth_and_keeps_delivery_going(tmp_path: Path) -> None:
    """A real small file system (tmpfs): growth stops with room left for delivery."""
    with small_disk_server(tmp_path, 48, min_free_disk_mib=24) as server:
        therapist = make_therapist(server)
        client = make_account(server.url)
        sender = await open_socket(server.url, client)
        stored = [await sender.send_envelope(therapist, random_envelope()) for _ in range(3)]
        item = os.urandom(16)
        first = {"writes": [vault_write(item, 1, vault_blob())]}
        assert client.call("POST", "/api/vault", first).code is None

        filler = _take_space(server.data_dir, 16 * MIB)
        # Sign-ups, new envelopes and vault growth are refused, well before the disk is full.
        newcomer = Account(
            server.url, "client", new_handle(), os.urandom(32), IdentityKeyPair.generate()
        )
        reply = request(server.url, "POST", "/api/accounts", newcomer.registration_body())
        assert (reply.status, reply.code) == (507, "storage_full")
        assert reply.body["error"]["message"].endswith("Try again later.")
        answer = await sender.send_envelope(therapist, random_envelope())
        assert (answer["type"], answer["code"]) == ("error", "storage_full")
        grow = {"writes": [vault_write(os.urandom(16), 1, vault_blob())]}
        assert client.call("POST", "/api/vault", grow).code == "storage_full"
        # What frees space or lets stored messages reach their recipient goes on.
        deleted = {"writes": [vault_write(item, 2)]}
        assert client.call("POST", "/api/vault", deleted).code is None
        assert therapist.login().status == 200
        inbox = await open_socket(server.url, therapist)
        for sent in stored:
            envelope = await inbox.expect("envelope")
            assert envelope["id"] == sent["id"]
            kept = [vault_write(os.urandom(16), 1, vault_blob(1024))]
            assert (await inbox.ack(envelope["id"], vault=kept))["type"] == "acked"
        free = os.statvfs(server.data_dir)
        assert free.f_bavail * free.f_frsize > 8 * MIB

        # Space is back: so is growth.
        filler.unlink()
        reply = request(server.url, "POST", "/api/accounts", newcomer.registration_body())
        assert reply.status == 201
        assert (await sender.send_envelope(therapist, random_envelope()))["type"] == "sent"
        await asyncio.gather(sender.close(), inbox.close())
    assert "unexpected" not in server.log_text()


def _open_raw(url: str, first_bytes: bytes) -> socket.socket:
    parts = urlsplit(url)
    raw = socket.create_connection((parts.hostname, parts.port), timeout=CLOSE_WAIT)
    raw.sendall(first_bytes)
    return raw


def _closed_by_server(raw: socket.socket) -> bool:
    """True once the server closes the connection (EOF or reset) within CLOSE_WAIT."""
    try:
        while raw.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    finally:
        raw.close()
    return True


CLOSE_WAIT = 20.0


def test_slow_requests_are_closed_and_block_no_one(server_factory: Any) -> None:
    server = server_factory(header_timeout=1, body_timeout=2)
    half_headers = [
        _open_raw(server.url, b"GET /api/health HTTP/1.1\r\nHost: quietline\r\n") for _ in range(30)
    ]
    slow_bodies = [
        _open_raw(
            server.url,
            b"POST /api/login HTTP/1.1\r\nHost: quietline\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{",
        )
        for _ in range(30)
    ]
    # A client that keeps sending, a byte at a time, does not extend its deadline.
    trickle = _open_raw(server.url, b"G")
    trickled = 0
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        waits = [pool.submit(_closed_by_server, raw) for raw in half_headers + slow_bodies]
        # Meanwhile real requests are answered.
        assert request(server.url, "GET", "/api/health").status == 200
        assert make_account(server.url).call("GET", "/api/vault").status == 200
        try:
            for byte in b"ET /api/health HTTP/1.1\r\nHost: quietline\r\nX-Slow: yes":
                trickle.sendall(bytes([byte]))
                trickled += 1
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert all(wait.result() for wait in waits)
    assert trickled < 45, "the trickling client kept its connection"
    assert _closed_by_server(trickle)
    assert request(server.url, "GET", "/api/health").status == 200
