"""Peer-support groups between Python clients through the real server (docs/API.md, "Groups").

A therapist hosts an open group; two clients find it in the signed directory,
ask to join under names for this group alone, and are admitted; everyone
writes, and what each reads comes from sender keys shared over pairwise
sessions between member keys. A removal rotates every key, and the removed
client, with its own keys, opens nothing sent afterwards; a message the
moderator removes disappears for everyone; a member the server adds on its
own is never sent a key and the others are warned.
"""

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from client_harness import close_all, new_client, new_therapist

from client_py import group_items
from client_py.client import Client
from client_py.errors import AnswerTimeoutError, BadInputError, ServerError, VaultConflictError
from client_py.groups import WARN_NOT_MEMBER, WARN_UNLISTED, paused
from client_py.ids import new_id
from crypto import payload as payloads
from crypto.constants import MEMBER_REMOVED, SIGNATURE_BYTES
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import MissingSenderKeyError, NotAMemberError, RosterRollbackError
from crypto.group_roster import decode_roster

# A bound on waiting for the other devices, not a timing: a loaded machine is slow.
WAIT = 60.0
LISTING = {
    "name": "Evening circle",
    "description": "Peer support between sessions.",
    "rules": "Be kind. What is said here stays here.",
    "rhythm": "write any time",
}


