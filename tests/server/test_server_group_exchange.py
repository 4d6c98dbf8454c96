"""A private group through the real server, with real keys, leaves nothing readable behind.

The moderator invites a client to an invite-only group over their one-to-one
session; the client asks to join under a member key of its own, with a
display name; the moderator admits it with a signed roster; both distribute
sender keys over a pairwise session between their member keys, routed by
the server; and both write group messages, each encrypted once. Afterwards
the database file, its WAL and the server's log are searched for the group's
name, the display names, the note, the invitation and every message: none
may be there (`docs/SECURITY.md`, "Groups").
"""

import os
import secrets
from typing import Any

from group_harness import FakeSender, Group, member_key_upload
from server_harness import Account, Socket, open_socket
from test_server_exchange import new_party

from crypto import payload, session
from crypto.constants import MEMBER_ADMITTED, ROSTER_FLAG_INVITE_ONLY
from crypto.encoding import b64u_decode, b64u_encode
from crypto.group_message import parse_group_message
from crypto.group_roster import Roster, RosterEntry, name_commitment, sign_roster
from crypto.keys import IdentityKeyPair, make_one_time_prekey, make_pq_prekey, make_signed_prekey
from crypto.prekeys import PrekeyStore
from crypto.ratchet import RatchetState
from crypto.sender_key import (
    GroupState,
    create_sender_key,
    distribution_message,
    group_decrypt,
    group_encrypt,
    join,
    process_distribution,
)
from crypto.x3dh import parse_bundle

EMPTY_STORE = PrekeyStore({}, {}, {}, (), 0)
NOW = 1767225600


def public(prekey: Any) -> dict[str, Any]:
    return {"id": prekey.id, "key": b64u_encode(prekey.public), "sig": b64u_encode(prekey.sig)}


def register_with_store(account: Account, group: Group, key: IdentityKeyPair) -> PrekeyStore:
    """Register a member key with prekeys whose private halves this side keeps."""
    spk = make_signed_prekey(key.seed, 21)
    pq = make_pq_prekey(key.seed, 22)
    opks = [make_one_time_prekey(key.seed, 300 + i) for i in range(3)]
    upload = {
        "signed_prekey": public(spk),
        "pq_prekey": public(pq),
        "one_time_prekeys": [public(p) for p in opks],
    }
    reply = account.call("PUT", f"{group.path}/keys/{b64u_encode(key.public)}", upload)
    assert reply.status == 200, reply.body
    return PrekeyStore(
        spk={spk.id: spk.private},
        pq={pq.id: pq.seed},
        opk={p.id: p.private for p in opks},
        seen_ek=(),
        rotated=0,
    )


def open_envelope(
    identity: IdentityKeyPair, frame: dict[str, Any], state: RatchetState | None, store: PrekeyStore
) -> tuple[RatchetState, dict[str, Any]]:
    received = session.decrypt(
        identity, b64u_decode(frame["env"]), None if state is None else (state,), store
    )
    return received.state, payload.parse(received.payload)


async def send_as(
    socket: Socket,
    env: bytes,
    *,
    to: str | None = None,
    to_key: str | None = None,
    from_key: str | None = None,
) -> None:
    cmid = b64u_encode(os.urandom(16))
    frame: dict[str, Any] = {"type": "send", "cmid": cmid, "env": b64u_encode(env)}
    for name, value in (("to", to), ("to_key", to_key), ("from_key", from_key)):
        if value is not None:
            frame[name] = value
    await socket.send(frame)
    assert (await socket.answer_for("cmid", cmid))["type"] == "sent"


async def receive_group_message(socket: Socket, state: GroupState) -> tuple[GroupState, str]:
    """The next group message from someone else; a member's own come back to it too."""
    assert state.own is not None
    while True:
        frame = await socket.expect("group")
        body = b64u_decode(frame["body"])
        own = frame["kind"] == "message" and (
            parse_group_message(body).header.sender_key == state.own.sender_key
        )
        if frame["kind"] == "message" and not own:
            break
    state, opened = group_decrypt(state, body)
    return state, payload.parse(opened.payload)["body"]


