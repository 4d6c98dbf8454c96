"""The JSON payload of PROTOCOL.md section 6."""

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import payload
from crypto.constants import MAX_BODY_CHARS
from crypto.encoding import b64u_encode
from crypto.errors import MalformedError, UnsupportedVersionError

bodies = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)


@settings(max_examples=150, deadline=None)
@given(body=bodies, sent=st.integers(0, 2**53 - 1))
def test_text_payloads_roundtrip(body: str, sent: int) -> None:
    message_id = os.urandom(16)
    parsed = payload.parse(payload.encode_text(message_id, sent, body))
    assert parsed == {
        "v": 1,
        "type": "text",
        "id": b64u_encode(message_id),
        "sent": sent,
        "body": body,
    }


def test_receipts_roundtrip() -> None:
    ids = [os.urandom(16) for _ in range(3)]
    parsed = payload.parse(payload.encode_receipt("read", ids))
    assert parsed["ids"] == [b64u_encode(i) for i in ids]
    with pytest.raises(MalformedError):
        payload.encode_receipt("seen", ids)
    with pytest.raises(MalformedError):
        payload.encode_receipt("read", [])


def test_body_length_counts_code_points() -> None:
    longest = "\U0001f331" * MAX_BODY_CHARS
    encoded = payload.encode_text(os.urandom(16), 1, longest)
    assert len(encoded) > 4 * MAX_BODY_CHARS
    assert payload.parse(encoded)["body"] == longest
    with pytest.raises(MalformedError):
        payload.encode_text(os.urandom(16), 1, longest + "x")
    with pytest.raises(MalformedError):
        payload.encode_text(os.urandom(16), 1, "\ud800")


def test_unknown_types_are_returned_for_the_caller_to_ignore() -> None:
    future = json.dumps({"v": 1, "type": "typing", "whatever": [1, 2]}).encode()
    assert payload.parse(future)["type"] == "typing"


def test_any_json_spelling_is_accepted() -> None:
    spaced = (
        b'{ "body" : "x", "sent" : 5, "type" : "text", "v" : 1, "id" : "AAAAAAAAAAAAAAAAAAAAAA" }'
    )
    assert payload.parse(spaced)["body"] == "x"


def test_a_newer_version_is_unsupported() -> None:
    with pytest.raises(UnsupportedVersionError):
        payload.parse(b'{"v":2,"type":"text"}')


@pytest.mark.parametrize("sent", [-1, 2**53, 1.0, True, "1"])
def test_sent_must_be_a_safe_whole_number(sent: object) -> None:
    raw = json.dumps(
        {"v": 1, "type": "text", "id": "AAAAAAAAAAAAAAAAAAAAAA", "sent": sent, "body": ""}
    ).encode()
    with pytest.raises(MalformedError):
        payload.parse(raw)


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedError):
        payload.parse(b"[" * 100000 + b"]" * 100000)