async def until(client: Client, group: str, check: Callable[[], bool]) -> None:
    """Take in the group's stream and envelopes until `check()` holds (within WAIT)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        if client.group_status(group) in ("member", "requested"):
            await client.pull_group(group)
        if check():
            return
        assert loop.time() < deadline, "the group never reached the expected state"
        with contextlib.suppress(AnswerTimeoutError):
            await client.receive(0.3)


def bodies(client: Client, group: str) -> list[str]:
    return [
        str(e.get("body"))
        for e in client.group_timeline(group)
        if e["kind"] == "group_message" and not e.get("removed")
    ]


def events(client: Client, group: str) -> list[str]:
    return [
        f"{e['name']} {e['event']}"
        for e in client.group_timeline(group)
        if e["kind"] == "group_event"
    ]


async def wait_for_requests(therapist: Client, group: str, count: int) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while len(therapist.group_requests(group)) < count:
        assert loop.time() < deadline, "the join requests never arrived"
        with contextlib.suppress(AnswerTimeoutError):
            await therapist.receive(0.3)
    return therapist.group_requests(group)


async def hosted_group(server: Any) -> tuple[Client, Client, Client, str]:
    therapist, _ = await new_therapist(server)
    sam, _ = await new_client(server)
    kim, _ = await new_client(server)
    for client in (therapist, sam, kim):
        await client.connect()
    group = await therapist.create_group(LISTING, "Ana")
    listed = {entry.group: entry for entry in await sam.group_directory()}
    assert listed[group].listing["name"] == "Evening circle"
    await sam.join_group(group, "Sam", "It's me, from Tuesdays")
    await kim.join_group(group, "Kim")
    requests = await wait_for_requests(therapist, group, 2)
    assert {r["name"]: r["note"] for r in requests} == {
        "Sam": "It's me, from Tuesdays",
        "Kim": "",
    }
    for request in requests:
        await therapist.admit(group, request["member_key"])
    for client in (sam, kim):
        await until(client, group, lambda c=client: c.group_status(group) == "member")
    return therapist, sam, kim, group


async def test_members_talk_and_a_removed_member_reads_nothing_new(server: Any) -> None:
    therapist, sam, kim, group = await hosted_group(server)
    try:
        await sam.send_group(group, "Hello everyone")
        for reader in (therapist, kim):
            await until(reader, group, lambda r=reader: "Hello everyone" in bodies(r, group))
        await kim.send_group(group, "Hi Sam")
        await therapist.send_group(group, "Welcome, both of you")
        await until(
            sam, group, lambda: {"Hi Sam", "Welcome, both of you"} <= set(bodies(sam, group))
        )
        # "X joined" comes from the signed member list.
        assert {"Sam joined", "Kim joined"} <= set(events(sam, group))
        names = {m.name: m.state for m in sam.group_members(group)}
        assert names == {"Ana": "member", "Sam": "member", "Kim": "member"}

        kim_key = next(m.member_key for m in therapist.group_members(group) if m.name == "Kim")
        await therapist.set_group_member(group, kim_key, "remove")
        await until(sam, group, lambda: "Kim removed" in events(sam, group))
        await until(kim, group, lambda: kim.group_status(group) == "removed")

        sent: list[bytes] = []
        channel = sam.channel
        original = channel.group_send

        async def recording(cmid: str, group_id: str, message: bytes) -> str:
            sent.append(message)
            return await original(cmid, group_id, message)

        channel.group_send = recording  # type: ignore[method-assign]
        await sam.send_group(group, "Only for those still here")
        await until(
            therapist, group, lambda: "Only for those still here" in bodies(therapist, group)
        )
        # From the removed client's own keys: nothing sent after the removal opens.
        kim_item = next(v for v in kim.my_groups() if v["group"] == group)
        with pytest.raises((MissingSenderKeyError, NotAMemberError)):
            group_items.decrypt(kim_item, sent[-1])
        assert "Only for those still here" not in bodies(kim, group)
        # The server holds none of it: texts, notes, names or the listing's rules.
        secrets_said = [
            "Hello everyone", "Welcome, both of you", "Only for those still here",
            "It's me, from Tuesdays",
        ]  # fmt: skip
        for path in (server.database, server.database.with_name(server.database.name + "-wal")):
            if path.exists():
                stored = path.read_bytes()
                assert not [text for text in secrets_said if text.encode() in stored]
        assert not [text for text in secrets_said if text in server.log_text()]
    finally:
        await close_all(therapist, sam, kim)


async def test_a_removed_message_disappears_for_everyone(server: Any) -> None:
    therapist, sam, kim, group = await hosted_group(server)
    try:
        sent = await sam.send_group(group, "Something I regret")
        for reader in (therapist, kim):
            await until(reader, group, lambda r=reader: "Something I regret" in bodies(r, group))
        message_id = sent["id"]
        await kim.report_group_message(group, message_id, "This names someone")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while not therapist.group_reports(group):
            assert loop.time() < deadline, "the report never reached the moderator"
            with contextlib.suppress(AnswerTimeoutError):
                await therapist.receive(0.3)
        assert "This names someone" in therapist.group_reports(group)[0]["body"]
        await therapist.remove_group_message(group, message_id)
        for reader in (sam, kim):
            await until(
                reader, group, lambda r=reader: "Something I regret" not in bodies(r, group)
            )
        assert "Something I regret" not in bodies(therapist, group)
    finally:
        await close_all(therapist, sam, kim)


async def test_muted_and_paused_members_cannot_write_and_leaving_is_shown(server: Any) -> None:
    therapist, sam, kim, group = await hosted_group(server)
    try:
        kim_key = next(m.member_key for m in therapist.group_members(group) if m.name == "Kim")
        await therapist.set_group_member(group, kim_key, "mute")
        await until(kim, group, lambda: "Kim muted" in events(kim, group))
        with pytest.raises(NotAMemberError):
            await kim.send_group(group, "Let me speak")
        # Names travel with sender keys: Kim learns Sam's before Sam goes.
        await sam.send_group(group, "I have to go")
        await until(kim, group, lambda: "I have to go" in bodies(kim, group))
        await sam.leave_group(group)
        await until(therapist, group, lambda: "Sam left" in events(therapist, group))
        await until(kim, group, lambda: "Sam left" in events(kim, group))
    finally:
        await close_all(therapist, sam, kim)


async def test_a_member_the_server_adds_on_its_own_reads_nothing(server: Any) -> None:
    """The forged-membership check: a row inserted into the server's database."""
    therapist, sam, kim, group = await hosted_group(server)
    eve, _ = await new_client(server)
    try:
        await sam.send_group(group, "Before Eve")
        await until(kim, group, lambda: "Before Eve" in bodies(kim, group))
        with sqlite3.connect(server.database) as db:
            seq = db.execute("SELECT MAX(seq) FROM group_messages").fetchone()[0]
            db.execute(
                "INSERT INTO group_members (group_id, account, cursor) VALUES (?, ?, ?)",
                (b64u_decode(group), b64u_decode(eve.account), seq),
            )
        await eve.connect()
        await sam.send_group(group, "Only for the admitted")
        await until(kim, group, lambda: "Only for the admitted" in bodies(kim, group))
        # The server routes the group's stream to Eve, who can open nothing.
        stream = await eve.http.get(f"/api/groups/{group}/messages")
        message = next(m for m in stream["messages"] if m["kind"] == "message")
        gid = b64u_decode(group)
        moderator_key = therapist.identity.public
        eve_item = group_items.new_item(gid, "member", moderator_key, LISTING, "Eve", 0)
        with pytest.raises(NotAMemberError):
            group_items.decrypt(eve_item, b64u_decode(message["body"]))
        warnings: list[str] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while WARN_NOT_MEMBER not in warnings:
            assert loop.time() < deadline, "Eve's client never warned"
            with contextlib.suppress(AnswerTimeoutError):
                incoming = await eve.receive(0.3)
                warnings += [u.text for u in incoming.group or [] if u.kind == "warning"]
        # Eve writes to Sam's member key as if she were a member: Sam's client
        # refuses it and shows a warning; no sender key was ever sealed to her.
        upload = eve_item["key_upload"]
        eve_key = b64u_encode(group_items.member_key(eve_item))
        await eve.http.put(f"/api/groups/{group}/keys/{eve_key}", upload)
        sam_key = b64u_decode(next(m.member_key for m in sam.group_members(group) if m.you))
        answer = await eve.http.get(f"/api/groups/{group}/keys/{b64u_encode(sam_key)}/bundle")
        bundle = group_items.session_bundle(gid, answer)
        body = payloads.encode_group_key(b"\x01" * 10)
        _item, envelope = group_items.seal_pairwise(eve_item, sam_key, body, bundle)
        await eve.channel.send(
            new_id(), None, envelope, [], to_key=b64u_encode(sam_key), from_key=eve_key
        )
        sam_item = lambda: next(v for v in sam.my_groups() if v["group"] == group)  # noqa: E731
        await until(sam, group, lambda: WARN_UNLISTED in sam_item()["warnings"])
        assert eve_key not in sam_item().get("sessions", {})
        assert "Only for the admitted" not in str(eve.my_groups())
    finally:
        await close_all(therapist, sam, kim, eve)


