"""Property-based tests of sessions: delivery in any order, tampering, replays, limits.

Each example sets up a real PQXDH session (random keys, real ML-KEM) and runs
a conversation drawn by Hypothesis through crypto/session.py; one set of
examples starts from a crossed set-up, both sides at once. Example counts
are bounded so that the file stays quick.
"""

import pytest
from crypto_parties import EMPTY_STORE, Responder, established_pair, make_responder, text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto import payload, session
from crypto.constants import MAX_SKIP
from crypto.errors import ProtocolError, ReplayedError, TooFarSkippedError
from crypto.keys import IdentityKeyPair
from crypto.ratchet import RatchetState
from crypto.session_record import SessionRecord
from crypto.session_state import decode_state, encode_state

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Conversation:
    """Alice and Bob, their sessions, and the envelopes in flight to each."""

    def __init__(self) -> None:
        self.alice = IdentityKeyPair.generate()
        self.bob: Responder = make_responder()
        self.states: dict[str, RatchetState | None] = {
            "alice": session.start_session(self.alice, self.bob.bundle()),
            "bob": None,
        }
        self.in_flight: dict[str, list[tuple[bytes, bytes]]] = {"alice": [], "bob": []}
        self.delivered: dict[str, list[bytes]] = {"alice": [], "bob": []}
        self.sent: dict[str, list[bytes]] = {"alice": [], "bob": []}
        self.opened: list[tuple[str, bytes]] = []

    def identity(self, who: str) -> IdentityKeyPair:
        return self.alice if who == "alice" else self.bob.identity

    def can_send(self, who: str) -> bool:
        return self.states[who] is not None

    def send(self, who: str) -> None:
        state = self.states[who]
        assert state is not None
        body = text(f"{who} {len(self.sent[who])}")
        out = session.encrypt(state, body)
        self.states[who] = out.state
        other = "bob" if who == "alice" else "alice"
        self.in_flight[other].append((out.envelope, body))
        self.sent[who].append(body)

    def receive(self, who: str, envelope: bytes) -> session.Received:
        store = self.bob.store if who == "bob" else EMPTY_STORE
        state = self.states[who]
        record = None if state is None else (state,)
        received = session.decrypt(self.identity(who), envelope, record, store)
        self.states[who] = received.state
        self.opened.append((who, envelope))
        if received.prekeys is not None:
            self.bob.store = received.prekeys
        return received

    def deliver(self, who: str, pick: int) -> None:
        queue = self.in_flight[who]
        envelope, body = queue.pop(pick % len(queue))
        received = self.receive(who, envelope)
        assert received.payload == body
        self.delivered[who].append(body)


actions = st.lists(
    st.tuples(st.sampled_from(["send", "deliver", "drop"]), st.booleans(), st.integers(0, 50)),
    min_size=1,
    max_size=40,
)


def run(conversation: Conversation, steps: list[tuple[str, bool, int]]) -> None:
    for action, is_alice, pick in steps:
        who = "alice" if is_alice else "bob"
        if action == "send" and conversation.can_send(who):
            conversation.send(who)
        elif action == "deliver" and conversation.in_flight[who]:
            conversation.deliver(who, pick)
        elif action == "drop" and conversation.in_flight[who]:
            conversation.in_flight[who].pop(pick % len(conversation.in_flight[who]))


@SETTINGS
@given(steps=actions)
def test_any_interleaving_with_loss_decrypts_what_arrives_exactly_once(steps) -> None:
    conversation = Conversation()
    run(conversation, steps)
    for who in ("alice", "bob"):
        delivered = conversation.delivered[who]
        assert len(set(delivered)) == len(delivered)
        other = "bob" if who == "alice" else "alice"
        assert set(delivered) <= set(conversation.sent[other])
    # Whatever is still in flight arrives late and still opens, once.
    for who in ("alice", "bob"):
        while conversation.in_flight[who]:
            conversation.deliver(who, 0)


@SETTINGS
@given(steps=actions, resend=st.integers(0, 1000))
def test_a_delivered_envelope_is_rejected_as_a_replay(steps, resend) -> None:
    conversation = Conversation()
    run(conversation, [*steps, ("send", True, 0), ("deliver", False, 10**6)])
    who, envelope = conversation.opened[resend % len(conversation.opened)]
    state = conversation.states[who]
    assert state is not None
    before = encode_state(state)
    store = conversation.bob.store if who == "bob" else EMPTY_STORE
    with pytest.raises(ReplayedError):
        session.decrypt(conversation.identity(who), envelope, (state,), store)
    assert encode_state(state) == before


