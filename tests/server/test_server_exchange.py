"""Two accounts exchange end-to-end encrypted messages through the real server.

The client starts a session from the therapist's bundle (PQXDH) and both sides
use the Double Ratchet of crypto.session; the server only relays envelopes.
Messages go live (both connected) and offline (stored, delivered on the next
connection). Afterwards the database file, its WAL and the server's log are
searched for every plaintext, handle and login key used, those of a changed
account secret included: none may be there.
"""

import os
import secrets
from typing import Any

from server_harness import Account, Socket, make_account, make_invite, open_socket, vault_write

from crypto import payload, session
from crypto.encoding import b64u_decode, b64u_encode
from crypto.keys import make_one_time_prekey, make_pq_prekey, make_signed_prekey
from crypto.prekeys import PrekeyStore
from crypto.ratchet import RatchetState
from crypto.vault import decrypt_item, derive_keys, encrypt_item, generate_secret, rekey_item
from crypto.x3dh import parse_bundle

EMPTY_STORE = PrekeyStore({}, {}, {}, (), 0)


def public(prekey: Any) -> dict[str, Any]:
    return {"id": prekey.id, "key": b64u_encode(prekey.public), "sig": b64u_encode(prekey.sig)}


def publish_prekeys(account: Account) -> PrekeyStore:
    """Upload signed prekeys and keep their private halves, as a client's vault would."""
    seed = account.identity.seed
    spk = make_signed_prekey(seed, 11)
    pq = make_pq_prekey(seed, 12)
    opks = [make_one_time_prekey(seed, 100 + i) for i in range(4)]
    upload = {
        "signed_prekey": public(spk),
        "pq_prekey": public(pq),
        "one_time_prekeys": [public(p) for p in opks],
    }
    assert account.call("PUT", "/api/prekeys", upload).status == 200
    return PrekeyStore(
        spk={spk.id: spk.private},
        pq={pq.id: pq.seed},
        opk={p.id: p.private for p in opks},
        seen_ek=(),
        rotated=0,
    )


class Party:
    """One side of the conversation: account, ratchet state, prekeys and vault key."""

    def __init__(self, account: Account, vault_key: bytes, prekeys: PrekeyStore) -> None:
        self.account = account
        self.vault_key = vault_key
        self.prekeys = prekeys
        self.state: RatchetState | None = None
        self.received: list[str] = []

    def encrypt(self, body: str) -> bytes:
        assert self.state is not None
        out = session.encrypt(self.state, payload.encode_text(os.urandom(16), 1767225600, body))
        self.state = out.state
        return out.envelope

    def message_item(self, body: str) -> dict[str, Any]:
        """The vault write a client commits with an acknowledgement: the message, encrypted."""
        item_id = os.urandom(16)
        plain = f'{{"kind": "message", "body": {body!r}}}'.encode()
        return vault_write(item_id, 1, encrypt_item(self.vault_key, item_id, 1, plain))

    async def receive(self, socket: Socket) -> str:
        frame = await socket.expect("envelope")
        received = session.decrypt(
            self.account.identity,
            b64u_decode(frame["env"]),
            None if self.state is None else (self.state,),
            self.prekeys,
        )
        self.state = received.state
        if received.prekeys is not None:
            self.prekeys = received.prekeys
        body = payload.parse(received.payload)["body"]
        answer = await socket.ack(frame["id"], vault=[self.message_item(body)])
        assert answer == {"type": "acked", "id": frame["id"]}
        self.received.append(body)
        return body


def new_party(server: Any, role: str) -> tuple[Party, list[bytes]]:
    secret = generate_secret()
    derived = derive_keys(secret)
    invite = make_invite(server) if role == "therapist" else None
    account = make_account(
        server.url, role, invite=invite, handle=secret.handle, login_key=derived.login_key
    )
    prekeys = publish_prekeys(account) if role == "therapist" else EMPTY_STORE
    secrets_used = [
        secret.handle.encode(),
        secret.passphrase.encode(),
        secret.formatted().encode(),
        derived.login_key,
        derived.vault_key,
        b64u_encode(derived.login_key).encode(),
    ]
    return Party(account, derived.vault_key, prekeys), secrets_used