async def test_pause_rules_decline_and_muting_for_oneself(server: Any) -> None:
    therapist, sam, kim, group = await hosted_group(server)
    lee, _ = await new_client(server)
    try:
        await lee.connect()
        await therapist.pause_group(group, True)
        await until(sam, group, lambda: group_paused(sam, group))
        with pytest.raises(ServerError) as refused:
            await sam.send_group(group, "Is anyone here?")
        assert refused.value.code == "group_paused"
        await therapist.send_group(group, "We pause until Monday")
        await until(sam, group, lambda: "We pause until Monday" in bodies(sam, group))
        await therapist.pause_group(group, False)
        await until(sam, group, lambda: not group_paused(sam, group))
        await sam.send_group(group, "Back again")

        await therapist.edit_group(group, {"rules": "Be kind. No names."})
        listed = {entry.group: entry for entry in await lee.group_directory()}
        assert listed[group].listing["rules"] == "Be kind. No names."

        await lee.join_group(group, "Lee", "Hello")
        (request,) = await wait_for_requests(therapist, group, 1)
        await therapist.decline(group, request["member_key"], "The group is full this month.")
        await until(lee, group, lambda: lee.group_status(group) == "declined")
        item = next(v for v in lee.my_groups() if v["group"] == group)
        assert item["declined"] == "The group is full this month."

        await kim.mute_group(group, True)
        await sam.send_group(group, "Quiet for Kim")
        await until(kim, group, lambda: "Quiet for Kim" in bodies(kim, group))
        assert next(v for v in kim.my_groups() if v["group"] == group)["muted"] is True
    finally:
        await close_all(therapist, sam, kim, lee)


