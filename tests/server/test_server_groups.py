"""Groups through the real server: listings, member keys, rosters, the stream, fan-out, cursors.

Each test drives a real server process over HTTP and websockets, with rosters
signed by the moderator's key and member keys that sign their own prekeys,
and reads the SQLite file directly where the claim is about what is stored.
"""

import os
from typing import Any

from group_harness import (
    FakeSender,
    Group,
    give_profile,
    group_ack,
    group_send,
    items,
    member_key_upload,
    new_group,
    register,
)
from server_harness import (
    make_account,
    make_therapist,
    open_socket,
    random_envelope,
    request,
)

from crypto import payload
from crypto.constants import (
    MEMBER_LEFT,
    MEMBER_MUTED,
    MEMBER_REMOVED,
    ROSTER_FLAG_INVITE_ONLY,
    ROSTER_FLAG_PAUSED,
)
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import NotAMemberError
from crypto.keys import IdentityKeyPair
from crypto.sender_key import create_sender_key, group_encrypt, join
from server import retention


def stored(server: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return server.rows(sql, args)


def test_an_open_group_is_listed_and_a_private_one_is_not(server: Any) -> None:
    group = Group(make_therapist(server))
    give_profile(group.moderator)
    assert group.create("Evening circle").status == 201
    again = Group(group.moderator, id=group.id)
    assert again.create("Evening circle").code == "group_exists"
    private = Group(group.moderator)
    assert private.create(None).status == 201

    listed = request(server.url, "GET", "/api/directory").body["groups"]
    mine = [g for g in listed if g["group"] in (group.id_text, private.id_text)]
    assert [g["group"] for g in mine] == [group.id_text]
    assert mine[0]["moderator"] == group.moderator.id_text
    assert b"Evening circle" in b64u_decode(mine[0]["listing"])

    # Anyone who knows the id sees the public part; only members see the roster.
    stranger = make_account(server.url)
    seen = stranger.call("GET", private.path).body
    assert seen["invite_only"] is True and "roster" not in seen and "listing" not in seen
    assert seen["moderators"] == [
        {
            "account": group.moderator.id_text,
            "identity_key": b64u_encode(group.moderator.identity.public),
        }
    ]
    assert "roster" in group.moderator.call("GET", group.path).body
    unknown = stranger.call("GET", f"/api/groups/{b64u_encode(os.urandom(16))}")
    assert (unknown.status, unknown.code) == (404, "not_found")


def test_listings_and_first_rosters_are_checked(server: Any) -> None:
    moderator = make_therapist(server)
    group = Group(moderator)
    group.version = 1
    signed = group.sign()
    # Signed by someone else's key.
    forged = Group(moderator, id=group.id, version=1).sign(signer=IdentityKeyPair.generate())
    reply = moderator.call(
        "POST", "/api/groups", {"roster": b64u_encode(forged), **group.listing("A")}
    )
    assert reply.code == "malformed"
    bad_listing = group.listing("A")
    bad_listing["sig"] = b64u_encode(os.urandom(64))
    reply = moderator.call("POST", "/api/groups", {"roster": b64u_encode(signed), **bad_listing})
    assert (reply.status, reply.code) == (400, "bad_signature")
    reply = moderator.call("POST", "/api/groups", {"roster": b64u_encode(signed)})
    assert reply.code == "bad_request"  # an open group needs its listing
    client = make_account(server.url)
    assert client.call("POST", "/api/groups", {"roster": b64u_encode(signed)}).code == "forbidden"
    assert group.create("A").status == 201
    assert request(server.url, "GET", "/api/directory").status == 200


def test_rollback_is_refused_and_the_newer_roster_stays(server: Any) -> None:
    group = new_group(server)
    member = register(group, make_account(server.url))
    group.admit(member)
    newer = group.next_roster()
    assert group.upload(newer).status == 200
    for version in (group.version, group.version - 1):
        reply = group.upload(group.sign(version=version))
        assert (reply.status, reply.code) == (409, "roster_rollback")
    assert stored(server, "SELECT version FROM groups WHERE id = ?", group.id) == [(group.version,)]
    # Signed by a key the group's roster does not name: refused too.
    group.version += 1
    forged = group.sign(signer=IdentityKeyPair.generate())
    assert group.upload(forged).code == "malformed"
    outsider = make_therapist(server)
    reply = outsider.call("PUT", f"{group.path}/roster", {"roster": b64u_encode(group.sign())})
    assert reply.code == "forbidden"


async def test_fan_out_order_cursors_and_one_copy(server: Any) -> None:
    group = new_group(server)
    people = [make_account(server.url) for _ in range(3)]
    members = [register(group, account, f"Member {i}") for i, account in enumerate(people)]
    group.admit(*members)
    roster_version = group.version
    first_device = await open_socket(server.url, people[0])
    second_device = await open_socket(server.url, people[0])
    others = [await open_socket(server.url, people[i]) for i in (1, 2)]
    moderator = await open_socket(server.url, group.moderator)
    # Each new member's stream starts with the roster that admitted it.
    for socket in (first_device, second_device, *others):
        (roster,) = await items(socket, 1)
        assert roster["kind"] == "roster"
        assert (await group_ack(socket, group, roster["id"]))["type"] == "group_acked"

    senders = [FakeSender() for _ in range(3)]
    sent_ids = []
    for round_ in range(4):
        for index, socket in enumerate((first_device, others[0], others[1])):
            answer = await group_send(socket, group, senders[index].message(group, roster_version))
            assert answer["type"] == "group_sent", answer
            sent_ids.append(answer["id"])
    # Every device of every member account, the moderator's too, gets every
    # message live, in the one order of the stream.
    for socket in (first_device, second_device, *others):
        assert [frame["id"] for frame in await items(socket, 12)] == sent_ids
    # The moderator had not acknowledged the two rosters: they come first.
    got = await items(moderator, 14)
    assert [f["kind"] for f in got[:2]] == ["roster", "roster"]
    assert [f["id"] for f in got[2:]] == sent_ids
    # Stored once, whatever the number of members.
    rows = stored(
        server, "SELECT COUNT(*) FROM group_messages WHERE group_id = ? AND kind = 1", group.id
    )
    assert rows == [(12,)]
    # Acknowledging moves the account's one cursor: a device of that account
    # connecting later receives only what follows it.
    assert (await group_ack(first_device, group, sent_ids[5]))["type"] == "group_acked"
    await first_device.close()
    await second_device.close()
    later = await open_socket(server.url, people[0])
    backlog = await items(later, 6)
    assert [frame["id"] for frame in backlog] == sent_ids[6:]
    page = people[0].call("GET", f"{group.path}/messages").body
    assert [item["id"] for item in page["messages"]] == sent_ids[6:] and not page["more"]
    # Never back.
    assert (await group_ack(later, group, sent_ids[2]))["type"] == "group_acked"
    page = people[0].call("GET", f"{group.path}/messages").body
    assert len(page["messages"]) == 6
    # Items everyone acknowledged are deleted.
    for socket in (later, *others):
        assert (await group_ack(socket, group, sent_ids[-1]))["type"] == "group_acked"
    assert stored(server, "SELECT COUNT(*) FROM group_messages WHERE group_id = ?", group.id) == [
        (14,)
    ]
    assert (await group_ack(moderator, group, sent_ids[-1]))["type"] == "group_acked"
    assert stored(server, "SELECT COUNT(*) FROM group_messages WHERE group_id = ?", group.id) == [
        (0,)
    ]
    for socket in (later, *others, moderator):
        await socket.close()


async def test_http_send_backlog_and_ack(server: Any) -> None:
    group = new_group(server)
    account = make_account(server.url)
    member = register(group, account)
    group.admit(member)
    sender = FakeSender()
    message = sender.message(group, group.version)
    posted = account.call("POST", f"{group.path}/messages", {"msg": b64u_encode(message)})
    assert posted.status == 200
    # The same sender key and iteration again: the stored item, stored once.
    again = account.call("POST", f"{group.path}/messages", {"msg": b64u_encode(message)})
    assert again.body == posted.body
    page = account.call("GET", f"{group.path}/messages").body["messages"]
    assert [item["kind"] for item in page] == ["roster", "message"]
    assert b64u_decode(page[1]["body"]) == message
    assert account.call("POST", f"{group.path}/ack", {"id": page[1]["id"]}).body == {}
    assert account.call("GET", f"{group.path}/messages").body["messages"] == []
    # Framing, signature and group are checked before anything is stored.
    tampered = bytearray(sender.message(group, group.version))
    tampered[70] ^= 1
    reply = account.call("POST", f"{group.path}/messages", {"msg": b64u_encode(bytes(tampered))})
    assert (reply.status, reply.code) == (400, "bad_signature")
    reply = account.call(
        "POST", f"{group.path}/messages", {"msg": b64u_encode(b"\x01\x03" + os.urandom(40))}
    )
    assert reply.code == "malformed"
    other = Group(group.moderator)
    reply = account.call(
        "POST", f"{group.path}/messages", {"msg": b64u_encode(sender.message(other, 1))}
    )
    assert reply.code == "malformed"
    ahead = sender.message(group, group.version + 5)
    reply = account.call("POST", f"{group.path}/messages", {"msg": b64u_encode(ahead)})
    assert reply.code == "malformed"
    stranger = make_account(server.url)
    reply = stranger.call(
        "POST", f"{group.path}/messages", {"msg": b64u_encode(sender.message(group, 1))}
    )
    assert (reply.status, reply.code) == (403, "not_a_member")
    assert stranger.call("GET", f"{group.path}/messages").code == "not_a_member"


async def test_paused_and_muted_are_enforced(server: Any) -> None:
    group = new_group(server)
    loud, quiet = make_account(server.url), make_account(server.url)
    loud_member, quiet_member = register(group, loud), register(group, quiet)
    group.admit(loud_member)
    group.admit(quiet_member, state=MEMBER_MUTED)
    socket = await open_socket(server.url, quiet)
    answer = await group_send(socket, group, FakeSender().message(group, group.version))
    assert (answer["type"], answer["code"]) == ("error", "muted")
    group.flags |= ROSTER_FLAG_PAUSED
    assert group.upload(group.next_roster()).status == 200
    assert group.moderator.call("GET", group.path).body["paused"] is True
    reply = loud.call(
        "POST", f"{group.path}/messages", {"msg": b64u_encode(FakeSender().message(group, 1))}
    )
    assert (reply.status, reply.code) == (403, "group_paused")
    # The moderator still writes (its own member key is in the roster too).
    moderator_key = register(group, group.moderator, "Host")
    group.admit(moderator_key)
    reply = group.moderator.call(
        "POST",
        f"{group.path}/messages",
        {"msg": b64u_encode(FakeSender().message(group, group.version))},
    )
    assert reply.status == 200, reply.body
    group.flags &= ~ROSTER_FLAG_PAUSED
    assert group.upload(group.next_roster()).status == 200
    reply = loud.call(
        "POST", f"{group.path}/messages", {"msg": b64u_encode(FakeSender().message(group, 1))}
    )
    assert reply.status == 200
    await socket.close()


async def test_a_removed_member_reads_its_removal_then_nothing(server: Any) -> None:
    group = new_group(server)
    stay, go = make_account(server.url), make_account(server.url)
    staying, going = register(group, stay), register(group, go)
    group.admit(staying, going)
    go_socket = await open_socket(server.url, go)
    (admitted,) = await items(go_socket, 1)
    assert (await group_ack(go_socket, group, admitted["id"]))["type"] == "group_acked"
    before = FakeSender().message(group, group.version)
    assert stay.call("POST", f"{group.path}/messages", {"msg": b64u_encode(before)}).status == 200
    group.set_state(going, MEMBER_REMOVED)
    removal = group.upload(group.next_roster()).body["id"]
    after = FakeSender().message(group, group.version)
    assert stay.call("POST", f"{group.path}/messages", {"msg": b64u_encode(after)}).status == 200
    # The message sent before, then the roster that removed it; nothing after.
    got = await items(go_socket, 2)
    assert [f["kind"] for f in got] == ["message", "roster"] and got[1]["id"] == removal
    page = go.call("GET", f"{group.path}/messages").body["messages"]
    assert [item["id"] for item in page] == [f["id"] for f in got]
    assert (await group_ack(go_socket, group, removal))["type"] == "group_acked"
    assert go.call("GET", f"{group.path}/messages").code == "not_a_member"
    answer = await group_send(go_socket, group, FakeSender().message(group, group.version))
    assert answer["code"] == "not_a_member"
    # Its member key is gone: nobody can reach it any longer.
    assert stored(server, "SELECT COUNT(*) FROM member_keys WHERE key = ?", going.key.public) == [
        (0,)
    ]
    await go_socket.close()


async def test_member_keys_route_envelopes_without_naming_accounts(server: Any) -> None:
    group = new_group(server)
    applicant = make_account(server.url)
    member = register(group, applicant, "Willow")
    # The join request: an envelope sent as the member key to the moderator.
    socket = await open_socket(server.url, applicant)
    cmid = b64u_encode(os.urandom(16))
    await socket.send(
        {
            "type": "send",
            "cmid": cmid,
            "to": group.moderator.id_text,
            "from_key": member.key_text,
            "env": b64u_encode(random_envelope()),
        }
    )
    assert (await socket.answer_for("cmid", cmid))["type"] == "sent"
    moderator = await open_socket(server.url, group.moderator)
    request_frame = await moderator.expect("envelope")
    assert "from" not in request_frame
    assert request_frame["from_key"] == member.key_text
    assert request_frame["group"] == group.id_text
    assert applicant.id_text not in str(request_frame)
    # The answer goes to the member key and reaches its account.
    cmid = b64u_encode(os.urandom(16))
    await moderator.send(
        {
            "type": "send",
            "cmid": cmid,
            "to_key": member.key_text,
            "env": b64u_encode(random_envelope()),
        }
    )
    assert (await moderator.answer_for("cmid", cmid))["type"] == "sent"
    answer = await socket.expect("envelope")
    assert answer["from"] == group.moderator.id_text and answer["to_key"] == member.key_text

    # A member key may write to the moderators only, until admitted.
    other = make_account(server.url)
    cmid = b64u_encode(os.urandom(16))
    await socket.send(
        {
            "type": "send",
            "cmid": cmid,
            "to": other.id_text,
            "from_key": member.key_text,
            "env": b64u_encode(random_envelope()),
        }
    )
    assert (await socket.answer_for("cmid", cmid))["code"] == "forbidden"
    peer = register(group, other, "Fern")
    cmid = b64u_encode(os.urandom(16))
    await socket.send(
        {
            "type": "send",
            "cmid": cmid,
            "to_key": peer.key_text,
            "from_key": member.key_text,
            "env": b64u_encode(random_envelope()),
        }
    )
    assert (await socket.answer_for("cmid", cmid))["code"] == "not_found"
    # Admitted, members reach each other's member keys, and their bundles.
    group.admit(member, peer)
    bundle = applicant.call("GET", f"{group.path}/keys/{peer.key_text}/bundle")
    assert bundle.status == 200
    assert bundle.body["identity_key"] == peer.key_text
    assert bundle.body["account"] == group.id_text
    assert bundle.body["one_time_prekey"] is not None
    cmid = b64u_encode(os.urandom(16))
    await socket.send(
        {
            "type": "send",
            "cmid": cmid,
            "to_key": peer.key_text,
            "from_key": member.key_text,
            "env": b64u_encode(random_envelope()),
        }
    )
    assert (await socket.answer_for("cmid", cmid))["type"] == "sent"
    peer_socket = await open_socket(server.url, other)
    got = await peer_socket.expect("envelope")
    assert got["from_key"] == member.key_text and "from" not in got
    assert applicant.id_text not in str(got)
    # Someone outside the group gets no bundle, and cannot tell whether the key exists.
    stranger = make_account(server.url)
    assert stranger.call("GET", f"{group.path}/keys/{peer.key_text}/bundle").code == "not_found"
    for s in (socket, moderator, peer_socket):
        await s.close()


def test_member_key_registration_rules(server: Any) -> None:
    group = new_group(server)
    account = make_account(server.url)
    member = register(group, account)
    # The same key for another account: taken.
    thief = make_account(server.url)
    reply = thief.call("PUT", f"{group.path}/keys/{member.key_text}", member_key_upload(member.key))
    assert (reply.status, reply.code) == (409, "member_key_taken")
    # Prekeys signed by another key prove nothing.
    wrong = member_key_upload(IdentityKeyPair.generate())
    reply = account.call(
        "PUT", f"{group.path}/keys/{b64u_encode(IdentityKeyPair.generate().public)}", wrong
    )
    assert reply.code == "bad_signature"
    # Admitted, a member cannot take part under a second key.
    group.admit(member)
    second = IdentityKeyPair.generate()
    reply = account.call(
        "PUT", f"{group.path}/keys/{b64u_encode(second.public)}", member_key_upload(second)
    )
    assert reply.code == "member_key_taken"
    # Refilling one-time prekeys is fine.
    refill = {"one_time_prekeys": member_key_upload(member.key, 5)["one_time_prekeys"]}
    reply = account.call("PUT", f"{group.path}/keys/{member.key_text}", refill)
    assert reply.status == 200 and reply.body["one_time"] == 5
    assert {
        "group": group.id_text,
        "role": "member",
        "member_key": member.key_text,
    } in account.call("GET", "/api/groups").body["groups"]


async def test_leaving_ends_delivery_and_tells_the_moderator(server: Any) -> None:
    group = new_group(server)
    account = make_account(server.url)
    member = register(group, account)
    group.admit(member)
    moderator = await open_socket(server.url, group.moderator)
    assert account.call("DELETE", f"{group.path}/membership").status == 200
    left = await moderator.expect("group_left")
    assert left == {"type": "group_left", "group": group.id_text, "member_key": member.key_text}
    assert group.moderator.call("GET", group.path).body["left"] == [member.key_text]
    assert account.call("GET", f"{group.path}/messages").code == "not_a_member"
    assert account.call("DELETE", f"{group.path}/membership").code == "not_a_member"
    assert group.moderator.call("DELETE", f"{group.path}/membership").code == "forbidden"
    # The moderator's next roster says so; the key is then forgotten.
    group.set_state(member, MEMBER_LEFT)
    assert group.upload(group.next_roster()).status == 200
    assert group.moderator.call("GET", group.path).body["left"] == []
    await moderator.close()


async def test_a_tombstone_removes_the_stored_copy_for_everyone(server: Any) -> None:
    group = new_group(server)
    account = make_account(server.url)
    member = register(group, account)
    group.admit(member)
    sender = FakeSender()
    message = sender.message(group, group.version)
    assert (
        account.call("POST", f"{group.path}/messages", {"msg": b64u_encode(message)}).status == 200
    )
    assert stored(
        server, "SELECT COUNT(*) FROM group_messages WHERE kind = 1 AND group_id = ?", group.id
    ) == [(1,)]
    tombstone = group.tombstone(sender.key, 0)
    assert (
        account.call("POST", f"{group.path}/tombstones", {"tombstone": b64u_encode(tombstone)}).code
        == "forbidden"
    )
    forged = Group(make_therapist(server), id=group.id).tombstone(sender.key, 0)
    reply = group.moderator.call(
        "POST", f"{group.path}/tombstones", {"tombstone": b64u_encode(forged)}
    )
    assert reply.code == "malformed"
    reply = group.moderator.call(
        "POST", f"{group.path}/tombstones", {"tombstone": b64u_encode(tombstone)}
    )
    assert reply.status == 200
    assert stored(
        server, "SELECT COUNT(*) FROM group_messages WHERE kind = 1 AND group_id = ?", group.id
    ) == [(0,)]
    page = account.call("GET", f"{group.path}/messages").body["messages"]
    assert [item["kind"] for item in page] == ["roster", "tombstone"]
    assert b64u_decode(page[-1]["body"]) == tombstone


async def test_a_member_the_server_adds_receives_only_ciphertext(server: Any) -> None:
    """A row inserted into the database routes the stream, and nothing else, to an account.

    Its client holds no key: no sender-key distribution is addressed to it (the
    members send them to the member keys of the signed roster), and the roster
    it receives does not list it. The clients' tests show that it cannot open
    what it receives and that they warn.
    """
    group = new_group(server)
    honest = make_account(server.url)
    member = register(group, honest)
    group.admit(member)
    intruder = make_account(server.url)
    server.execute(
        "INSERT INTO group_members (group_id, account, cursor) VALUES (?, ?, 0)",
        (group.id, intruder.id),
    )
    intruder_socket = await open_socket(server.url, intruder)
    signed = b64u_decode(group.moderator.call("GET", group.path).body["roster"])
    state = create_sender_key(
        join(signed, group.id, group.moderator.identity.public, member.key.seed), 0
    )
    secret_text = f"only for the group {os.urandom(4).hex()}"
    state, message = group_encrypt(
        state, payload.encode_text(os.urandom(16), 1767225600, secret_text)
    )
    assert (
        honest.call("POST", f"{group.path}/messages", {"msg": b64u_encode(message)}).status == 200
    )
    received = await intruder_socket.expect("group")
    while received["kind"] != "message":
        received = await intruder_socket.expect("group")
    body = b64u_decode(received["body"])
    # The bytes the sender encrypted, and nothing that opens them.
    assert body == message and secret_text.encode() not in body
    roster = [f for f in intruder_socket.backlog if f.get("kind") == "roster"]
    assert all(intruder.id not in b64u_decode(f["body"]) for f in roster)
    assert [f for f in intruder_socket.backlog if f.get("type") == "envelope"] == []
    # It cannot even start a group state: no signed roster lists a key of it.
    try:
        join(signed, group.id, group.moderator.identity.public, IdentityKeyPair.generate().seed)
    except NotAMemberError:
        pass
    else:
        raise AssertionError("a key the roster does not list joined the group")
    await intruder_socket.close()


def test_deleting_accounts_removes_memberships_and_groups(server: Any) -> None:
    group = new_group(server)
    accounts = [make_account(server.url) for _ in range(2)]
    members = [register(group, account) for account in accounts]
    group.admit(*members)
    assert (
        accounts[0]
        .call(
            "POST",
            f"{group.path}/messages",
            {"msg": b64u_encode(FakeSender().message(group, group.version))},
        )
        .status
        == 200
    )
    assert accounts[0].call("DELETE", "/api/account").status == 200
    for table, column in (
        ("group_members", "account"),
        ("member_keys", "account"),
        ("group_messages", "sender"),
    ):
        assert stored(
            server, f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", accounts[0].id
        ) == [(0,)]
    assert stored(server, "SELECT COUNT(*) FROM group_members WHERE group_id = ?", group.id) == [
        (2,)
    ]
    # The moderator's account goes, and its group with everything in it.
    assert group.moderator.call("DELETE", "/api/account").status == 200
    for table in ("groups", "group_members", "member_keys", "group_messages", "group_moderators"):
        column = "id" if table == "groups" else "group_id"
        assert stored(server, f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", group.id) == [
            (0,)
        ]


async def test_a_flood_by_one_member_does_not_stop_the_others(server_factory: Any) -> None:
    server = server_factory(max_pending_per_sender=3, max_inbox=9)
    group = new_group(server)
    flooder, other, third = (make_account(server.url) for _ in range(3))
    members = [register(group, account) for account in (flooder, other, third)]
    group.admit(*members)
    socket = await open_socket(server.url, flooder)
    sender = FakeSender()
    answers = [
        await group_send(socket, group, sender.message(group, group.version)) for _ in range(5)
    ]
    assert [a["type"] for a in answers] == ["group_sent"] * 3 + ["error"] * 2
    assert answers[-1]["code"] == "inbox_full"
    # The others go on writing.
    for account in (other, third):
        fake = FakeSender()
        for _ in range(2):
            reply = account.call(
                "POST",
                f"{group.path}/messages",
                {"msg": b64u_encode(fake.message(group, group.version))},
            )
            assert reply.status == 200, reply.body
    # The group's own cap: 9 stored items (the two rosters count).
    reply = other.call(
        "POST",
        f"{group.path}/messages",
        {"msg": b64u_encode(FakeSender().message(group, group.version))},
    )
    assert reply.code == "inbox_full"
    await socket.close()


async def test_retention_purges_group_items_and_lapsed_memberships(server_factory: Any) -> None:
    server = server_factory()
    group = new_group(server)
    stay, go = make_account(server.url), make_account(server.url)
    staying, going = register(group, stay), register(group, go)
    group.admit(staying, going)
    for _ in range(3):
        reply = stay.call(
            "POST",
            f"{group.path}/messages",
            {"msg": b64u_encode(FakeSender().message(group, group.version))},
        )
        assert reply.status == 200
    group.set_state(going, MEMBER_REMOVED)
    assert group.upload(group.next_roster()).status == 200
    server.stop()
    conn = server.storage().connect()
    try:
        conn.execute("UPDATE group_messages SET ts = ts - 40 * 86400")
        server.storage().begin(conn)
        purged = retention.purge(conn, 30)
        conn.execute("COMMIT")
        assert purged.group_items >= 5
        assert conn.execute("SELECT COUNT(*) FROM group_messages").fetchone() == (0,)
        # The removed member had nothing left to read: its membership ended.
        assert conn.execute(
            "SELECT COUNT(*) FROM group_members WHERE account = ?", (go.id,)
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT COUNT(*) FROM group_members WHERE account = ?", (stay.id,)
        ).fetchone() == (1,)
    finally:
        conn.close()


def test_editing_the_listing_and_going_private(server: Any) -> None:
    group = Group(make_therapist(server))
    give_profile(group.moderator)
    assert group.create("Morning circle").status == 201
    edited = group.listing("Morning circle", rules="Be kind. Nothing leaves the group.")
    assert group.moderator.call("PUT", f"{group.path}/listing", edited).status == 200
    listed = {g["group"]: g for g in request(server.url, "GET", "/api/directory").body["groups"]}
    assert b"Nothing leaves the group." in b64u_decode(listed[group.id_text]["listing"])
    # Another group's listing, or another therapist's signature, is refused.
    other = Group(group.moderator)
    reply = group.moderator.call("PUT", f"{group.path}/listing", other.listing("Elsewhere"))
    assert reply.code == "bad_request"
    stranger = make_therapist(server)
    reply = stranger.call("PUT", f"{group.path}/listing", group.listing("Taken over"))
    assert reply.code == "bad_signature"
    # Turning the group invite-only deletes its public listing.
    group.flags |= ROSTER_FLAG_INVITE_ONLY
    assert group.upload(group.next_roster()).status == 200
    listed = {g["group"] for g in request(server.url, "GET", "/api/directory").body["groups"]}
    assert group.id_text not in listed
    assert stored(server, "SELECT listing FROM groups WHERE id = ?", group.id) == [(None,)]
    reply = group.moderator.call("PUT", f"{group.path}/listing", edited)
    assert reply.code == "bad_request"


async def test_deleting_a_group_and_member_prekeys_running_low(server: Any) -> None:
    group = new_group(server)
    first, second = make_account(server.url), make_account(server.url)
    members = [register(group, first), register(group, second)]
    group.admit(*members)
    owner = await open_socket(server.url, second)
    # Each bundle takes one of the member key's three one-time prekeys; the owner is told.
    bundle = first.call("GET", f"{group.path}/keys/{members[1].key_text}/bundle")
    assert bundle.status == 200
    low = await owner.expect("prekeys_low")
    if "member_key" not in low:  # the account's own, sent after `ready`: it published none
        low = await owner.expect("prekeys_low")
    assert low == {
        "type": "prekeys_low",
        "one_time": 2,
        "group": group.id_text,
        "member_key": members[1].key_text,
    }
    # `to` and `to_key` together name two recipients: refused.
    cmid = b64u_encode(os.urandom(16))
    await owner.send(
        {
            "type": "send",
            "cmid": cmid,
            "to": first.id_text,
            "to_key": members[0].key_text,
            "env": b64u_encode(random_envelope()),
        }
    )
    assert (await owner.answer_for("cmid", cmid))["code"] == "bad_request"
    assert first.call("DELETE", group.path).code == "forbidden"
    assert group.moderator.call("DELETE", group.path).status == 200
    assert first.call("GET", group.path).code == "not_found"
    for table in ("groups", "group_members", "member_keys", "group_messages"):
        column = "id" if table == "groups" else "group_id"
        rows = stored(server, f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", group.id)
        assert rows == [(0,)]
    assert first.call("GET", "/api/groups").body == {"groups": []}
    await owner.close()