async def test_live_and_offline_exchange_leaves_no_plaintext_on_the_server(
    server_factory: Any,
) -> None:
    server = server_factory()
    therapist, therapist_secrets = new_party(server, "therapist")
    client, client_secrets = new_party(server, "client")
    marker = secrets.token_hex(6)
    texts = [f"{marker} message {i}: I have not told anyone this — ünïcödé {i}" for i in range(8)]

    bundle = client.account.call("GET", f"/api/bundle/{therapist.account.id_text}")
    assert bundle.status == 200
    client.state = session.start_session(client.account.identity, parse_bundle(bundle.body))

    client_socket = await open_socket(server.url, client.account)
    therapist_socket = await open_socket(server.url, therapist.account)

    # Live: both are connected; the first message sets the session up.
    for body in texts[0:2]:
        sent = await client_socket.send_envelope(therapist.account, client.encrypt(body))
        assert sent["type"] == "sent"
        assert await therapist.receive(therapist_socket) == body
    assert therapist.state is not None
    reply = await therapist_socket.send_envelope(client.account, therapist.encrypt(texts[2]))
    assert reply["type"] == "sent"
    assert await client.receive(client_socket) == texts[2]

    # Offline: the therapist is away; the messages wait on the server.
    await therapist_socket.close()
    for body in texts[3:6]:
        sent = await client_socket.send_envelope(therapist.account, client.encrypt(body))
        assert sent["type"] == "sent"
    therapist_socket = await open_socket(server.url, therapist.account)
    assert therapist_socket.ready["pending"] == 3
    for body in texts[3:6]:
        assert await therapist.receive(therapist_socket) == body

    # Offline the other way round.
    await client_socket.close()
    for body in texts[6:8]:
        sent = await therapist_socket.send_envelope(client.account, therapist.encrypt(body))
        assert sent["type"] == "sent"
    client_socket = await open_socket(server.url, client.account)
    assert client_socket.ready["pending"] == 2
    for body in texts[6:8]:
        assert await client.receive(client_socket) == body
    await client_socket.close()
    await therapist_socket.close()

    assert therapist.received == texts[0:2] + texts[3:6]
    assert client.received == [texts[2], *texts[6:8]]

    # The client changes its account secret (PROTOCOL.md 9.1): the new
    # secret and its keys must stay off the server too.
    new_secret = generate_secret()
    new_keys = derive_keys(new_secret)
    started = client.account.call(
        "POST",
        "/api/secret-change",
        {
            "login_key": b64u_encode(client.account.login_key),
            "handle": new_secret.handle,
            "new_login_key": b64u_encode(new_keys.login_key),
        },
    )
    assert started.status == 200, started.body
    staged = [
        {
            "id": i["id"],
            "base": i["version"],
            "blob": b64u_encode(
                rekey_item(
                    client.vault_key,
                    new_keys.vault_key,
                    b64u_decode(i["id"]),
                    i["version"],
                    b64u_decode(i["blob"]),
                )
            ),
        }
        for i in client.account.call("GET", "/api/vault").body["items"]
    ]
    client.account.call("POST", "/api/secret-change/items", {"items": staged})
    done = client.account.call(
        "POST",
        "/api/secret-change/commit",
        {"login_key": b64u_encode(client.account.login_key)},
    )
    assert done.status == 200, done.body
    client.account.token, client.vault_key = done.body["token"], new_keys.vault_key
    client_secrets += [
        new_secret.handle.encode(),
        new_secret.passphrase.encode(),
        new_secret.formatted().encode(),
        new_keys.login_key,
        new_keys.vault_key,
        b64u_encode(new_keys.login_key).encode(),
    ]

    # The vault items committed with the acknowledgements open with the vault key only.
    synced = client.account.call("GET", "/api/vault")
    bodies = [
        decrypt_item(client.vault_key, b64u_decode(i["id"]), i["version"], b64u_decode(i["blob"]))
        for i in synced.body["items"]
    ]
    assert len(bodies) == 3 and all(b'"kind": "message"' in b for b in bodies)

    forbidden = [t.encode("utf-8") for t in texts] + [marker.encode()]
    forbidden += therapist_secrets + client_secrets
    # SQLite: the database file and its WAL; PostgreSQL: a pg_dump of the database.
    stored = {**server.stored_bytes(), "log": server.log_path.read_bytes()}
    if server.backend == "sqlite":
        assert len(stored["wal"]) > 0
    # After a clean stop the WAL is checkpointed into the database file: search it again.
    assert server.stop() is not None
    for where, data in server.stored_bytes().items():
        stored[f"{where} after stop"] = data
    stored["log after stop"] = server.log_path.read_bytes()
    for where, data in stored.items():
        for secret in forbidden:
            assert secret not in data, f"the server's {where} holds a plaintext or secret"