def group_paused(client: Client, group: str) -> bool:
    item = next(v for v in client.my_groups() if v["group"] == group)
    return paused(item)


def listing_of(client: Client, group: str) -> dict[str, Any]:
    return dict(next(v for v in client.my_groups() if v["group"] == group)["listing"])


async def test_an_invite_only_group_is_joined_by_its_id_alone(server: Any) -> None:
    therapist, _ = await new_therapist(server)
    sam, _ = await new_client(server)
    try:
        for client in (therapist, sam):
            await client.connect()
        group = await therapist.create_group(
            {"name": "Closed circle", "rules": "Invited only."}, "Ana", invite_only=True
        )
        assert group not in {entry.group for entry in await sam.group_directory()}
        # The therapist gives the id in their conversation; the moderator's key
        # is trusted only as the signed directory lists it.
        await sam.join_group(group, "Sam")
        (request,) = await wait_for_requests(therapist, group, 1)
        await therapist.admit(group, request["member_key"])
        await until(sam, group, lambda: sam.group_status(group) == "member")
        # The name and rules reach Sam only end to end encrypted, signed by the moderator.
        await until(sam, group, lambda: listing_of(sam, group).get("name") == "Closed circle")
        assert listing_of(sam, group)["rules"] == "Invited only."
        await sam.send_group(group, "Thank you for the invitation")
        await until(
            therapist, group, lambda: "Thank you for the invitation" in bodies(therapist, group)
        )
        await therapist.edit_group(group, {"rules": "Invited only. Be gentle."})
        await until(
            sam, group, lambda: listing_of(sam, group).get("rules") == "Invited only. Be gentle."
        )
        assert listing_of(sam, group)["name"] == "Closed circle"
        with sqlite3.connect(server.database) as db:
            rows = db.execute(
                "SELECT listing FROM groups WHERE id = ?", (b64u_decode(group),)
            ).fetchall()
        assert rows == [(None,)]
        for path in (server.database, server.database.with_name(server.database.name + "-wal")):
            if path.exists():
                assert b"Closed circle" not in path.read_bytes()
    finally:
        await close_all(therapist, sam)


async def test_a_server_that_offers_an_older_roster_is_refused(server: Any) -> None:
    """A malicious server brings back the list in which a removed member was present."""
    therapist, sam, kim, group = await hosted_group(server)
    try:
        before = next(v for v in sam.my_groups() if v["group"] == group)["roster"]
        kim_key = next(m.member_key for m in therapist.group_members(group) if m.name == "Kim")
        await therapist.set_group_member(group, kim_key, "remove")
        # Sam never heard Kim write, so knows her key but maybe not her name.
        await until(
            sam,
            group,
            lambda: any(
                e.get("member") == kim_key and e.get("event") == "removed"
                for e in sam.group_timeline(group)
            ),
        )
        older = b64u_decode(before)
        with sqlite3.connect(server.database) as db:
            db.execute(
                "UPDATE groups SET roster = ?, version = ? WHERE id = ?",
                (older, decode_roster(older[:-SIGNATURE_BYTES]).version, b64u_decode(group)),
            )
        with contextlib.suppress(ServerError):
            # The server may refuse a message newer than the list it offers.
            await sam.send_group(group, "Still only for those here")
        item = next(v for v in sam.my_groups() if v["group"] == group)
        assert RosterRollbackError.default_message in item["warnings"]
        assert group_items.held_roster(item).state_of(b64u_decode(kim_key)) == MEMBER_REMOVED
        assert b64u_decode(kim_key) not in group_items.recipients(item)
        # Whether such a server then delivers anything is its choice; Kim's
        # key was never given anything made after her removal.
        assert (
            group_items.held_roster(item).version
            == group_items.held_roster(
                next(v for v in therapist.my_groups() if v["group"] == group)
            ).version
        )
    finally:
        await close_all(therapist, sam, kim)


