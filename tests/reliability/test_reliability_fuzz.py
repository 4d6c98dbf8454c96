"""The server's frame and envelope parsers under generated input, in process and fast.

Everything the relay does with a frame before it touches storage (size
check, strict JSON, field shapes, base64url, envelope framing, vault writes)
must end in a value or in a documented `ApiError`, never in any other
exception: an unexpected exception is a bug, answered `internal`. Envelope
framing is fuzzed by mutating valid envelopes, so that the generated input
gets past the first length check. tests/server/test_server_malformed.py sends
such input to a live server; here the same parsers get many more cases in the
same time. Inputs that once broke a parser stay below as `@example`s.
"""

import json
import os
import secrets
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from reliability_harness import MAX_FRAME_BYTES, handle_frame
from server_harness import random_envelope

from crypto import envelope as framing
from crypto.constants import BUCKETS, ID_BYTES, MAX_ENVELOPE
from crypto.encoding import b64u_encode
from crypto.envelope import Header, PrekeyEnvelope
from crypto.errors import ProtocolError
from server import envelopes
from server.errors import ApiError

# Bounded so the file runs in seconds; tests/reliability/fuzz_atheris.py
# runs the same targets for as long as it is given (`make soak`).
SHAPES = settings(max_examples=300, deadline=None)
MUTATIONS = settings(max_examples=1000, deadline=None)


def prekey_envelope() -> bytes:
    return PrekeyEnvelope(
        identity_key=os.urandom(32),
        ephemeral_key=os.urandom(32),
        spk_id=1 + secrets.randbelow(2**32 - 1),
        opk_id=secrets.randbelow(2**32),
        pq_id=1 + secrets.randbelow(2**32 - 1),
        kem_ciphertext=os.urandom(1088),
        header=Header(os.urandom(32), 0, 1),
        ciphertext=os.urandom(BUCKETS[0] + 16),
    ).encode()


VALID = [random_envelope(bucket) for bucket in BUCKETS[:3]] + [prekey_envelope()]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=60).map(b64u_encode),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=30,
)
frame_fields = st.fixed_dictionaries(
    {"type": st.sampled_from(["send", "ack", "ping", "auth", "other"])},
    optional={
        "to": st.binary(min_size=ID_BYTES, max_size=ID_BYTES).map(b64u_encode) | json_values,
        "cmid": st.binary(min_size=ID_BYTES, max_size=ID_BYTES).map(b64u_encode) | json_values,
        "id": st.binary(min_size=ID_BYTES, max_size=ID_BYTES).map(b64u_encode) | json_values,
        "env": st.sampled_from(VALID).map(b64u_encode) | json_values,
        "vault": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "id": st.binary(min_size=16, max_size=16).map(b64u_encode) | json_values,
                    "version": st.integers() | json_values,
                    "blob": st.binary(max_size=400).map(b64u_encode) | json_values,
                    "delete": json_values,
                },
            ),
            max_size=4,
        )
        | json_values,
    },
)


def _only_api_errors(call: Any, *args: Any) -> None:
    try:
        call(*args)
    except ApiError as error:
        assert error.code != "internal"
        assert error.message


@SHAPES
@given(frame=frame_fields)
def test_structured_frames_end_in_a_value_or_a_documented_error(frame: dict[str, Any]) -> None:
    _only_api_errors(handle_frame, json.dumps(frame))


@SHAPES
@given(text=st.text(max_size=300) | json_values.map(json.dumps))
@example(text="[" * 100_000 + "]" * 100_000)
@example(text='{"type": "send", "env": "' + "A" * (MAX_ENVELOPE * 2) + '"}')
@example(text='{"type": "ping", "n": ' + "9" * 5000 + "}")
@example(text='{"type": "ping", "n": NaN}')
@example(text='{"type": "\\ud800"}')
@example(text='{"type": "ack", "id": "' + "A" * 22 + '", "vault": {}}')
@example(text="\u00e9" * (MAX_FRAME_BYTES // 2 + 1))
def test_any_text_ends_in_a_value_or_a_documented_error(text: str) -> None:
    _only_api_errors(handle_frame, text)


mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "cut", "insert", "set"]),
        st.integers(min_value=0),
        st.integers(min_value=0, max_value=255),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, steps: list[tuple[str, int, int]]) -> bytes:
    buffer = bytearray(data)
    for kind, where, value in steps:
        at = where % (len(buffer) + 1)
        if kind == "flip" and buffer:
            buffer[at % len(buffer)] ^= 1 << (value % 8)
        elif kind == "cut":
            del buffer[at:]
        elif kind == "insert":
            buffer[at:at] = bytes([value]) * (1 + value % 17)
        elif buffer:
            buffer[at % len(buffer)] = value
    return bytes(buffer)


@MUTATIONS
@given(original=st.sampled_from(VALID), steps=mutations)
def test_mutated_envelopes_parse_canonically_or_are_refused(original: bytes, steps: Any) -> None:
    data = mutate(original, steps)
    try:
        parsed = framing.parse(data)
    except ProtocolError:
        _only_api_errors(envelopes.parse_envelope, {"env": b64u_encode(data)})
        return
    # What parses is exactly what re-encodes: one envelope, one byte string.
    assert framing.encode(parsed) == data
    assert envelopes.parse_envelope({"env": b64u_encode(data)}) == data
