"""Byte encoding of one member's group state (docs/PROTOCOL.md section 15.8).

A member's `GroupState` lives in its vault like a ratchet session
(section 5.7). The encoding is canonical: counts are bounded by the
protocol's limits, the orders that decide eviction (sender keys and skipped
keys, oldest first) are kept, nothing appears twice, and a decoded state
re-encodes to the same bytes. The roster inside was verified when it was
accepted; the vault's authenticated encryption keeps it as it was.
"""

from crypto.constants import (
    ED25519_PUBLIC_KEY_BYTES,
    ED25519_SEED_BYTES,
    GROUP_STATE_VERSION,
    HASH_BYTES,
    MAX_ROSTER_ENTRIES,
    MAX_ROSTER_VERSION,
    SENDER_KEY_MAX_ITERATION,
    SENDER_KEY_MAX_SKIPPED,
    SENDER_KEYS_PER_MEMBER,
)
from crypto.encoding import Reader, u8, u16, u32, u64
from crypto.errors import MalformedError, UnsupportedVersionError
from crypto.group_roster import check_display_name, decode_roster, encode_roster
from crypto.sender_key import GroupState, OwnSenderKey, ReceivedSenderKey, signing_public_key

_MAX_RECEIVED = MAX_ROSTER_ENTRIES * SENDER_KEYS_PER_MEMBER
# An iteration counter reaches 2^32 once the last message of a chain is sent.
_MAX_COUNTER = SENDER_KEY_MAX_ITERATION + 1


def _check_counter(value: int, what: str) -> int:
    if not 0 <= value <= _MAX_COUNTER:
        raise MalformedError(f"The {what} is out of range.")
    return value


def encode_group_state(state: GroupState) -> bytes:
    if len(state.received) > _MAX_RECEIVED or len(state.names) > MAX_ROSTER_ENTRIES:
        raise MalformedError("The group state holds more keys than the protocol allows.")
    roster = encode_roster(state.roster)
    parts = [
        u8(GROUP_STATE_VERSION),
        state.member_seed,
        u64(state.removal_floor),
        u16(len(roster)),
        roster,
    ]
    own = state.own
    if own is None:
        parts.append(u8(0))
    else:
        parts += [
            u8(1),
            own.signing_seed,
            own.chain_key,
            u64(_check_counter(own.iteration, "iteration")),
            u64(own.roster_version),
            u64(own.created),
        ]
    parts.append(u16(len(state.received)))
    for record in state.received.values():
        if len(record.skipped) > SENDER_KEY_MAX_SKIPPED:
            raise MalformedError("A sender key holds more skipped keys than the protocol allows.")
        parts += [
            record.member_key,
            record.sender_key,
            u64(record.roster_version),
            record.chain_key,
            u64(_check_counter(record.iteration, "iteration")),
            u16(len(record.skipped)),
        ]
        for iteration, key in record.skipped.items():
            parts += [u32(iteration), key]
    parts.append(u8(len(state.names)))
    for member_key, name in state.names.items():
        encoded = check_display_name(name)
        parts += [member_key, u8(len(encoded)), encoded]
    return b"".join(parts)


def decode_group_state(data: bytes) -> GroupState:
    reader = Reader(data, "group state")
    if reader.u8() != GROUP_STATE_VERSION:
        raise UnsupportedVersionError()
    member_seed = reader.take(ED25519_SEED_BYTES)
    removal_floor = reader.u64()
    roster = decode_roster(reader.take(reader.u16()))
    if removal_floor > roster.version:
        raise MalformedError("The removal floor is above the roster's version.")
    flag = reader.u8()
    if flag not in (0, 1):
        raise MalformedError("The own sender key flag is 0 or 1.")
    own = None
    if flag:
        own = OwnSenderKey(
            signing_seed=(seed := reader.take(ED25519_SEED_BYTES)),
            sender_key=signing_public_key(seed),
            chain_key=reader.take(HASH_BYTES),
            iteration=_check_counter(reader.u64(), "iteration"),
            roster_version=reader.u64(),
            created=reader.u64(),
        )
        if not 1 <= own.roster_version <= roster.version or own.created > MAX_ROSTER_VERSION:
            raise MalformedError("The own sender key's version or time is out of range.")
    count = reader.u16()
    if count > _MAX_RECEIVED:
        raise MalformedError("The group state holds more sender keys than the protocol allows.")
    received: dict[bytes, ReceivedSenderKey] = {}
    for _ in range(count):
        record = ReceivedSenderKey(
            member_key=reader.take(ED25519_PUBLIC_KEY_BYTES),
            sender_key=reader.take(ED25519_PUBLIC_KEY_BYTES),
            roster_version=reader.u64(),
            chain_key=reader.take(HASH_BYTES),
            iteration=_check_counter(reader.u64(), "iteration"),
        )
        if not max(1, removal_floor) <= record.roster_version <= roster.version:
            raise MalformedError("A sender key's roster version is out of range.")
        skipped_count = reader.u16()
        if skipped_count > SENDER_KEY_MAX_SKIPPED:
            raise MalformedError("A sender key holds more skipped keys than the protocol allows.")
        for _ in range(skipped_count):
            iteration = reader.u32()
            if iteration >= record.iteration or iteration in record.skipped:
                raise MalformedError("A skipped key's iteration is repeated or not skipped.")
            record.skipped[iteration] = reader.take(HASH_BYTES)
        if record.sender_key in received:
            raise MalformedError("A sender key is stored twice.")
        received[record.sender_key] = record
    names: dict[bytes, str] = {}
    for _ in range(reader.u8()):
        member_key = reader.take(ED25519_PUBLIC_KEY_BYTES)
        raw = reader.take(reader.u8())
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedError("A display name must be UTF-8.") from exc
        if check_display_name(name) != raw or member_key in names:
            raise MalformedError("A display name is invalid or stored twice.")
        names[member_key] = name
    reader.finish()
    return GroupState(
        member_seed=member_seed,
        member_key=signing_public_key(member_seed),
        roster=roster,
        removal_floor=removal_floor,
        own=own,
        received=received,
        names=names,
    )
