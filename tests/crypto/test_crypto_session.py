"""The prekey-message rules of PROTOCOL.md section 4 (steps 0 to 5) through crypto/session.py."""

import pytest
from crypto_parties import EMPTY_STORE, established_pair, make_responder, text

from crypto import envelope, keys, payload, session
from crypto.constants import MAX_ARCHIVED_SESSIONS
from crypto.errors import (
    IdentityChangedError,
    MalformedError,
    ReplayedError,
    TamperedError,
    WrongRecipientError,
)
from crypto.keys import IdentityKeyPair
from crypto.prekeys import PrekeyStore, store_from_item, store_to_item
from crypto.ratchet import init_receiver
from crypto.session_record import MAX_SESSIONS_PER_PEER, SessionRecord, encode_record
from crypto.session_state import decode_state, encode_state


def test_first_message_sets_up_the_session_and_reports_every_change() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder()
    bundle = bob.bundle()
    assert bundle.one_time_prekey is not None
    out = session.encrypt(session.start_session(alice, bundle), text("first"))
    parsed = envelope.parse(out.envelope)
    assert isinstance(parsed, envelope.PrekeyEnvelope)
    assert parsed.identity_key == alice.public
    assert parsed.opk_id == bundle.one_time_prekey.id
    received = session.decrypt(bob.identity, out.envelope, None, bob.store)
    assert payload.parse(received.payload)["body"] == "first"
    assert received.new_session
    assert received.prekeys is not None
    assert parsed.opk_id not in received.prekeys.opk
    assert parsed.opk_id in bob.store.opk, "the caller's store is never changed in place"
    assert received.prekeys.seen_ek == ((parsed.spk_id, parsed.ephemeral_key),)
    assert received.state.ad == alice.public + bob.identity.public


def test_without_a_one_time_prekey_the_session_still_sets_up() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder(one_time=0)
    out = session.encrypt(session.start_session(alice, bob.bundle()), text("no opk"))
    parsed = envelope.parse(out.envelope)
    assert isinstance(parsed, envelope.PrekeyEnvelope) and parsed.opk_id == 0
    received = session.decrypt(bob.identity, out.envelope, None, bob.store)
    assert payload.parse(received.payload)["body"] == "no opk"
    assert received.prekeys is not None and received.prekeys.opk == bob.store.opk


def test_initiator_sends_prekey_messages_until_the_first_reply() -> None:
    pair_alice, bob = IdentityKeyPair.generate(), make_responder()
    state = session.start_session(pair_alice, bob.bundle())
    first = session.encrypt(state, text("1"))
    second = session.encrypt(first.state, text("2"))
    assert first.envelope[1] == second.envelope[1] == 1
    received = session.decrypt(bob.identity, first.envelope, None, bob.store)
    # Step 1: a further prekey message of the same session opens in it.
    again = session.decrypt(bob.identity, second.envelope, received.record, received.prekeys)
    assert not again.new_session and again.prekeys is None
    reply = session.encrypt(again.state, text("reply"))
    assert reply.envelope[1] == 2
    back = session.decrypt(pair_alice, reply.envelope, (second.state,), EMPTY_STORE)
    assert back.state.pending is None
    assert session.encrypt(back.state, text("3")).envelope[1] == 2


def test_step_2_a_replaced_session_cannot_be_replayed() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder(one_time=3)
    old = session.encrypt(session.start_session(alice, bob.bundle()), text("old"))
    first = session.decrypt(bob.identity, old.envelope, None, bob.store)
    assert first.prekeys is not None
    # Alice starts over (a new device, a lost session): Bob replaces the session.
    new = session.encrypt(session.start_session(alice, bob.bundle()), text("new"))
    second = session.decrypt(bob.identity, new.envelope, first.record, first.prekeys)
    assert second.new_session and second.prekeys is not None
    with pytest.raises(ReplayedError):
        session.decrypt(bob.identity, old.envelope, second.record, second.prekeys)


def test_step_0_a_known_sender_under_another_identity_key_is_refused() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder(one_time=3)
    first = session.decrypt(
        bob.identity,
        session.encrypt(session.start_session(alice, bob.bundle()), text("hi")).envelope,
        None,
        bob.store,
    )
    assert first.prekeys is not None
    # Someone else, delivered under Alice's account id, sets up a new session.
    mallory = IdentityKeyPair.generate()
    forged = session.encrypt(session.start_session(mallory, bob.bundle()), text("it's me"))
    with pytest.raises(IdentityChangedError):
        session.decrypt(bob.identity, forged.envelope, first.record, first.prekeys)
    # Without a session there is nothing to compare with: it is a new contact.
    assert session.decrypt(bob.identity, forged.envelope, None, first.prekeys).new_session


