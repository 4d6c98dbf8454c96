"""No account can read, acknowledge, delete or overwrite another account's data.

Each attempt is made with a valid login of the attacker, over HTTP and over
the websocket, and is refused; the victim's data is then checked unchanged.
"""

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

AUTHENTICATED = [
    ("POST", "/api/logout", None),
    ("DELETE", "/api/account", None),
    ("GET", "/api/vault", None),
    ("POST", "/api/vault", {"writes": []}),
    ("PUT", "/api/prekeys", {}),
    ("GET", "/api/prekeys", None),
    ("GET", "/api/bundle/AAAAAAAAAAAAAAAAAAAAAA", None),
    ("PUT", "/api/profile", {}),
    ("GET", "/api/blocks", None),
    ("PUT", "/api/blocks/AAAAAAAAAAAAAAAAAAAAAA", None),
    ("DELETE", "/api/blocks/AAAAAAAAAAAAAAAAAAAAAA", None),
]


def vault_of(account: Account) -> dict[str, tuple[int, str | None]]:
    reply = account.call("GET", "/api/vault")
    assert reply.status == 200
    return {item["id"]: (item["version"], item["blob"]) for item in reply.body["items"]}


@pytest.mark.parametrize(("method", "path", "body"), AUTHENTICATED)
@pytest.mark.parametrize(
    "token", [None, "", "not-a-token", b64u_encode(os.urandom(32)), b64u_encode(os.urandom(31))]
)
def test_every_authenticated_endpoint_refuses_a_missing_or_wrong_token(
    server: Any, method: str, path: str, body: Any, token: str | None
) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    reply = request(server.url, method, path, body, headers=headers)
    assert (reply.status, reply.code) == (401, "unauthorized")


def test_a_logged_out_token_is_dead(server: Any) -> None:
    account = make_account(server.url)
    assert account.call("POST", "/api/logout").status == 200
    assert account.call("GET", "/api/vault").code == "unauthorized"


def test_vault_items_of_another_account_cannot_be_read_overwritten_or_deleted(server: Any) -> None:
    victim, attacker = make_account(server.url), make_account(server.url)
    item = os.urandom(16)
    blob = vault_blob()
    assert victim.call("POST", "/api/vault", {"writes": [vault_write(item, 1, blob)]}).status == 200
    before = vault_of(victim)

    assert b64u_encode(item) not in vault_of(attacker)
    for write in (vault_write(item, 2, vault_blob()), vault_write(item, 2)):
        reply = attacker.call("POST", "/api/vault", {"writes": [write]})
        assert reply.code == "vault_conflict"
        assert reply.body["error"]["items"] == [{"id": b64u_encode(item), "version": 0}]
    # The same id in the attacker's own vault is the attacker's own item.
    own = attacker.call("POST", "/api/vault", {"writes": [vault_write(item, 1, vault_blob())]})
    assert own.status == 200
    assert vault_of(victim) == before


def test_prekeys_are_only_ever_the_owners(server: Any) -> None:
    therapist = make_therapist(server)
    attacker = make_therapist(server)
    assert therapist.call("PUT", "/api/prekeys", therapist.prekey_upload(2)).status == 200
    # The attacker uploads the therapist's own signed prekeys as its own: they do not verify.
    stolen = therapist.prekey_upload(2)
    reply = attacker.call("PUT", "/api/prekeys", stolen)
    assert (reply.status, reply.code) == (400, "bad_signature")
    status = attacker.call("GET", "/api/prekeys").body
    assert status == {"one_time": 0, "signed_prekey_id": None, "pq_prekey_id": None}
    assert therapist.call("GET", "/api/prekeys").body["one_time"] == 2


def test_a_client_cannot_drain_or_read_another_clients_prekeys(server: Any) -> None:
    victim, attacker = make_account(server.url), make_account(server.url)
    assert victim.call("PUT", "/api/prekeys", victim.prekey_upload(2)).status == 200
    reply = attacker.call("GET", f"/api/bundle/{victim.id_text}")
    assert (reply.status, reply.code) == (403, "forbidden")
    assert victim.call("GET", "/api/prekeys").body["one_time"] == 2


