"""Padding (sections 6 and 10), the account secret (9) and vault items (10)."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import padding, vault
from crypto.constants import BUCKETS, CROCKFORD_ALPHABET, MAX_PLAINTEXT
from crypto.errors import MalformedError, TamperedError, UnsupportedVersionError


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=5000))
def test_padding_roundtrips_to_the_smallest_bucket(data: bytes) -> None:
    padded = padding.pad(data)
    assert len(padded) == min(b for b in BUCKETS if b > len(data))
    assert padding.unpad(padded) == data


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=5000))
def test_vault_padding_roundtrips_to_a_power_of_two(data: bytes) -> None:
    padded = padding.vpad(data)
    size = len(padded)
    assert size >= 256 and size & (size - 1) == 0 and size // 2 <= max(len(data), 255)
    assert padding.vunpad(padded) == data


def test_the_largest_payload_fits_the_largest_bucket() -> None:
    assert len(padding.pad(bytes(MAX_PLAINTEXT))) == BUCKETS[-1]
    with pytest.raises(MalformedError):
        padding.pad(bytes(MAX_PLAINTEXT + 1))


def test_generated_secrets_have_the_documented_shape() -> None:
    seen = set()
    for _ in range(50):
        secret = vault.generate_secret()
        text = secret.formatted()
        assert len(text) == 29 and text.count("-") == 5
        assert set(text.replace("-", "")) <= set(CROCKFORD_ALPHABET)
        assert vault.normalise_secret(text) == secret
        seen.add(text)
    assert len(seen) == 50


@pytest.mark.parametrize("bad", [None, "", "0" * 23, "0" * 25, "U" * 24, "Ü" * 24, "0" * 23 + "_"])
def test_bad_secrets_are_malformed(bad: object) -> None:
    with pytest.raises(MalformedError):
        vault.normalise_secret(bad)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(item=st.binary(max_size=3000), version=st.integers(1, 2**64 - 1))
def test_vault_items_roundtrip_and_are_bound_to_id_and_version(item: bytes, version: int) -> None:
    key, item_id = os.urandom(32), os.urandom(16)
    blob = vault.encrypt_item(key, item_id, version, item)
    assert blob[0] == 1
    assert len(blob) == 1 + 24 + len(padding.vpad(item)) + 16
    assert vault.decrypt_item(key, item_id, version, blob) == item
    with pytest.raises(TamperedError):
        vault.decrypt_item(key, os.urandom(16), version, blob)
    with pytest.raises(TamperedError):
        vault.decrypt_item(key, item_id, version - 1 or 2, blob)


def test_vault_blob_versions_and_shapes() -> None:
    key, item_id = os.urandom(32), os.urandom(16)
    blob = vault.encrypt_item(key, item_id, 1, b"{}")
    with pytest.raises(UnsupportedVersionError):
        vault.decrypt_item(key, item_id, 1, b"\x07" + blob[1:])
    for bad in (b"", blob[:40], "text"):
        with pytest.raises(MalformedError):
            vault.decrypt_item(key, item_id, 1, bad)  # type: ignore[arg-type]
    with pytest.raises(MalformedError):
        vault.encrypt_item(key, item_id, 0, b"{}")
    with pytest.raises(MalformedError):
        vault.encrypt_item(key, item_id[:15], 1, b"{}")


def test_vault_and_login_keys_are_independent() -> None:
    derived = vault.keys_from_master(os.urandom(32))
    assert derived.vault_key != derived.login_key
    assert len(derived.vault_key) == len(derived.login_key) == 32
