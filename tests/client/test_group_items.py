"""The Python client's group logic (client_py/group_items.py) with real keys, no server.

A moderator creates a group, clients ask to join over sessions keyed by their
fresh member keys, sender keys travel over pairwise sessions between member
keys, and every roster is verified before anything is encrypted. The same
cases run in the web client's test/group-items.test.mjs.
"""

from typing import Any

import pytest

from client_py import group_items, upkeep
from crypto import payload as payloads
from crypto.constants import (
    MEMBER_LEFT,
    MEMBER_MUTED,
    MEMBER_REMOVED,
    SENDER_KEY_ROTATE_SECONDS,
)
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import (
    MalformedError,
    MissingSenderKeyError,
    NotAMemberError,
    RosterRollbackError,
    StaleSenderKeyError,
)
from crypto.group_message import verify_group_message
from crypto.keys import IdentityKeyPair

NOW = 1_800_000_000
LISTING = {"name": "Evening circle", "description": "Peer support", "rules": "Be kind."}


def bundle_of(item: dict[str, Any]) -> dict[str, Any]:
    """The bundle the server hands out for a member key (docs/API.md, Groups)."""
    seed = group_items.member_identity(item).seed
    upload = upkeep.current_public(seed, item["prekeys"])
    key = b64u_encode(group_items.member_key(item))
    answer = {
        "member_key": key,
        "identity_key": key,
        "signed_prekey": upload["signed_prekey"],
        "pq_prekey": upload["pq_prekey"],
        "one_time_prekey": None,
    }
    return group_items.session_bundle(group_items.group_id(item), answer)


class Party:
    """A group as the tests drive it: the moderator's item and each member's."""

    def __init__(self, names: list[str]) -> None:
        self.moderator = IdentityKeyPair.generate()
        self.items: dict[str, dict[str, Any]] = {}
        self.items["mod"], first = group_items.create(self.moderator, LISTING, "Ana", NOW)
        self.rosters = [first]
        for name in names:
            self.join(name)

    def join(self, name: str) -> None:
        gid = group_items.group_id(self.items["mod"])
        item = group_items.new_item(gid, "member", self.moderator.public, LISTING, name, NOW)
        # The request travels over a session from the member key to the
        # moderator's identity; here only its payload matters.
        request = payloads.parse(group_items.join_request(item, "It's me, from Tuesdays"))
        mod = group_items.add_request(self.items["mod"], request)
        signed = group_items.admit(
            self.moderator, mod, group_items.find_request(mod, request["member_key"])
        )
        self.items["mod"] = group_items.drop_request(mod, request["member_key"], admitted=True)
        self.items[name] = item
        self.publish(signed)

    def publish(self, signed: bytes) -> list[group_items.RosterEvent]:
        self.rosters.append(signed)
        events: list[group_items.RosterEvent] = []
        for name, item in self.items.items():
            self.items[name], events = group_items.accept_roster(item, signed)
        return events

    def name_of(self, key: bytes) -> str:
        return next(n for n, i in self.items.items() if group_items.member_key(i) == key)

    def rotate(self, name: str) -> None:
        """A new sender key, carried to every recipient over the pairwise sessions."""
        item, distribution = group_items.rotate_if_due(self.items[name], NOW)
        assert distribution is not None
        self.items[name] = item
        for key in group_items.recipients(item):
            other = self.name_of(key)
            body = payloads.encode_group_key(distribution)
            self.items[name], envelope = group_items.seal_pairwise(
                self.items[name], key, body, bundle_of(self.items[other])
            )
            self.items[other], sender, payload = group_items.open_member_envelope(
                self.items[other], group_items.member_key(self.items[name]), envelope
            )
            assert sender == group_items.member_key(self.items[name])
            key_bytes = payloads.parse(payload)["key"]
            self.items[other] = group_items.receive_distribution(
                self.items[other], b64u_decode(key_bytes)
            )

    def send(self, name: str, text: str) -> bytes:
        self.items[name], message = group_items.encrypt(self.items[name], text.encode())
        return message

    def read(self, name: str, message: bytes) -> str:
        self.items[name], plain = group_items.decrypt(self.items[name], message)
        return plain.payload.decode()


def test_join_request_carries_the_member_key_and_name_not_the_account() -> None:
    party = Party([])
    gid = group_items.group_id(party.items["mod"])
    item = group_items.new_item(gid, "member", party.moderator.public, LISTING, "Sam", NOW)
    other = group_items.new_item(gid, "member", party.moderator.public, LISTING, "Sam", NOW)
    request = payloads.parse(group_items.join_request(item, ""))
    assert request["member_key"] == b64u_encode(group_items.member_key(item))
    assert group_items.member_key(item) != group_items.member_key(other), "fresh key per join"
    assert item["status"] == "requested" and item["state"] is None


def test_members_exchange_messages_and_see_joins_from_the_signed_roster() -> None:
    party = Party(["sam", "kim"])
    assert party.items["sam"]["status"] == "member"
    for name in ("mod", "sam", "kim"):
        party.rotate(name)
    message = party.send("sam", "hello all")
    assert party.read("mod", message) == "hello all"
    assert party.read("kim", message) == "hello all"
    state = group_items.state_of(party.items["kim"])
    assert state is not None
    sam_key = group_items.member_key(party.items["sam"])
    assert group_items.display_name(party.items["kim"], sam_key) == "sam"
    assert group_items.display_name(party.items["mod"], sam_key) == "sam"
    gid = group_items.group_id(party.items["mod"])
    late = group_items.new_item(gid, "member", party.moderator.public, LISTING, "Lee", NOW)
    mod = group_items.add_request(
        party.items["mod"], payloads.parse(group_items.join_request(late, ""))
    )
    signed = group_items.admit(party.moderator, mod, mod["requests"][-1])
    _item, events = group_items.accept_roster(party.items["kim"], signed)
    assert [(e.kind, e.member_key) for e in events] == [("joined", group_items.member_key(late))]


