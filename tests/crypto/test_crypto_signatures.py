"""Signatures over domain-separated messages (PROTOCOL.md sections 2, 3, 9, 11)."""

import os

import pytest

from crypto import signatures
from crypto.constants import CTX_PROFILE, CTX_REGISTER, CTX_WEBSOCKET_AUTH
from crypto.errors import MalformedError
from crypto.keys import IdentityKeyPair, generate_x25519, mlkem_public_key


def test_each_signed_thing_verifies_and_only_as_itself() -> None:
    identity = IdentityKeyPair.generate()
    server_id, nonce, account = os.urandom(16), os.urandom(32), os.urandom(16)
    spk, opk = generate_x25519().public, generate_x25519().public
    pq = mlkem_public_key(os.urandom(64))

    for kind, key in (
        (signatures.SIGNED_PREKEY, spk),
        (signatures.ONE_TIME_PREKEY, opk),
        (signatures.PQ_PREKEY, pq),
    ):
        sig = signatures.sign_prekey(identity.seed, kind, 42, key)
        signatures.verify_prekey(identity.public, kind, 42, key, sig)
        with pytest.raises(MalformedError):
            signatures.verify_prekey(identity.public, kind, 43, key, sig)
    spk_sig = signatures.sign_prekey(identity.seed, signatures.SIGNED_PREKEY, 42, spk)
    with pytest.raises(MalformedError):
        signatures.verify_prekey(identity.public, signatures.ONE_TIME_PREKEY, 42, spk, spk_sig)

    profile = b'{"display_name":"A"}'
    signatures.verify_profile(
        identity.public, profile, signatures.sign(identity.seed, CTX_PROFILE, profile)
    )

    register = signatures.registration_data(server_id, "7K3QXM2D")
    register_sig = signatures.sign(identity.seed, CTX_REGISTER, register)
    signatures.verify_registration(identity.public, server_id, "7K3QXM2D", register_sig)
    with pytest.raises(MalformedError):
        signatures.verify_registration(identity.public, os.urandom(16), "7K3QXM2D", register_sig)

    auth = signatures.websocket_auth_data(server_id, nonce, account)
    auth_sig = signatures.sign(identity.seed, CTX_WEBSOCKET_AUTH, auth)
    signatures.verify_websocket_auth(identity.public, server_id, nonce, account, auth_sig)
    with pytest.raises(MalformedError):
        signatures.verify_websocket_auth(
            identity.public, server_id, nonce, os.urandom(16), auth_sig
        )


@pytest.mark.parametrize(
    ("prekey_id", "key_length"), [(0, 32), (2**32, 32), (True, 32), (1, 31), (1, 1184)]
)
def test_prekey_fields_are_checked(prekey_id: int, key_length: int) -> None:
    with pytest.raises(MalformedError):
        signatures.prekey_data(signatures.SIGNED_PREKEY, prekey_id, bytes(key_length))


@pytest.mark.parametrize("handle", ["7K3QXM2", "7K3QXM2DD", "7k3qxm2d", "7K3QXM2U", 12345678])
def test_registration_needs_a_normalised_handle(handle: object) -> None:
    with pytest.raises(MalformedError):
        signatures.registration_data(os.urandom(16), handle)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), "a" * 32, None])
def test_identity_keys_of_the_wrong_shape_are_malformed(bad: object) -> None:
    with pytest.raises(MalformedError):
        signatures.check_identity_key(bad)  # type: ignore[arg-type]
    with pytest.raises(MalformedError):
        signatures.verify(bad, CTX_PROFILE, b"", bytes(64))  # type: ignore[arg-type]


def test_generated_identity_keys_pass_the_check() -> None:
    for _ in range(20):
        signatures.check_identity_key(IdentityKeyPair.generate().public)


def test_signatures_are_64_bytes_and_deterministic() -> None:
    seed = os.urandom(32)
    first = signatures.sign(seed, CTX_PROFILE, b"x")
    assert len(first) == 64 and first == signatures.sign(seed, CTX_PROFILE, b"x")
    with pytest.raises(MalformedError):
        signatures.sign(seed[:31], CTX_PROFILE, b"x")
    with pytest.raises(MalformedError):
        signatures.verify(IdentityKeyPair.from_seed(seed).public, CTX_PROFILE, "x", first)  # type: ignore[arg-type]