def test_step_0_holds_for_a_further_prekey_message_of_the_same_session() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder()
    state = session.start_session(alice, bob.bundle())
    one = session.encrypt(state, text("one"))
    two = session.encrypt(one.state, text("two"))
    first = session.decrypt(bob.identity, one.envelope, None, bob.store)
    parsed = envelope.parse(two.envelope)
    assert isinstance(parsed, envelope.PrekeyEnvelope)
    # The same session's second message with its identity field swapped: the
    # ratchet would open it (its AD comes from the session), step 0 does not.
    other = IdentityKeyPair.generate().public
    swapped = two.envelope.replace(parsed.identity_key, other, 1)
    with pytest.raises(IdentityChangedError):
        session.decrypt(bob.identity, swapped, first.record, bob.store)
    opened = session.decrypt(bob.identity, two.envelope, first.record, bob.store)
    assert payload.parse(opened.payload)["body"] == "two"


def test_step_3_unknown_or_used_prekeys_are_wrong_recipient() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder()
    out = session.encrypt(session.start_session(alice, bob.bundle()), text("x"))
    parsed = envelope.parse(out.envelope)
    assert isinstance(parsed, envelope.PrekeyEnvelope)
    without_opk = PrekeyStore(bob.store.spk, bob.store.pq, {}, (), 0)
    without_spk = PrekeyStore({}, bob.store.pq, bob.store.opk, (), 0)
    without_pq = PrekeyStore(bob.store.spk, {}, bob.store.opk, (), 0)
    for store in (without_opk, without_spk, without_pq):
        with pytest.raises(WrongRecipientError):
            session.decrypt(bob.identity, out.envelope, None, store)


def test_step_4_a_failed_first_message_keeps_nothing() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder()
    out = session.encrypt(session.start_session(alice, bob.bundle()), text("x"))
    forged = out.envelope[:-1] + bytes([out.envelope[-1] ^ 1])
    store_before = store_to_item(bob.store)
    with pytest.raises(TamperedError):
        session.decrypt(bob.identity, forged, None, bob.store)
    assert store_to_item(bob.store) == store_before
    # The genuine message still opens: the one-time prekey was not used up.
    assert session.decrypt(bob.identity, out.envelope, None, bob.store).new_session


def test_a_changed_kem_ciphertext_is_tampered() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder()
    out = session.encrypt(session.start_session(alice, bob.bundle()), text("x"))
    forged = out.envelope[:100] + bytes([out.envelope[100] ^ 1]) + out.envelope[101:]
    with pytest.raises(TamperedError):
        session.decrypt(bob.identity, forged, None, bob.store)


def test_a_prekey_message_with_an_invalid_identity_key_is_malformed() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder()
    out = session.encrypt(session.start_session(alice, bob.bundle()), text("x"))
    forged = out.envelope[:2] + bytes(32) + out.envelope[34:]
    with pytest.raises(MalformedError):
        session.decrypt(bob.identity, forged, None, bob.store)


def test_a_previous_signed_prekey_generation_still_opens() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder()
    out = session.encrypt(session.start_session(alice, bob.bundle()), text("in flight"))
    newer_spk = keys.make_signed_prekey(bob.identity.seed, 77)
    rotated = PrekeyStore(
        {**bob.store.spk, newer_spk.id: newer_spk.private},
        bob.store.pq,
        bob.store.opk,
        (),
        1,
    )
    received = session.decrypt(bob.identity, out.envelope, None, rotated)
    assert payload.parse(received.payload)["body"] == "in flight"


def test_accepted_keys_of_a_dropped_signed_prekey_are_forgotten() -> None:
    store = PrekeyStore({2: bytes(32)}, {}, {}, ((1, b"a" * 32), (2, b"b" * 32)), 0)
    accepted = store.accept(2, b"c" * 32, None)
    assert accepted.seen_ek == ((2, b"b" * 32), (2, b"c" * 32))


def test_the_prekeys_item_roundtrips_and_keeps_unknown_fields() -> None:
    bob = make_responder()
    pair = established_pair()
    item = store_to_item(pair.bob.store)
    item["future_field"] = {"kept": True}
    restored = store_from_item(item)
    assert store_to_item(restored) == item
    assert restored.seen_ek == pair.bob.store.seen_ek
    with pytest.raises(MalformedError):
        store_from_item({**store_to_item(bob.store), "seen_ek": ["not an object"]})
    with pytest.raises(MalformedError):
        store_from_item({**store_to_item(bob.store), "spk": [{"id": 0, "priv": "AAAA"}]})


def test_the_responder_cannot_send_before_receiving() -> None:
    idle = init_receiver(bytes(32), bytes(64), bytes(32), keys.generate_x25519())
    with pytest.raises(MalformedError):
        session.encrypt(idle, text("too early"))


def test_each_side_reads_the_peer_identity_from_the_session() -> None:
    pair = established_pair()
    assert session.peer_identity(pair.alice_state, pair.alice.public) == pair.bob.identity.public
    assert session.peer_identity(pair.bob_state, pair.bob.identity.public) == pair.alice.public


