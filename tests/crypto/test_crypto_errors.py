"""One test per typed error: each is raised by a real rejection, with its code and a message."""

import pytest
from crypto_parties import EMPTY_STORE, Group, established_pair, make_responder, text

from crypto import envelope, sender_key, session
from crypto.constants import MEMBER_REMOVED
from crypto.errors import (
    ALL_ERRORS,
    MalformedError,
    MissingSenderKeyError,
    NotAMemberError,
    ProtocolError,
    ReplayedError,
    RosterOutdatedError,
    RosterRollbackError,
    StaleSenderKeyError,
    TamperedError,
    TooFarSkippedError,
    UnsupportedVersionError,
    WrongRecipientError,
)
from crypto.session_state import encode_state


def test_every_error_has_a_distinct_code_and_a_message() -> None:
    codes = [error.code for error in ALL_ERRORS]
    assert codes == [
        "malformed",
        "unsupported_version",
        "tampered",
        "replayed",
        "too_far_skipped",
        "wrong_recipient",
        "identity_changed",
        "roster_rollback",
        "roster_outdated",
        "not_a_member",
        "stale_sender_key",
        "missing_sender_key",
    ]
    for error in ALL_ERRORS:
        assert issubclass(error, ProtocolError)
        assert len(str(error())) > 20
        assert str(error("specific")) == "specific"


def test_malformed() -> None:
    with pytest.raises(MalformedError) as caught:
        envelope.parse(b"\x01\x02" + bytes(41))
    assert caught.value.code == "malformed"


def test_unsupported_version() -> None:
    with pytest.raises(UnsupportedVersionError) as caught:
        envelope.parse(b"\x02\x02" + bytes(40 + 272))
    assert caught.value.code == "unsupported_version"


def test_tampered() -> None:
    pair = established_pair()
    out = session.encrypt(pair.alice_state, text("flip me"))
    forged = out.envelope[:-1] + bytes([out.envelope[-1] ^ 1])
    before = encode_state(pair.bob_state)
    with pytest.raises(TamperedError) as caught:
        session.decrypt(pair.bob.identity, forged, (pair.bob_state,), pair.bob.store)
    assert caught.value.code == "tampered"
    assert encode_state(pair.bob_state) == before


def test_replayed() -> None:
    pair = established_pair()
    out = session.encrypt(pair.alice_state, text("once"))
    received = session.decrypt(pair.bob.identity, out.envelope, (pair.bob_state,), pair.bob.store)
    with pytest.raises(ReplayedError) as caught:
        session.decrypt(pair.bob.identity, out.envelope, received.record, pair.bob.store)
    assert caught.value.code == "replayed"


def test_too_far_skipped() -> None:
    pair = established_pair()
    state = pair.alice_state
    for _ in range(1002):
        out = session.encrypt(state, text("x"))
        state = out.state
    with pytest.raises(TooFarSkippedError) as caught:
        session.decrypt(pair.bob.identity, out.envelope, (pair.bob_state,), pair.bob.store)
    assert caught.value.code == "too_far_skipped"


def test_wrong_recipient() -> None:
    alice_identity = make_responder().identity
    bob, mallory = make_responder(), make_responder()
    out = session.encrypt(session.start_session(alice_identity, bob.bundle()), text("hi"))
    with pytest.raises(WrongRecipientError) as caught:
        session.decrypt(mallory.identity, out.envelope, None, mallory.store)
    assert caught.value.code == "wrong_recipient"


def test_a_message_without_a_session_is_wrong_recipient() -> None:
    pair = established_pair()
    out = session.encrypt(pair.alice_state, text("hi"))
    with pytest.raises(WrongRecipientError):
        session.decrypt(pair.bob.identity, out.envelope, None, EMPTY_STORE)


def test_a_changed_header_is_tampered_and_keeps_the_library_cause() -> None:
    pair = established_pair()
    out = session.encrypt(pair.alice_state, text("x"))
    forged = out.envelope[:30] + bytes([out.envelope[30] ^ 1]) + out.envelope[31:]
    with pytest.raises(TamperedError) as caught:
        session.decrypt(pair.bob.identity, forged, (pair.bob_state,), pair.bob.store)
    assert caught.value.__cause__ is not None


# The five group errors (section 15) are raised by real group operations in
# tests/crypto/test_crypto_groups.py; each is checked here once by its code.


def test_group_errors() -> None:
    group = Group()
    old = group.sign()
    group.publish()
    with pytest.raises(RosterRollbackError) as rollback:
        sender_key.accept_roster(group.states["alice"], old)
    group.states["alice"] = sender_key.create_sender_key(group.states["alice"], 0)
    ahead = group.sign()
    alice = sender_key.accept_roster(group.states["alice"], ahead)
    _, message = sender_key.group_encrypt(alice, b"ahead")
    with pytest.raises(RosterOutdatedError) as outdated:
        sender_key.group_decrypt(group.states["bob"], message)
    with pytest.raises(MissingSenderKeyError) as missing:
        sender_key.group_decrypt(sender_key.accept_roster(group.states["bob"], ahead), message)
    group.set("carol", MEMBER_REMOVED)
    group.publish()
    with pytest.raises(NotAMemberError) as not_member:
        sender_key.create_sender_key(group.states["carol"], 0)
    with pytest.raises(StaleSenderKeyError) as stale:
        sender_key.group_encrypt(group.states["alice"], b"stale")
    codes = [e.value.code for e in (rollback, outdated, not_member, stale, missing)]
    assert codes == [
        "roster_rollback",
        "roster_outdated",
        "not_a_member",
        "stale_sender_key",
        "missing_sender_key",
    ]