async def until_live(client: Client, check: Callable[[], bool]) -> None:
    """Take in live frames only (no pull) until `check()` holds (within WAIT)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not check():
        assert loop.time() < deadline, "the live frames never brought the expected state"
        with contextlib.suppress(AnswerTimeoutError):
            await client.receive(0.3)


async def test_two_devices_of_one_member_take_part_without_reusing_a_key(server: Any) -> None:
    """Sam is signed in on a phone and a laptop; both read live and both write at once.

    The two devices share one sender-key chain through the vault: its
    compare-and-swap makes the second device to encrypt take the next
    iteration, so no (sender key, iteration) is used twice and Kim shows every
    text exactly once.
    """
    therapist, _ = await new_therapist(server)
    phone, secret = await new_client(server)
    kim, _ = await new_client(server)
    laptop: Client | None = None
    try:
        for client in (therapist, phone, kim):
            await client.connect()
        group = await therapist.create_group(LISTING, "Ana")
        await phone.join_group(group, "Sam")
        await kim.join_group(group, "Kim")
        for request in await wait_for_requests(therapist, group, 2):
            await therapist.admit(group, request["member_key"])
        for client in (phone, kim):
            await until(client, group, lambda c=client: c.group_status(group) == "member")
        laptop = await Client.login(server.url, secret)
        await laptop.connect()
        assert laptop.group_status(group) == "member"

        await kim.send_group(group, "Hello Sam")
        for device in (phone, laptop):
            await until_live(device, lambda d=device: "Hello Sam" in bodies(d, group))

        texts = {"phone": [f"from the phone {n}" for n in range(6)]}
        texts["laptop"] = [f"from the laptop {n}" for n in range(6)]

        async def write(device: Client, lines: list[str]) -> None:
            for line in lines:
                while True:
                    try:
                        await device.send_group(group, line)
                        break
                    except VaultConflictError:
                        # The other device kept winning the race before the
                        # text was encrypted: nothing was saved or sent, and
                        # it is written again (CLIENT.md, "Groups").
                        await asyncio.sleep(0.01)

        await asyncio.gather(write(phone, texts["phone"]), write(laptop, texts["laptop"]))
        every = texts["phone"] + texts["laptop"]
        await until_live(kim, lambda: set(every) <= set(bodies(kim, group)))
        for device in (phone, laptop):
            await until_live(device, lambda d=device: set(every) <= set(bodies(d, group)))
            # Each device shows every text of the account once, from the shared vault.
            assert sorted(b for b in bodies(device, group) if b.startswith("from")) == sorted(every)
        received = [
            e
            for e in kim.group_timeline(group)
            if e["kind"] == "group_message" and e.get("dir") == "in"
        ]
        assert sorted(e["body"] for e in received if e["name"] == "Sam") == sorted(every)
        used = [(e["sk"], e["it"]) for e in received if e["name"] == "Sam"]
        assert len(used) == len(set(used)) == len(every)
        outgoing = [
            (e["sk"], e["it"]) for e in phone.group_timeline(group) if e.get("dir") == "out"
        ]
        assert sorted(outgoing) == sorted(used)
    finally:
        await close_all(therapist, phone, kim, *([laptop] if laptop else []))


async def test_a_co_moderator_takes_part_and_moderates_until_no_longer_named(server: Any) -> None:
    """Ana names Bo co-moderator; members verify rosters either signs; Ana can name him off."""
    ana, sam, kim, group = await hosted_group(server)
    bo, _ = await new_therapist(server, "Dr. Bo Lind")
    clients = [ana, sam, kim, bo]
    try:
        await bo.connect()
        await ana.set_co_moderator(group, bo.account)
        assert await bo.moderation_offers() == [group]
        await bo.take_up_moderation(group, "Bo")
        assert await bo.moderation_offers() == []
        item = next(v for v in bo.my_groups() if v["group"] == group)
        assert item["role"] == "moderator" and item["status"] == "member"
        assert item["listing"]["name"] == "Evening circle"
        bo_key = next(m.member_key for m in bo.group_members(group) if m.you)
        for reader in (ana, sam, kim):
            await until(
                reader,
                group,
                lambda r=reader: any(
                    e.get("member") == bo_key and e.get("event") == "joined"
                    for e in r.group_timeline(group)
                ),
            )
        roster = group_items.held_roster(next(v for v in sam.my_groups() if v["group"] == group))
        assert set(roster.moderators) == {
            ana.workspace.identity.public,
            bo.workspace.identity.public,
        }

        await bo.send_group(group, "Hello, I co-moderate with Ana")
        await sam.send_group(group, "Welcome Bo")
        for reader in (ana, sam, kim):
            await until(
                reader, group, lambda r=reader: "Hello, I co-moderate with Ana" in bodies(r, group)
            )
        await until(bo, group, lambda: "Welcome Bo" in bodies(bo, group))

        # Bo moderates: rosters and removals he signs are honoured by every member.
        sent = await kim.send_group(group, "Something to take back")
        await until(bo, group, lambda: "Something to take back" in bodies(bo, group))
        await bo.remove_group_message(group, sent["id"])
        for reader in (ana, sam, kim):
            await until(
                reader, group, lambda r=reader: "Something to take back" not in bodies(r, group)
            )
        kim_key = next(m.member_key for m in bo.group_members(group) if m.name == "Kim")
        await bo.set_group_member(group, kim_key, "mute")
        await until(kim, group, lambda: "Kim muted" in events(kim, group))
        with pytest.raises(NotAMemberError):
            await kim.send_group(group, "Let me speak")
        await bo.pause_group(group, True)
        await until(sam, group, lambda: group_paused(sam, group))
        await bo.pause_group(group, False)
        await bo.edit_group(group, {"rules": "Be kind. Bo and Ana moderate."})
        listed = {entry.group: entry for entry in await sam.group_directory()}
        assert listed[group].listing["rules"] == "Be kind. Bo and Ana moderate."

        # A request reaches both moderators; Bo admits, and Ana's copy goes.
        lee, _ = await new_client(server)
        clients.append(lee)
        await lee.connect()
        await lee.join_group(group, "Lee", "Bo knows me")
        for moderator in (ana, bo):
            (asked,) = await wait_for_requests(moderator, group, 1)
            assert asked["note"] == "Bo knows me"
        await bo.admit(group, asked["member_key"])
        await until(lee, group, lambda: lee.group_status(group) == "member")
        await until(ana, group, lambda: ana.group_requests(group) == [])
        # A report reaches both, privately.
        sent = await bo.send_group(group, "A message to report")
        await until(lee, group, lambda: "A message to report" in bodies(lee, group))
        await lee.report_group_message(group, sent["id"], "Testing reports")
        for moderator in (ana, bo):
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT
            while not moderator.group_reports(group):
                assert loop.time() < deadline, "the report never reached a moderator"
                with contextlib.suppress(AnswerTimeoutError):
                    await moderator.receive(0.3)

        # Ana stops naming Bo: he reads on as a member and moderates no more.
        await ana.set_co_moderator(group, bo.account, add=False)
        await until(
            bo,
            group,
            lambda: next(v for v in bo.my_groups() if v["group"] == group)["role"] == "member",
        )
        with pytest.raises(BadInputError):
            await bo.pause_group(group, True)
        await sam.send_group(group, "Still here")
        await until(bo, group, lambda: "Still here" in bodies(bo, group))
    finally:
        await close_all(*clients)