def test_removal_rotates_and_the_removed_member_reads_nothing_new() -> None:
    party = Party(["sam", "kim", "lee"])
    for name in ("mod", "sam", "kim", "lee"):
        party.rotate(name)
    lee = group_items.member_key(party.items["lee"])
    events = party.publish(
        group_items.set_member_state(party.moderator, party.items["mod"], lee, MEMBER_REMOVED)
    )
    assert [(e.kind, e.member_key) for e in events] == [("removed", lee)]
    assert party.items["lee"]["status"] == "removed"
    with pytest.raises(StaleSenderKeyError):
        party.send("sam", "too early")
    party.rotate("sam")
    message = party.send("sam", "after removal")
    assert party.read("kim", message) == "after removal"
    # From the removed member's own keys: no sender key for anything new.
    with pytest.raises(MissingSenderKeyError):
        group_items.decrypt(party.items["lee"], message)
    assert lee not in group_items.recipients(party.items["sam"])


def test_older_roster_is_refused_and_the_newer_kept() -> None:
    party = Party(["sam"])
    sam = party.items["sam"]
    with pytest.raises(RosterRollbackError):
        group_items.accept_roster(sam, party.rosters[0])
    assert group_items.held_roster(sam).version == len(party.rosters)


def test_a_roster_not_signed_by_the_moderator_is_refused() -> None:
    party = Party(["sam"])
    impostor = IdentityKeyPair.generate()
    forged = group_items.set_paused(impostor, party.items["mod"], True)
    with pytest.raises(MalformedError):
        group_items.accept_roster(party.items["sam"], forged)


def test_a_member_the_server_adds_is_flagged_and_gets_nothing() -> None:
    party = Party(["sam"])
    gid = group_items.group_id(party.items["mod"])
    intruder = group_items.new_item(gid, "member", party.moderator.public, LISTING, "Eve", NOW)
    intruder_key = group_items.member_key(intruder)
    listed = [group_items.member_key(party.items["sam"]), intruder_key]
    assert group_items.unexpected_members(party.items["sam"], listed) == [intruder_key]
    party.rotate("sam")
    assert intruder_key not in group_items.recipients(party.items["sam"])
    # An envelope from the intruder's member key is refused before it changes anything.
    body = payloads.encode_group_key(b"\x01" * 10)
    _i, envelope = group_items.seal_pairwise(
        intruder, group_items.member_key(party.items["sam"]), body, bundle_of(party.items["sam"])
    )
    with pytest.raises(NotAMemberError):
        group_items.open_member_envelope(party.items["sam"], None, envelope)
    # And the intruder, holding no roster that admits it, cannot read a message.
    intruder, _events = group_items.accept_roster(intruder, party.rosters[-1])
    assert intruder["status"] == "requested" and intruder["state"] is None
    with pytest.raises(NotAMemberError):
        group_items.decrypt(intruder, party.send("sam", "private"))


def test_muted_member_reads_but_cannot_send_and_leaving_is_shown() -> None:
    party = Party(["sam", "kim"])
    for name in ("mod", "sam", "kim"):
        party.rotate(name)
    kim = group_items.member_key(party.items["kim"])
    events = party.publish(
        group_items.set_member_state(party.moderator, party.items["mod"], kim, MEMBER_MUTED)
    )
    assert [e.kind for e in events] == ["muted"]
    assert party.read("kim", party.send("sam", "still here")) == "still here"
    with pytest.raises(NotAMemberError):
        party.send("kim", "me too")
    sam = group_items.member_key(party.items["sam"])
    events = party.publish(
        group_items.set_member_state(party.moderator, party.items["mod"], sam, MEMBER_LEFT)
    )
    assert [(e.kind, e.member_key) for e in events] == [("left", sam)]
    assert party.items["sam"]["status"] == "left"


def test_tombstone_from_the_moderator_verifies_and_a_forged_one_does_not() -> None:
    party = Party(["sam"])
    party.rotate("sam")
    message = party.send("sam", "remove me")
    header = verify_group_message(message).header
    signed = group_items.tombstone(
        party.moderator, party.items["mod"], header.sender_key, header.iteration
    )
    stone = group_items.verify_tombstone(party.items["sam"], signed)
    assert (stone.sender_key, stone.iteration) == (header.sender_key, header.iteration)
    forged = group_items.tombstone(
        IdentityKeyPair.generate(), party.items["mod"], header.sender_key, 0
    )
    with pytest.raises(MalformedError):
        group_items.verify_tombstone(party.items["sam"], forged)


def test_sender_keys_rotate_on_the_timer() -> None:
    party = Party(["sam"])
    party.rotate("sam")
    item = party.items["sam"]
    assert group_items.rotate_if_due(item, NOW + SENDER_KEY_ROTATE_SECONDS - 1)[1] is None
    rotated, distribution = group_items.rotate_if_due(item, NOW + SENDER_KEY_ROTATE_SECONDS)
    assert distribution is not None
    old = group_items.state_of(item)
    new = group_items.state_of(rotated)
    assert old is not None and new is not None and old.own is not None and new.own is not None
    assert new.own.sender_key != old.own.sender_key
