"""PQXDH agreement with live keys (section 4) and safety numbers (section 8)."""

import os

import pytest
from crypto_parties import make_responder

from crypto import safety
from crypto.errors import MalformedError
from crypto.keys import IdentityKeyPair
from crypto.x3dh import initiate, parse_bundle, respond


@pytest.mark.parametrize("with_opk", [True, False])
def test_both_sides_derive_the_same_secret(with_opk: bool) -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder()
    bundle = bob.bundle(with_opk)
    secret = initiate(alice, bundle)
    opk_private = bob.store.opk[bundle.one_time_prekey.id] if bundle.one_time_prekey else None
    sk, ad = respond(
        bob.identity,
        alice.public,
        secret.ephemeral_public,
        secret.kem_ciphertext,
        bob.store.spk[secret.spk_id],
        bob.store.pq[secret.pq_id],
        opk_private,
    )
    assert (sk, ad) == (secret.sk, secret.ad)
    assert secret.opk_id == (bundle.one_time_prekey.id if with_opk else 0)
    assert initiate(alice, bundle).sk != secret.sk, "each set-up is fresh"


def test_a_bundle_must_have_exactly_the_documented_fields() -> None:
    bundle = make_responder().bundle_json()
    parse_bundle(bundle)
    for broken in (
        {**bundle, "extra": 1},
        {**bundle, "signed_prekey": {**bundle["signed_prekey"], "id": "1"}},
        {**bundle, "signed_prekey": {**bundle["signed_prekey"], "id": 2**32}},
        {**bundle, "account": "short"},
        [bundle],
    ):
        with pytest.raises(MalformedError):
            parse_bundle(broken)


def test_injected_kem_output_must_have_the_right_size() -> None:
    alice, bob = IdentityKeyPair.generate(), make_responder()
    with pytest.raises(MalformedError):
        initiate(alice, bob.bundle(), kem_encapsulation=(bytes(1087), bytes(32)))


def test_safety_numbers_agree_on_both_sides_and_change_with_either_key() -> None:
    a, b = IdentityKeyPair.generate().public, IdentityKeyPair.generate().public
    id_a, id_b = os.urandom(16), os.urandom(16)
    number = safety.safety_number(a, id_a, b, id_b)
    assert number == safety.safety_number(b, id_b, a, id_a)
    assert len(number) == 60 and number.isdigit()
    other = IdentityKeyPair.generate().public
    assert safety.safety_number(a, id_a, other, id_b) != number
    assert len(safety.format_safety_number(number).split(" ")) == 12
    with pytest.raises(MalformedError):
        safety.fingerprint(a[:31], id_a)
