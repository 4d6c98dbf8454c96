"""Groups (docs/PROTOCOL.md section 15): the vectors of groups.json, and properties.

The vector replay drives crypto/group_roster.py and crypto/sender_key.py
through every event of the file with the same injected keys, and checks each
byte produced, each payload opened and each error, and that a failed step
leaves the member's state as it was. The properties draw random deliveries
and corruptions with Hypothesis.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from crypto_parties import Group
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto import group_roster, sender_key
from crypto.constants import (
    MEMBER_LEFT,
    MEMBER_MUTED,
    MEMBER_REMOVED,
    SENDER_KEY_MAX_SKIP,
)
from crypto.errors import (
    MalformedError,
    MissingSenderKeyError,
    NotAMemberError,
    ProtocolError,
    ReplayedError,
    RosterRollbackError,
    StaleSenderKeyError,
    TooFarSkippedError,
)
from crypto.group_message import parse_group_message, verify_group_message
from crypto.group_state import decode_group_state, encode_group_state

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "groups.json").read_text())
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def b(value: str) -> bytes:
    return bytes.fromhex(value)


# ---------------------------------------------------------------- vectors


def test_rosters_encode_sign_and_verify_byte_for_byte() -> None:
    setup = VECTORS["setup"]
    moderator = b(setup["moderator_key"])
    for case in setup["rosters"]:
        fields = case["fields"]
        roster = group_roster.Roster(
            b(fields["group_id"]),
            fields["version"],
            fields["flags"],
            fields["max_members"],
            tuple(b(key) for key in fields["moderators"]),
            tuple(
                group_roster.RosterEntry(
                    b(e["member_key"]), e["state"], e["since"], b(e["name_commitment"])
                )
                for e in fields["entries"]
            ),
        )
        assert group_roster.encode_roster(roster).hex() == case["encoded"]
        assert group_roster.decode_roster(b(case["encoded"])) == roster
        signed = group_roster.sign_roster(b(setup["moderator_seed"]), roster)
        assert signed.hex() == case["signed"]
        assert group_roster.verify_first_roster(signed, roster.group_id, moderator) == roster
    for member in setup["members"].values():
        commitment = group_roster.name_commitment(
            b(setup["group_id"]),
            b(member["member_key"]),
            member["display_name"],
            b(member["name_salt"]),
        )
        assert commitment.hex() == member["name_commitment"]


def signed_roster(name: str) -> bytes:
    return b(next(r for r in VECTORS["setup"]["rosters"] if r["name"] == name)["signed"])


def held_roster(name: str) -> group_roster.Roster:
    return group_roster.decode_roster(signed_roster(name)[:-64])


def test_forged_rosters_are_refused() -> None:
    setup = VECTORS["setup"]
    assert VECTORS["roster_invalid"]
    for case in VECTORS["roster_invalid"]:
        with pytest.raises(ProtocolError) as caught:
            if case["held"] is None:
                group_roster.verify_first_roster(
                    b(case["signed"]), b(setup["group_id"]), b(setup["moderator_key"])
                )
            else:
                group_roster.verify_next_roster(b(case["signed"]), held_roster(case["held"]))
        assert caught.value.code == case["error"], case["name"]


def test_tombstones() -> None:
    assert VECTORS["tombstones"]
    for case in VECTORS["tombstones"]:
        roster = held_roster(case["roster"])
        if case["error"] is None:
            tombstone = group_roster.verify_tombstone(b(case["signed"]), roster)
            assert tombstone.sender_key.hex() == case["sender_key"]
            assert tombstone.iteration == case["iteration"]
        else:
            with pytest.raises(ProtocolError) as caught:
                group_roster.verify_tombstone(b(case["signed"]), roster)
            assert caught.value.code == case["error"], case["name"]


def test_the_group_conversation_replays_event_by_event() -> None:
    setup = VECTORS["setup"]
    members = setup["members"]
    group_id = b(setup["group_id"])
    moderator = b(setup["moderator_key"])
    states: dict[str, sender_key.GroupState] = {}
    produced: dict[str, bytes] = {}
    assert len(VECTORS["events"]) > 50
    for event in VECTORS["events"]:
        actor = event["actor"]
        before = states.get(actor)

        def step(event: dict[str, Any] = event, actor: str = actor) -> None:
            state = states.get(actor)
            action = event["action"]
            if action == "join":
                states[actor] = sender_key.join(
                    signed_roster(event["roster"]), group_id, moderator, b(members[actor]["seed"])
                )
                return
            assert state is not None
            if action == "accept_roster":
                states[actor] = sender_key.accept_roster(state, signed_roster(event["roster"]))
            elif action == "create_sender_key":
                states[actor] = sender_key.create_sender_key(
                    state, event["now"], b(event["signing_seed"]), b(event["chain_key"])
                )
                own = states[actor].own
                assert own is not None and own.sender_key.hex() == event["sender_key"]
            elif action == "distribute":
                data = sender_key.distribution_message(
                    state, members[actor]["display_name"], b(members[actor]["name_salt"])
                )
                assert data.hex() == event["message"]
                assert [k.hex() for k in sender_key.recipients(state)] == event["recipients"]
                produced[event["label"]] = data
            elif action == "receive_distribution":
                data = produced.get(event["label"], b(event["message"]))
                assert data.hex() == event["message"]
                states[actor] = sender_key.process_distribution(state, data)
            elif action == "encrypt":
                states[actor], data = sender_key.group_encrypt(state, event["payload"].encode())
                assert data.hex() == event["message"]
                produced[event["label"]] = data
            elif action == "decrypt":
                states[actor], opened = sender_key.group_decrypt(state, b(event["message"]))
                assert opened.payload.decode() == event["payload"]
                assert opened.member_key.hex() == event["member_key"]
                assert opened.iteration == event["iteration"]
            elif action == "needs_rotation":
                assert sender_key.needs_rotation(state, event["now"]) is event["result"]
            else:
                raise AssertionError(action)

        if event["error"] is None:
            step()
        else:
            with pytest.raises(ProtocolError) as caught:
                step()
            assert caught.value.code == event["error"], event
            assert states.get(actor) == before
        current = states.get(actor)
        encoded = None if current is None else encode_group_state(current).hex()
        assert encoded == event["state"], event["step"]
        if current is not None:
            assert decode_group_state(b(event["state"])) == current


def test_invalid_group_states_are_refused() -> None:
    assert VECTORS["state_invalid"]
    for case in VECTORS["state_invalid"]:
        with pytest.raises(ProtocolError) as caught:
            decode_group_state(b(case["hex"]))
        assert caught.value.code == case["error"], case["name"]


def test_a_removed_member_cannot_read_after_rotation_even_with_its_old_keys() -> None:
    """Replay up to the removal, then check from Carol's own state that a5 stays closed."""
    a5 = next(e for e in VECTORS["events"] if e["action"] == "encrypt" and e["label"] == "a5")
    carol = next(e for e in VECTORS["events"] if e["actor"] == "carol" and e.get("label") == "a5")
    assert carol["error"] == "missing_sender_key"
    header = parse_group_message(b(a5["message"])).header
    first_keys = [e["sender_key"] for e in VECTORS["events"] if e["action"] == "create_sender_key"]
    assert first_keys.count(header.sender_key.hex()) == 1
    assert header.sender_key.hex() == first_keys[3]