def test_simultaneous_set_up_keeps_both_sessions_and_loses_nothing() -> None:
    """Both send a first message before either has the other's (PROTOCOL.md 5.8)."""
    alice, bob = make_responder(), make_responder()
    records: dict[str, SessionRecord] = {
        "alice": (session.start_session(alice.identity, bob.bundle()),),
        "bob": (session.start_session(bob.identity, alice.bundle()),),
    }
    parties = {"alice": alice, "bob": bob}

    def send(who: str, body: str) -> bytes:
        out = session.encrypt(records[who][0], text(body))
        records[who] = (out.state, *records[who][1:])
        return out.envelope

    def receive(who: str, envelope_bytes: bytes) -> str:
        party = parties[who]
        received = session.decrypt(party.identity, envelope_bytes, records[who], party.store)
        records[who] = received.record
        if received.prekeys is not None:
            party.store = received.prekeys
        return payload.parse(received.payload)["body"]

    from_alice, from_bob = send("alice", "hello from alice"), send("bob", "hello from bob")
    assert receive("alice", from_bob) == "hello from bob"
    assert receive("bob", from_alice) == "hello from alice"
    assert len(records["alice"]) == len(records["bob"]) == 2
    # Each answers under the session the other set up, at the same time again.
    crossed_a, crossed_b = send("alice", "a2"), send("bob", "b2")
    assert receive("bob", crossed_a) == "a2"
    assert receive("alice", crossed_b) == "b2"
    # Whichever answers next, both settle on one session and stay on it.
    for turn in range(6):
        who, peer = ("alice", "bob") if turn % 2 == 0 else ("bob", "alice")
        assert receive(peer, send(who, f"turn {turn}")) == f"turn {turn}"
    assert records["alice"][0].ek == records["bob"][0].ek
    # Both directions at once still open on the settled session.
    a, b = send("alice", "late a"), send("bob", "late b")
    assert (receive("bob", a), receive("alice", b)) == ("late a", "late b")
    assert records["alice"][0].ek == records["bob"][0].ek


def test_a_message_under_an_earlier_session_opens_and_makes_it_active() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder(one_time=3)
    old = session.start_session(alice, bob.bundle())
    first = session.encrypt(old, text("old 1"))
    second = session.encrypt(first.state, text("old 2"))
    opened = session.decrypt(bob.identity, first.envelope, None, bob.store)
    assert opened.prekeys is not None
    # Alice starts over; her message in flight under the old session still opens.
    new = session.encrypt(session.start_session(alice, bob.bundle()), text("new"))
    newer = session.decrypt(bob.identity, new.envelope, opened.record, opened.prekeys)
    assert newer.new_session and [s.ek for s in newer.record] == [new_ek(new), new_ek(first)]
    late = session.decrypt(bob.identity, second.envelope, newer.record, newer.prekeys)
    assert payload.parse(late.payload)["body"] == "old 2"
    assert [s.ek for s in late.record] == [new_ek(first), new_ek(new)]


def new_ek(out: session.Outgoing) -> bytes:
    return out.state.ek


def test_the_record_keeps_at_most_the_documented_number_of_earlier_sessions() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder(one_time=MAX_SESSIONS_PER_PEER + 2)
    record: SessionRecord | None = None
    store = bob.store
    sent = []
    for i in range(MAX_SESSIONS_PER_PEER + 1):
        out = session.encrypt(session.start_session(alice, bob.bundle()), text(f"start {i}"))
        received = session.decrypt(bob.identity, out.envelope, record, store)
        assert received.prekeys is not None
        record, store = received.record, received.prekeys
        sent.append(out)
    assert record is not None and len(record) == MAX_SESSIONS_PER_PEER == 1 + MAX_ARCHIVED_SESSIONS
    assert [s.ek for s in record] == [out.state.ek for out in reversed(sent[1:])]
    # A further message of the dropped session is recognised as already set up.
    dropped = session.encrypt(sent[0].state, text("dropped"))
    with pytest.raises(ReplayedError):
        session.decrypt(bob.identity, dropped.envelope, record, store)
    too_many = (*record, decode_state(encode_state(sent[0].state)))
    with pytest.raises(MalformedError):
        encode_record(too_many)


def test_no_session_of_the_record_opens_a_forgery_and_nothing_changes() -> None:
    pair = established_pair()
    alice_again = session.encrypt(session.start_session(pair.alice, pair.bob.bundle()), text("x"))
    two = session.decrypt(
        pair.bob.identity, alice_again.envelope, (pair.bob_state,), pair.bob.store
    )
    out = session.encrypt(pair.alice_state, text("under the earlier session"))
    forged = out.envelope[:-1] + bytes([out.envelope[-1] ^ 1])
    before = encode_record(two.record)
    with pytest.raises(TamperedError):
        session.decrypt(pair.bob.identity, forged, two.record, pair.bob.store)
    assert encode_record(two.record) == before
    opened = session.decrypt(pair.bob.identity, out.envelope, two.record, pair.bob.store)
    assert payload.parse(opened.payload)["body"] == "under the earlier session"
    # A replay of it is reported by the session that knows its chain.
    with pytest.raises(ReplayedError):
        session.decrypt(pair.bob.identity, out.envelope, opened.record, pair.bob.store)
