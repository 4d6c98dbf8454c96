"""Envelope and header framing (PROTOCOL.md section 7): parse and encode are inverse."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import envelope
from crypto.constants import BUCKETS, MAX_ENVELOPE
from crypto.envelope import Header, MessageEnvelope, PrekeyEnvelope
from crypto.errors import MalformedError, UnsupportedVersionError

keys32 = st.binary(min_size=32, max_size=32)
u32s = st.integers(0, 2**32 - 1)
headers = st.builds(Header, keys32, u32s, u32s)
ciphertexts = st.sampled_from(BUCKETS[:3]).flatmap(
    lambda bucket: st.binary(min_size=bucket + 16, max_size=bucket + 16)
)


@settings(max_examples=100, deadline=None)
@given(header=headers, ciphertext=ciphertexts)
def test_message_envelopes_roundtrip(header: Header, ciphertext: bytes) -> None:
    message = MessageEnvelope(header, ciphertext)
    data = message.encode()
    assert data[:2] == b"\x01\x02"
    assert envelope.parse(data) == message


@settings(max_examples=50, deadline=None)
@given(
    identity=keys32,
    ephemeral=keys32,
    ids=st.tuples(st.integers(1, 2**32 - 1), u32s, st.integers(1, 2**32 - 1)),
    kem=st.binary(min_size=1088, max_size=1088),
    header=headers,
    ciphertext=ciphertexts,
)
def test_prekey_envelopes_roundtrip(identity, ephemeral, ids, kem, header, ciphertext) -> None:
    prekey = PrekeyEnvelope(identity, ephemeral, *ids, kem, header, ciphertext)
    data = prekey.encode()
    assert len(data) == 1206 + len(ciphertext)
    parsed = envelope.parse(data)
    assert parsed == prekey
    assert isinstance(parsed, PrekeyEnvelope)
    assert parsed.inner() == MessageEnvelope(header, ciphertext)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_parse_or_raise_a_protocol_error(data: bytes) -> None:
    try:
        parsed = envelope.parse(data)
    except (MalformedError, UnsupportedVersionError):
        return
    assert parsed.encode() == data


def test_header_is_forty_bytes() -> None:
    header = Header(bytes(range(32)), 1, 2)
    assert header.encode() == bytes(range(32)) + bytes.fromhex("0000000100000002")
    assert Header.parse(header.encode()) == header
    with pytest.raises(MalformedError):
        Header.parse(header.encode()[:-1])
    with pytest.raises(MalformedError):
        Header(bytes(31), 0, 0).encode()
    with pytest.raises(MalformedError):
        Header(bytes(32), 2**32, 0).encode()


def test_encoding_refuses_what_parsing_would_refuse() -> None:
    header = Header(bytes(32), 0, 0)
    with pytest.raises(MalformedError):
        MessageEnvelope(header, bytes(300)).encode()
    with pytest.raises(MalformedError):
        PrekeyEnvelope(bytes(32), bytes(32), 0, 0, 1, bytes(1088), header, bytes(272)).encode()
    with pytest.raises(MalformedError):
        PrekeyEnvelope(bytes(32), bytes(32), 1, 0, 1, bytes(1087), header, bytes(272)).encode()


def test_the_largest_envelope_is_max_envelope() -> None:
    header = Header(bytes(32), 0, 0)
    largest = PrekeyEnvelope(
        bytes(32), bytes(32), 1, 0, 1, bytes(1088), header, bytes(BUCKETS[-1] + 16)
    ).encode()
    assert len(largest) == MAX_ENVELOPE == 66758
    assert envelope.parse(largest).encode() == largest
    with pytest.raises(MalformedError):
        envelope.parse(largest + b"\x00")


@pytest.mark.parametrize("value", [None, "0102", 5])
def test_non_bytes_are_malformed(value: object) -> None:
    with pytest.raises(MalformedError):
        envelope.parse(value)  # type: ignore[arg-type]