# ---------------------------------------------------------------- a small group


def test_a_member_removed_and_a_member_who_left_read_nothing_new() -> None:
    group = Group(("alice", "bob", "carol", "dave"))
    for name in group.states:
        group.rotate(name)
    group.set("carol", MEMBER_REMOVED)
    group.set("dave", MEMBER_LEFT)
    group.publish()
    assert sender_key.needs_rotation(group.states["alice"], 0)
    with pytest.raises(StaleSenderKeyError):
        group.send("alice", "too early")
    group.rotate("alice")
    data = group.send("alice", "after")
    _, opened = sender_key.group_decrypt(group.states["bob"], data)
    assert opened.payload == b"after"
    for gone in ("carol", "dave"):
        with pytest.raises(MissingSenderKeyError):
            sender_key.group_decrypt(group.states[gone], data)
    # The departed members' keys are gone from those who remain.
    assert {r.member_key for r in group.states["bob"].received.values()} == {group.keys["alice"]}


def test_a_muted_member_reads_but_cannot_send() -> None:
    group = Group()
    for name in group.states:
        group.rotate(name)
    group.set("carol", MEMBER_MUTED)
    group.publish()
    _, opened = sender_key.group_decrypt(group.states["carol"], group.send("alice", "hi"))
    assert opened.payload == b"hi"
    with pytest.raises(NotAMemberError):
        group.send("carol", "let me")


def test_a_distribution_whose_name_does_not_match_the_roster_is_refused() -> None:
    group = Group()
    group.states["alice"] = sender_key.create_sender_key(group.states["alice"], 0)
    data = sender_key.distribution_message(
        group.states["alice"], "Someone Else", group.salts["alice"]
    )
    with pytest.raises(MalformedError):
        sender_key.process_distribution(group.states["bob"], data)