def test_profiles_and_blocks_belong_to_their_therapist(server: Any) -> None:
    therapist, other = make_therapist(server), make_therapist(server)
    client = make_account(server.url)
    profile = json.dumps({"display_name": "Dr. Example"}).encode()
    sig = signatures.sign(therapist.identity.seed, CTX_PROFILE, profile)
    body = {"profile": b64u_encode(profile), "sig": b64u_encode(sig)}
    assert client.call("PUT", "/api/profile", body).code == "forbidden"
    assert other.call("PUT", "/api/profile", body).code == "bad_signature"
    assert therapist.call("PUT", "/api/profile", body).status == 200
    listed = request(server.url, "GET", "/api/directory").body["therapists"]
    mine = [t for t in listed if t["account"] == therapist.id_text]
    assert mine == [
        {
            "account": therapist.id_text,
            "identity_key": b64u_encode(therapist.identity.public),
            "profile": b64u_encode(profile),
            "sig": b64u_encode(sig),
        }
    ]
    assert not [t for t in listed if t["account"] == other.id_text]

    assert therapist.call("PUT", f"/api/blocks/{client.id_text}").status == 200
    assert client.call("DELETE", f"/api/blocks/{client.id_text}").code == "forbidden"
    assert client.call("GET", "/api/blocks").code == "forbidden"
    assert other.call("GET", "/api/blocks").body == {"blocked": []}
    assert other.call("DELETE", f"/api/blocks/{client.id_text}").status == 200
    assert therapist.call("GET", "/api/blocks").body == {"blocked": [client.id_text]}


def test_deleting_an_account_deletes_only_that_account(server: Any) -> None:
    doomed, bystander = make_account(server.url), make_account(server.url)
    item = os.urandom(16)
    for account in (doomed, bystander):
        write = vault_write(item, 1, vault_blob())
        assert account.call("POST", "/api/vault", {"writes": [write]}).status == 200
    assert doomed.call("DELETE", "/api/account").status == 200
    assert doomed.login().code == "invalid_credentials"
    assert list(vault_of(bystander)) == [b64u_encode(item)]


async def test_envelopes_of_another_account_cannot_be_acknowledged(server: Any) -> None:
    therapist = make_therapist(server)
    victim, attacker = make_account(server.url), make_account(server.url)
    sender = await open_socket(server.url, therapist)
    sent = await sender.send_envelope(victim, random_envelope())
    attacker_socket = await open_socket(server.url, attacker)
    assert attacker_socket.ready["pending"] == 0
    own = await attacker_socket.send_envelope(therapist, random_envelope())
    for envelope_id in (sent["id"], own["id"]):
        answer = await attacker_socket.ack(
            envelope_id, vault=[vault_write(os.urandom(16), 1, vault_blob())]
        )
        assert (answer["type"], answer["code"], answer["ref"]) == (
            "error",
            "not_found",
            envelope_id,
        )
    assert vault_of(attacker) == {}, "a refused ack committed its vault writes"

    victim_socket = await open_socket(server.url, victim)
    assert victim_socket.ready["pending"] == 1
    delivered = await victim_socket.expect("envelope")
    assert delivered["id"] == sent["id"]
    assert (await victim_socket.ack(sent["id"]))["type"] == "acked"
    for socket in (sender, attacker_socket, victim_socket):
        await socket.close()


async def test_websocket_auth_cannot_be_forged_or_replayed(server: Any) -> None:
    victim, attacker = make_account(server.url), make_account(server.url)
    ws_url = server.url.replace("http://", "ws://") + "/ws"

    async def attempt(account_id: bytes, sign: Any) -> list[Any]:
        ws = await connect(ws_url, compression=None)
        challenge = json.loads(await ws.recv())
        sig = sign(b64u_decode(challenge["server"]), b64u_decode(challenge["nonce"]))
        frame = {"type": "auth", "account": b64u_encode(account_id), "sig": b64u_encode(sig)}
        # The victim's own token: what is tested here is the signature alone.
        await ws.send(json.dumps({**frame, "token": victim.token}))
        return await wait_closed(ws)

    # The attacker signs with its own key but claims the victim's account.
    frames = await attempt(
        victim.id, lambda s, n: auth_signature(attacker.identity, s, n, victim.id)
    )
    assert [f["code"] for f in frames] == ["unauthorized"]
    # A valid answer captured from one connection is useless on the next (new nonce).
    captured: list[bytes] = []

    def first_then_replay(sid: bytes, nonce: bytes) -> bytes:
        if not captured:
            captured.append(auth_signature(victim.identity, sid, nonce, victim.id))
        return captured[0]

    ws = await connect(ws_url, compression=None)
    challenge = json.loads(await ws.recv())
    sig = first_then_replay(b64u_decode(challenge["server"]), b64u_decode(challenge["nonce"]))
    await ws.send(json.dumps(auth_frame(victim, sig)))
    assert json.loads(await ws.recv())["type"] == "ready"
    await ws.close()
    frames = await attempt(victim.id, first_then_replay)
    assert [f["code"] for f in frames] == ["unauthorized"]
    # Signing for another server id does not work either.
    frames = await attempt(
        victim.id, lambda s, n: auth_signature(victim.identity, os.urandom(16), n, victim.id)
    )
    assert [f["code"] for f in frames] == ["unauthorized"]
