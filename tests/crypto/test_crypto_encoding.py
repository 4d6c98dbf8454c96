"""Strict base64url and the integer helpers (PROTOCOL.md section 1)."""

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.encoding import Reader, b64u_decode, b64u_encode, b64u_length, u8, u16, u32, u64
from crypto.errors import MalformedError


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=100))
def test_b64u_roundtrips_and_matches_the_standard_library(data: bytes) -> None:
    text = b64u_encode(data)
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert len(text) == b64u_length(len(data))
    assert b64u_decode(text) == data
    assert b64u_decode(text, length=len(data)) == data
    assert b64u_decode(text, max_length=len(data)) == data


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=12))
def test_only_the_canonical_spelling_decodes(text: str) -> None:
    try:
        data = b64u_decode(text)
    except MalformedError:
        return
    assert b64u_encode(data) == text


@pytest.mark.parametrize(
    "text",
    ["AA==", "AA=", "A", "AB", "AAB", " AA", "AA\n", "AA+A", "AA/A", "AA.A", "QUJD\u00e9"],
)
def test_non_canonical_or_foreign_text_is_malformed(text: str) -> None:
    with pytest.raises(MalformedError):
        b64u_decode(text)


@pytest.mark.parametrize("value", [None, b"AAAA", 12, ["AAAA"]])
def test_non_string_input_is_malformed(value: object) -> None:
    with pytest.raises(MalformedError):
        b64u_decode(value)  # type: ignore[arg-type]


def test_lengths_are_checked_before_decoding() -> None:
    with pytest.raises(MalformedError, match="exactly 16"):
        b64u_decode("A" * 23, length=16)
    with pytest.raises(MalformedError, match="at most 3"):
        b64u_decode("A" * 8, max_length=3)
    assert b64u_decode("AAAA", max_length=3) == bytes(3)


def test_integers_are_big_endian_and_range_checked() -> None:
    assert u8(1) + u16(0x0203) + u32(0x04050607) + u64(0x08) == bytes.fromhex(
        "010203040506070000000000000008"
    )
    for encode, too_big in ((u8, 256), (u16, 65536), (u32, 2**32), (u64, 2**64)):
        with pytest.raises(MalformedError):
            encode(too_big)
        with pytest.raises(MalformedError):
            encode(-1)
    with pytest.raises(MalformedError):
        u32(True)


def test_reader_turns_short_and_trailing_input_into_malformed() -> None:
    reader = Reader(bytes.fromhex("0102030405"), "sample")
    assert (reader.u8(), reader.u16()) == (1, 0x0203)
    assert reader.remaining() == 2
    with pytest.raises(MalformedError, match="sample is too short"):
        reader.u32()
    with pytest.raises(MalformedError, match="trailing"):
        reader.finish()
    with pytest.raises(MalformedError):
        Reader("text", "sample")  # type: ignore[arg-type]