def test_a_message_signed_by_another_sender_key_is_refused() -> None:
    group = Group()
    for name in group.states:
        group.rotate(name)
    data = bytearray(group.send("alice", "hi"))
    data[-1] ^= 1
    with pytest.raises(MalformedError):
        verify_group_message(bytes(data))
    with pytest.raises(MalformedError):
        sender_key.group_decrypt(group.states["bob"], bytes(data))


def test_roster_rollback_keeps_the_newer_roster() -> None:
    group = Group()
    first = group.sign()
    group.set("carol", MEMBER_REMOVED)
    second = group.sign()
    state = sender_key.accept_roster(group.states["alice"], first)
    state = sender_key.accept_roster(state, second)
    with pytest.raises(RosterRollbackError):
        sender_key.accept_roster(state, first)
    assert state.roster.version == group.version


# ---------------------------------------------------------------- properties


@SETTINGS
@given(order=st.permutations(list(range(8))), corrupt=st.sets(st.integers(0, 7), max_size=3))
def test_out_of_order_delivery_opens_everything_once(order: list[int], corrupt: set[int]) -> None:
    group = Group(("alice", "bob"))
    group.rotate("alice")
    sent = [group.send("alice", f"message {i}") for i in range(8)]
    state = group.states["bob"]
    opened: list[int] = []
    for index in order:
        data = sent[index]
        if index in corrupt:
            forged = data[:70] + bytes([data[70] ^ 0x40]) + data[71:]
            with pytest.raises(ProtocolError):
                sender_key.group_decrypt(state, forged)
        state, plaintext = sender_key.group_decrypt(state, data)
        assert plaintext.payload == f"message {index}".encode()
        assert plaintext.iteration == index
        opened.append(index)
        with pytest.raises(ReplayedError):
            sender_key.group_decrypt(state, data)
    assert sorted(opened) == list(range(8))
    record = next(iter(state.received.values()))
    assert record.skipped == {}


@SETTINGS
@given(
    flip=st.integers(0, 400),
    mask=st.integers(1, 255),
)
def test_a_failure_changes_nothing(flip: int, mask: int) -> None:
    group = Group(("alice", "bob"))
    group.rotate("alice")
    data = group.send("alice", "x" * 100)
    forged = bytearray(data)
    forged[flip % len(forged)] ^= mask
    before = group.states["bob"]
    snapshot = before.copy()
    with pytest.raises(ProtocolError):
        sender_key.group_decrypt(before, bytes(forged))
    assert before == snapshot
    _, plaintext = sender_key.group_decrypt(before, data)
    assert plaintext.payload == b"x" * 100


@SETTINGS
@given(count=st.integers(1, 30))
def test_no_message_key_is_reused(count: int) -> None:
    group = Group(("alice", "bob"))
    group.rotate("alice")
    messages = [group.send("alice", "same text") for _ in range(count)]
    headers = [parse_group_message(m).header for m in messages]
    assert [h.iteration for h in headers] == list(range(count))
    ciphertexts = {parse_group_message(m).ciphertext for m in messages}
    assert len(ciphertexts) == count
    own = group.states["alice"].own
    assert own is not None and own.iteration == count


def test_skipping_beyond_the_bound_is_refused_and_changes_nothing() -> None:
    group = Group(("alice", "bob"))
    group.rotate("alice")
    state = group.states["alice"]
    sent = []
    for _ in range(SENDER_KEY_MAX_SKIP + 2):
        state, data = sender_key.group_encrypt(state, b"x")
        sent.append(data)
    bob = group.states["bob"]
    with pytest.raises(TooFarSkippedError):
        sender_key.group_decrypt(bob, sent[-1])
    bob, plaintext = sender_key.group_decrypt(bob, sent[-2])
    assert plaintext.iteration == SENDER_KEY_MAX_SKIP
    bob, _ = sender_key.group_decrypt(bob, sent[0])


@SETTINGS
@given(order=st.permutations(list(range(6))), cut=st.integers(0, 5))
def test_the_state_encoding_round_trips_mid_conversation(order: list[int], cut: int) -> None:
    group = Group(("alice", "bob"))
    group.rotate("alice")
    group.rotate("bob")
    sent = [group.send("alice", f"m{i}") for i in range(6)]
    state = group.states["bob"]
    for index in order[:cut]:
        state, _ = sender_key.group_decrypt(state, sent[index])
    restored = decode_group_state(encode_group_state(state))
    assert restored == state
    assert encode_group_state(restored) == encode_group_state(state)
    for index in order[cut:]:
        restored, plaintext = sender_key.group_decrypt(restored, sent[index])
        assert plaintext.payload == f"m{index}".encode()