async def test_a_private_group_leaves_no_name_or_plaintext_on_the_server(
    server_factory: Any,
) -> None:
    server = server_factory()
    therapist, therapist_secrets = new_party(server, "therapist")
    client, client_secrets = new_party(server, "client")
    marker = secrets.token_hex(6)
    group_name = f"Night shift circle {marker}"
    client_name = f"Juniper {marker[:4]}"
    host_name = f"Host {marker[4:]}"
    note = f"{marker} it is me, from our Tuesday talks"
    texts = [f"{marker} group message {i}: nobody else may read this — ünïcödé" for i in range(4)]

    # The group: invite-only, so no listing, and its name never sent.
    group = Group(therapist.account)
    group.flags = ROSTER_FLAG_INVITE_ONLY
    assert group.create(None).status == 201
    host_key = IdentityKeyPair.generate()
    host_store = register_with_store(therapist.account, group, host_key)
    host_salt = os.urandom(32)

    # The invitation travels in the one-to-one thread.
    bundle = client.account.call("GET", f"/api/bundle/{therapist.account.id_text}")
    client.state = session.start_session(client.account.identity, parse_bundle(bundle.body))
    client_socket = await open_socket(server.url, client.account)
    therapist_socket = await open_socket(server.url, therapist.account)
    await send_as(client_socket, client.encrypt(f"{marker} hello"), to=therapist.account.id_text)
    await therapist.receive(therapist_socket)
    invitation = f"{marker} join {group_name}: {group.id_text}"
    await send_as(therapist_socket, therapist.encrypt(invitation), to=client.account.id_text)
    assert await client.receive(client_socket) == invitation

    # The request: a session whose initiator identity is the client's member key.
    member_key = IdentityKeyPair.generate()
    assert (
        client.account.call(
            "PUT",
            f"{group.path}/keys/{b64u_encode(member_key.public)}",
            member_key_upload(member_key),
        ).status
        == 200
    )
    salt = os.urandom(32)
    bundle = client.account.call("GET", f"/api/bundle/{therapist.account.id_text}")
    join_state = session.start_session(member_key, parse_bundle(bundle.body))
    request = payload.encode_group_join(group.id, member_key.public, client_name, salt, note)
    out = session.encrypt(join_state, request)
    await send_as(
        client_socket,
        out.envelope,
        to=therapist.account.id_text,
        from_key=b64u_encode(member_key.public),
    )
    frame = await therapist_socket.expect("envelope")
    assert "from" not in frame and frame["from_key"] == b64u_encode(member_key.public)
    _, asked = open_envelope(therapist.account.identity, frame, None, therapist.prekeys)
    assert asked["type"] == "group_join" and asked["name"] == client_name

    # Admitted, with the moderator's own member key, by a signed roster.
    entries = sorted(
        (
            RosterEntry(
                key.public, MEMBER_ADMITTED, 2, name_commitment(group.id, key.public, name, s)
            )
            for key, name, s in (
                (host_key, host_name, host_salt),
                (member_key, client_name, b64u_decode(asked["salt"])),
            )
        ),
        key=lambda entry: entry.member_key,
    )
    roster = Roster(
        group.id, 2, group.flags, 50, (therapist.account.identity.public,), tuple(entries)
    )
    signed = sign_roster(therapist.account.identity.seed, roster)
    assert group.upload(signed).status == 200
    moderator_key = therapist.account.identity.public
    host = create_sender_key(join(signed, group.id, moderator_key, host_key.seed), NOW)
    member = create_sender_key(join(signed, group.id, moderator_key, member_key.seed), NOW)

    # Sender keys travel over a session between the two member keys.
    path = f"{group.path}/keys/{b64u_encode(host_key.public)}/bundle"
    pairwise = session.start_session(
        member_key, parse_bundle(client.account.call("GET", path).body)
    )
    out = session.encrypt(
        pairwise, payload.encode_group_key(distribution_message(member, client_name, salt))
    )
    pairwise = out.state
    await send_as(
        client_socket,
        out.envelope,
        to_key=b64u_encode(host_key.public),
        from_key=b64u_encode(member_key.public),
    )
    frame = await therapist_socket.expect("envelope")
    assert frame["to_key"] == b64u_encode(host_key.public) and "from" not in frame
    host_pairwise, carried = open_envelope(host_key, frame, None, host_store)
    host = process_distribution(host, b64u_decode(carried["key"]))
    out = session.encrypt(
        host_pairwise, payload.encode_group_key(distribution_message(host, host_name, host_salt))
    )
    await send_as(
        therapist_socket,
        out.envelope,
        to_key=b64u_encode(member_key.public),
        from_key=b64u_encode(host_key.public),
    )
    frame = await client_socket.expect("envelope")
    _, carried = open_envelope(member_key, frame, pairwise, EMPTY_STORE)
    member = process_distribution(member, b64u_decode(carried["key"]))

    # Group messages, encrypted once each, live and then offline.
    for index, text in enumerate(texts[:2]):
        member, message = group_encrypt(member, payload.encode_text(os.urandom(16), NOW, text))
        reply = client.account.call("POST", f"{group.path}/messages", {"msg": b64u_encode(message)})
        assert reply.status == 200
        host, opened = await receive_group_message(therapist_socket, host)
        assert opened == texts[index]
    await client_socket.close()
    for text in texts[2:]:
        host, message = group_encrypt(host, payload.encode_text(os.urandom(16), NOW, text))
        reply = therapist.account.call(
            "POST", f"{group.path}/messages", {"msg": b64u_encode(message)}
        )
        assert reply.status == 200
    client_socket = await open_socket(server.url, client.account)
    for text in texts[2:]:
        member, opened = await receive_group_message(client_socket, member)
        assert opened == text
    # A message the server could not have made is refused before storing.
    assert (
        client.account.call(
            "POST",
            f"{group.path}/messages",
            {"msg": b64u_encode(FakeSender().message(Group(therapist.account)))},
        ).code
        == "malformed"
    )
    await client_socket.close()
    await therapist_socket.close()

    forbidden = [
        t.encode("utf-8")
        for t in (*texts, group_name, client_name, host_name, note, invitation, marker)
    ]
    forbidden += [salt, host_salt, host_key.seed, member_key.seed]
    forbidden += therapist_secrets + client_secrets
    # SQLite: the database file and its WAL; PostgreSQL: a pg_dump of the database.
    stored = {**server.stored_bytes(), "log": server.log_path.read_bytes()}
    if server.backend == "sqlite":
        assert len(stored["wal"]) > 0
    assert server.stop() is not None
    for where, data in server.stored_bytes().items():
        stored[f"{where} after stop"] = data
    stored["log after stop"] = server.log_path.read_bytes()
    for where, data in stored.items():
        for secret in forbidden:
            assert secret not in data, f"the server's {where} holds a name, plaintext or secret"