@SETTINGS
@given(
    steps=actions,
    region=st.sampled_from(["version", "type", "header", "ciphertext", "ad"]),
    position=st.integers(0, 10**6),
    bit=st.integers(0, 7),
)
def test_a_flipped_bit_is_rejected_and_changes_nothing(steps, region, position, bit) -> None:
    conversation = Conversation()
    if region == "ad":
        # Bob needs a session whose associated data can be changed.
        run(conversation, [("send", True, 0), ("deliver", False, 0)])
    run(conversation, [*steps, ("send", True, 0)])
    envelope, body = conversation.in_flight["bob"][-1]
    state = conversation.states["bob"]
    store = conversation.bob.store
    header_start = 2 if envelope[1] == 2 else 1166
    ranges = {
        "version": (0, 1),
        "type": (1, 2),
        "header": (header_start, header_start + 40),
        "ciphertext": (header_start + 40, len(envelope)),
    }
    if region == "ad":
        assert state is not None
        flipped_ad = bytearray(state.ad)
        flipped_ad[position % 64] ^= 1 << bit
        target = decode_state(encode_state(state))
        target.ad = bytes(flipped_ad)
        forged = envelope
    else:
        start, end = ranges[region]
        index = start + position % (end - start)
        forged = envelope[:index] + bytes([envelope[index] ^ (1 << bit)]) + envelope[index + 1 :]
        target = state
    before = None if target is None else encode_state(target)
    with pytest.raises(ProtocolError):
        session.decrypt(
            conversation.bob.identity, forged, None if target is None else (target,), store
        )
    assert (None if target is None else encode_state(target)) == before
    assert conversation.bob.store is store
    # The genuine envelope still opens afterwards.
    assert conversation.receive("bob", envelope).payload == body


@settings(max_examples=5, deadline=None)
@given(beyond=st.integers(1, 30))
def test_skipping_past_max_skip_is_refused_without_changing_the_session(beyond) -> None:
    pair = established_pair()
    state = pair.alice_state
    envelopes = []
    for i in range(MAX_SKIP + beyond + 1):
        out = session.encrypt(state, text(f"m{i}"))
        state = out.state
        envelopes.append(out.envelope)
    before = encode_state(pair.bob_state)
    with pytest.raises(TooFarSkippedError):
        session.decrypt(pair.bob.identity, envelopes[-1], (pair.bob_state,), pair.bob.store)
    assert encode_state(pair.bob_state) == before
    # Exactly MAX_SKIP skipped keys is still allowed, and the skipped ones open later.
    received = session.decrypt(
        pair.bob.identity, envelopes[MAX_SKIP], (pair.bob_state,), pair.bob.store
    )
    assert len(received.state.skipped) == MAX_SKIP
    late = session.decrypt(pair.bob.identity, envelopes[3], received.record, pair.bob.store)
    assert payload.parse(late.payload)["body"] == "m3"


@SETTINGS
@given(steps=actions)
def test_session_state_roundtrips_through_its_encoding(steps) -> None:
    conversation = Conversation()
    run(conversation, steps)
    for state in conversation.states.values():
        if state is None:
            continue
        encoded = encode_state(state)
        decoded = decode_state(encoded)
        assert decoded == state
        assert encode_state(decoded) == encoded
    # A session restored from its bytes carries on as the original would.
    for who in ("alice", "bob"):
        state = conversation.states[who]
        if state is not None:
            conversation.states[who] = decode_state(encode_state(state))
    run(conversation, [("send", True, 0), ("deliver", False, 10**6)])
    assert conversation.delivered["bob"]


class CrossedSetUp:
    """Alice and Bob who both set up a session with the other at once (PROTOCOL.md 5.8)."""

    def __init__(self) -> None:
        self.parties = {"alice": make_responder(one_time=3), "bob": make_responder(one_time=3)}
        self.records: dict[str, SessionRecord] = {
            who: (session.start_session(party.identity, self.other_party(who).bundle()),)
            for who, party in self.parties.items()
        }
        self.in_flight: dict[str, list[tuple[bytes, bytes]]] = {"alice": [], "bob": []}
        self.sent: dict[str, list[bytes]] = {"alice": [], "bob": []}
        self.delivered: dict[str, list[bytes]] = {"alice": [], "bob": []}

    def other_party(self, who: str) -> Responder:
        return self.parties["bob" if who == "alice" else "alice"]

    def send(self, who: str) -> None:
        record = self.records[who]
        body = text(f"{who} {len(self.sent[who])}")
        out = session.encrypt(record[0], body)
        self.records[who] = (out.state, *record[1:])
        self.in_flight["bob" if who == "alice" else "alice"].append((out.envelope, body))
        self.sent[who].append(body)

    def deliver(self, who: str, pick: int) -> None:
        envelope, body = self.in_flight[who].pop(pick % len(self.in_flight[who]))
        party = self.parties[who]
        received = session.decrypt(party.identity, envelope, self.records[who], party.store)
        assert received.payload == body
        self.records[who] = received.record
        if received.prekeys is not None:
            party.store = received.prekeys
        self.delivered[who].append(body)


@SETTINGS
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["send", "deliver"]), st.booleans(), st.integers(0, 50)),
        max_size=40,
    )
)
def test_a_crossed_set_up_opens_every_message_in_any_order(steps) -> None:
    conversation = CrossedSetUp()
    # Both first messages leave before either side has received anything.
    conversation.send("alice")
    conversation.send("bob")
    for action, is_alice, pick in steps:
        who = "alice" if is_alice else "bob"
        if action == "send":
            conversation.send(who)
        elif conversation.in_flight[who]:
            conversation.deliver(who, pick)
    for who in ("alice", "bob"):
        while conversation.in_flight[who]:
            conversation.deliver(who, 0)
    # Everything arrived once; a final exchange settles both on one session.
    assert sorted(conversation.delivered["alice"]) == sorted(conversation.sent["bob"])
    assert sorted(conversation.delivered["bob"]) == sorted(conversation.sent["alice"])
    conversation.send("alice")
    conversation.deliver("bob", 0)
    conversation.send("bob")
    conversation.deliver("alice", 0)
    assert conversation.records["alice"][0].ek == conversation.records["bob"][0].ek
