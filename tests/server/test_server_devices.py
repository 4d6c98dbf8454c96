"""One account on several devices at once, through the real server.

Every live connection of an account receives its envelopes; whichever device
acknowledges first deletes the envelope, and the others' acknowledgements are
refused, so exactly one device commits its vault writes. Every vault write
reaches the account's other connections as a content-free `vault_changed`,
and a therapist's profile upload reaches all of them as `profile_changed`.
Sessions can be listed and the other ones signed out: their sockets close at
once and their tokens are refused from then on.
"""

import asyncio
import dataclasses
import json
import os
from typing import Any

import pytest
from server_harness import (
    Account,
    auth_frame,
    auth_signature,
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

from crypto import signatures
from crypto.constants import CTX_PROFILE
from crypto.encoding import b64u_decode, b64u_encode
from server import clock

QUIET = 0.3  # seconds during which a frame that should not come is waited for


def second_device(account: Account, kind: str | None = None) -> Account:
    """The same account signed in once more: its own session and token."""
    device = dataclasses.replace(account, token="")
    body: dict[str, Any] = {"handle": account.handle, "login_key": b64u_encode(account.login_key)}
    if kind is not None:
        body["kind"] = kind
    reply = request(account.base_url, "POST", "/api/login", body)
    assert reply.status == 200, reply.body
    device.token = reply.body["token"]
    return device


async def nothing_of(socket: Any, kind: str) -> None:
    """Assert that no frame of `kind` arrives within QUIET seconds."""
    with pytest.raises(TimeoutError):
        await socket.expect(kind, timeout=QUIET)


async def test_every_live_device_receives_and_exactly_one_acknowledgement_commits(
    server: Any,
) -> None:
    therapist = make_therapist(server)
    laptop = await open_socket(server.url, therapist)
    office = await open_socket(server.url, second_device(therapist, "browser"))
    client = make_account(server.url)
    sender = await open_socket(server.url, client)

    sent = await sender.send_envelope(therapist, random_envelope())
    first, second = await laptop.expect("envelope"), await office.expect("envelope")
    assert first == second and first["id"] == sent["id"]

    # Both devices decrypted it and try to commit the same session item.
    item = os.urandom(16)
    won = await laptop.ack(sent["id"], [vault_write(item, 1, vault_blob())])
    lost = await office.ack(sent["id"], [vault_write(item, 1, vault_blob())])
    assert won["type"] == "acked"
    assert (lost["type"], lost["code"]) == ("error", "not_found")
    versions = therapist.call("GET", "/api/vault").body["items"]
    assert [(i["id"], i["version"]) for i in versions] == [(b64u_encode(item), 1)]
    # The losing device hears that the vault moved on, and syncs from it.
    changed = await office.expect("vault_changed")
    assert set(changed) == {"type", "cursor"}
    await nothing_of(laptop, "vault_changed")
    for socket in (laptop, office, sender):
        await socket.close()


async def test_every_vault_write_reaches_the_other_devices(server: Any) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    phone = await open_socket(server.url, client)
    laptop = await open_socket(server.url, second_device(client))

    # A send that carries vault writes.
    item = os.urandom(16)
    sent = await phone.send_envelope(
        therapist, random_envelope(), vault=[vault_write(item, 1, vault_blob())]
    )
    assert sent["type"] == "sent"
    pushed = await laptop.expect("vault_changed")
    await nothing_of(phone, "vault_changed")
    sync = client.call("GET", "/api/vault").body
    assert pushed["cursor"] == sync["cursor"]

    # An HTTP write: every connection hears of it, the cursor only.
    reply = client.call("POST", "/api/vault", {"writes": [vault_write(item, 2, vault_blob())]})
    assert reply.status == 200
    for socket in (phone, laptop):
        assert await socket.expect("vault_changed") == {
            "type": "vault_changed",
            "cursor": reply.body["cursor"],
        }
    # A refused write pushes nothing.
    stale = client.call("POST", "/api/vault", {"writes": [vault_write(item, 2, vault_blob())]})
    assert stale.code == "vault_conflict"
    await nothing_of(laptop, "vault_changed")
    # Another account's devices hear nothing of it.
    therapist_socket = await open_socket(server.url, therapist)
    client.call("POST", "/api/vault", {"writes": [vault_write(item, 3, vault_blob())]})
    await laptop.expect("vault_changed")
    await nothing_of(therapist_socket, "vault_changed")
    for socket in (phone, laptop, therapist_socket):
        await socket.close()


async def test_a_profile_change_reaches_every_device_of_the_therapist(server: Any) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    office = await open_socket(server.url, therapist)
    laptop = await open_socket(server.url, second_device(therapist))
    client_socket = await open_socket(server.url, client)
    profile = json.dumps({"display_name": "Dr. Live Everywhere"}).encode()
    sig = signatures.sign(therapist.identity.seed, CTX_PROFILE, profile)
    body = {"profile": b64u_encode(profile), "sig": b64u_encode(sig)}
    assert therapist.call("PUT", "/api/profile", body).status == 200
    # Every device hears of it, and nothing more: the profile is fetched anew.
    for socket in (office, laptop):
        assert await socket.expect("profile_changed") == {"type": "profile_changed"}
    await nothing_of(client_socket, "profile_changed")
    # A refused upload pushes nothing.
    forged = {"profile": b64u_encode(profile), "sig": b64u_encode(bytes(64))}
    assert therapist.call("PUT", "/api/profile", forged).code == "bad_signature"
    await nothing_of(laptop, "profile_changed")
    for socket in (office, laptop, client_socket):
        await socket.close()


async def test_sessions_are_listed_without_anything_about_the_device(server: Any) -> None:
    client = make_account(server.url)
    browser = second_device(client, "browser")
    terminal = second_device(client, "cli")
    listed = browser.call("GET", "/api/sessions")
    assert listed.status == 200
    sessions = listed.body["sessions"]
    assert len(sessions) == 3
    assert all(set(s) == {"id", "kind", "active", "this"} for s in sessions)
    assert sorted(str(s["kind"]) for s in sessions) == ["None", "browser", "cli"]
    assert [s["kind"] for s in sessions if s["this"]] == ["browser"]
    assert {s["active"] for s in sessions} == {clock.today()}
    assert all(len(b64u_decode(s["id"])) == 16 for s in sessions)
    # The same sessions, seen from another of them.
    again = terminal.call("GET", "/api/sessions").body["sessions"]
    assert {s["id"] for s in again} == {s["id"] for s in sessions}
    assert [s["kind"] for s in again if s["this"]] == ["cli"]
    # Nothing but the documented kinds is accepted, so nothing else is stored.
    body = {"handle": client.handle, "login_key": b64u_encode(client.login_key)}
    for kind in ("Mozilla/5.0", "", 3):
        reply = request(server.url, "POST", "/api/login", {**body, "kind": kind})
        assert reply.code == "bad_request"
    assert request(server.url, "GET", "/api/sessions").code == "unauthorized"


async def test_signing_out_the_others_closes_their_sockets_and_refuses_their_tokens(
    server: Any,
) -> None:
    therapist = make_therapist(server)
    client = make_account(server.url)
    kept = second_device(client, "browser")
    stolen = second_device(client, "browser")
    kept_socket = await open_socket(server.url, kept)
    stolen_socket = await open_socket(server.url, stolen)
    older_socket = await open_socket(server.url, client)

    reply = kept.call("POST", "/api/sessions/sign-out-others")
    assert (reply.status, reply.body) == (200, {"signed_out": 2})
    for socket in (stolen_socket, older_socket):
        frames = await wait_closed(socket.ws)
        assert [f["code"] for f in frames if f["type"] == "error"] == ["signed_out"]
        assert socket.ws.close_code == 1008
    # The signed-out tokens are refused, with the reason, on HTTP and websocket.
    for device in (stolen, client):
        refused = device.call("GET", "/api/vault")
        assert (refused.status, refused.code) == (401, "signed_out")
        assert "signed this one out" in refused.body["error"]["message"]
    ws = await connect(server.ws_url, compression=None)
    challenge = json.loads(await ws.recv())
    sig = auth_signature(
        stolen.identity,
        b64u_decode(challenge["server"]),
        b64u_decode(challenge["nonce"]),
        stolen.id,
    )
    await ws.send(json.dumps(auth_frame(stolen, sig)))
    assert [f["code"] for f in await wait_closed(ws)] == ["signed_out"]
    # The device that signed the others out keeps working, live.
    assert [s["this"] for s in kept.call("GET", "/api/sessions").body["sessions"]] == [True]
    sender = await open_socket(server.url, therapist)
    sent = await sender.send_envelope(client, random_envelope())
    assert (await kept_socket.expect("envelope"))["id"] == sent["id"]
    # Signing out again finds no one; logging in again is a new session.
    assert kept.call("POST", "/api/sessions/sign-out-others").body == {"signed_out": 0}
    assert second_device(client).call("GET", "/api/vault").status == 200
    for socket in (kept_socket, sender):
        await socket.close()


async def test_logging_out_closes_that_sessions_sockets_only(server: Any) -> None:
    client = make_account(server.url)
    other = second_device(client)
    leaving = await open_socket(server.url, client)
    staying = await open_socket(server.url, other)
    assert client.call("POST", "/api/logout").status == 200
    frames = await wait_closed(leaving.ws)
    assert [f["code"] for f in frames if f["type"] == "error"] == ["unauthorized"]
    await staying.send({"type": "ping"})
    assert (await staying.expect("pong"))["type"] == "pong"
    await staying.close()


async def test_the_websocket_needs_a_valid_token_of_the_same_account(server: Any) -> None:
    victim, attacker = make_account(server.url), make_account(server.url)

    async def attempt(frame_of: Any) -> list[Any]:
        ws = await connect(server.ws_url, compression=None)
        challenge = json.loads(await ws.recv())
        sig = auth_signature(
            victim.identity,
            b64u_decode(challenge["server"]),
            b64u_decode(challenge["nonce"]),
            victim.id,
        )
        await ws.send(json.dumps(frame_of(auth_frame(victim, sig))))
        return [f["code"] for f in await wait_closed(ws)]

    assert await attempt(lambda f: {k: v for k, v in f.items() if k != "token"}) == ["bad_request"]
    assert await attempt(lambda f: {**f, "token": attacker.token}) == ["unauthorized"]
    assert await attempt(lambda f: {**f, "token": b64u_encode(os.urandom(32))}) == ["unauthorized"]


async def test_the_per_account_cap_refuses_one_more_device(server_factory: Any) -> None:
    running = server_factory(max_connections_per_account=2)
    client = make_account(running.url)
    first = await open_socket(running.url, client)
    second = await open_socket(running.url, second_device(client))
    ws = await connect(running.ws_url, compression=None)
    challenge = json.loads(await ws.recv())
    sig = auth_signature(
        client.identity,
        b64u_decode(challenge["server"]),
        b64u_decode(challenge["nonce"]),
        client.id,
    )
    await ws.send(json.dumps(auth_frame(client, sig)))
    frames = await wait_closed(ws)
    assert [f["code"] for f in frames] == ["too_many_devices"]
    assert ws.close_code == 1008
    # The devices already live are untouched, and a place frees when one leaves.
    await first.send({"type": "ping"})
    assert (await first.expect("pong"))["type"] == "pong"
    await second.close()
    for _ in range(50):
        try:
            third = await open_socket(running.url, second_device(client))
            break
        except AssertionError:
            await asyncio.sleep(0.1)
    else:
        pytest.fail("no place freed after a device left")
    for socket in (first, third):
        await socket.close()


COLUMNS = {
    "sqlite": "SELECT name FROM pragma_table_info(?)",
    "postgresql": (
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position"
    ),
}


def test_the_database_holds_only_opaque_session_columns(server: Any) -> None:
    client = make_account(server.url)
    second_device(client, "cli")
    columns = [row[0] for row in server.rows(COLUMNS[server.backend], ("tokens",))]
    assert columns == ["hash", "account", "expires", "id", "kind", "active", "signed_out"]
    kinds = {row[0] for row in server.rows("SELECT DISTINCT kind FROM tokens")}
    assert kinds <= {None, "browser", "cli"}
    days = {row[0] % clock.DAY for row in server.rows("SELECT active FROM tokens")}
    assert days == {0}
