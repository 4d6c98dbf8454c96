"""Every session held with one peer, and their byte encoding (docs/PROTOCOL.md 5.8).

When both sides of a conversation set up a session at the same moment, each
receives the other's prekey message after sending its own. Replacing the
session then loses whatever the other side keeps sending under the replaced
one. So, as Signal does, a peer has an ordered list of sessions: the first is
the active one, which every new message is encrypted under; the others are
earlier sessions, most recently active first, kept so that messages still in
flight under them open. The session that opens a message becomes the active
one, so both sides settle on the same session as soon as either answers.

A record is a tuple of ratchet states, never empty. Its encoding is canonical
like the states inside it, and decoding checks the rules every record keeps:
at most `1 + MAX_ARCHIVED_SESSIONS` states, no two with the same `EK` (the
key that names a session in a prekey message), and all between the same two
identity keys.
"""

from crypto.constants import (
    ED25519_PUBLIC_KEY_BYTES,
    MAX_ARCHIVED_SESSIONS,
    SESSION_RECORD_VERSION,
)
from crypto.encoding import Reader, u8, u32
from crypto.errors import MalformedError, UnsupportedVersionError
from crypto.ratchet import RatchetState
from crypto.session_state import decode_state, encode_state

SessionRecord = tuple[RatchetState, ...]

MAX_SESSIONS_PER_PEER = 1 + MAX_ARCHIVED_SESSIONS


def _identity_pair(state: RatchetState) -> frozenset[bytes]:
    return frozenset((state.ad[:ED25519_PUBLIC_KEY_BYTES], state.ad[ED25519_PUBLIC_KEY_BYTES:]))


def check_record(record: SessionRecord) -> None:
    """The rules of section 5.8 that hold for every record, encoded or not."""
    if not 1 <= len(record) <= MAX_SESSIONS_PER_PEER:
        raise MalformedError(
            f"A session record holds 1 to {MAX_SESSIONS_PER_PEER} sessions, not {len(record)}."
        )
    if len({state.ek for state in record}) != len(record):
        raise MalformedError("A session record holds two sessions with the same EK.")
    pair = _identity_pair(record[0])
    if any(_identity_pair(state) != pair for state in record[1:]):
        raise MalformedError("The sessions of one record are between other identity keys.")


def promote(record: SessionRecord, index: int, state: RatchetState) -> SessionRecord:
    """The record after `record[index]` opened a message and became `state`: it is active now."""
    return (state, *record[:index], *record[index + 1 :])


def add_session(record: SessionRecord | None, state: RatchetState) -> SessionRecord:
    """The record after a new session: it is active, the oldest beyond the limit is dropped."""
    earlier = () if record is None else record
    return (state, *earlier)[:MAX_SESSIONS_PER_PEER]


def merge_records(records: list[SessionRecord]) -> SessionRecord:
    """Several records for one peer read as one (section 5.8, "Two records for one peer").

    The sessions in the order given, a session whose EK an earlier one has
    dropped, then only the first `MAX_SESSIONS_PER_PEER` kept.
    """
    merged: list[RatchetState] = []
    for record in records:
        merged += [state for state in record if all(s.ek != state.ek for s in merged)]
    result = tuple(merged[:MAX_SESSIONS_PER_PEER])
    check_record(result)
    return result


def encode_record(record: SessionRecord) -> bytes:
    check_record(record)
    parts = [u8(SESSION_RECORD_VERSION), u8(len(record))]
    for state in record:
        encoded = encode_state(state)
        parts += [u32(len(encoded)), encoded]
    return b"".join(parts)


def decode_record(data: bytes) -> SessionRecord:
    reader = Reader(data, "session record")
    version = reader.u8()
    if version != SESSION_RECORD_VERSION:
        raise UnsupportedVersionError(f"Session record version {version} is not supported.")
    count = reader.u8()
    if not 1 <= count <= MAX_SESSIONS_PER_PEER:
        raise MalformedError(f"A session record holds 1 to {MAX_SESSIONS_PER_PEER} sessions.")
    record = tuple(decode_state(reader.take(reader.u32())) for _ in range(count))
    reader.finish()
    check_record(record)
    return record
