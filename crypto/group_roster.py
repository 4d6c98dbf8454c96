"""The signed roster and the signed tombstone of a group (docs/PROTOCOL.md section 15.2, 15.6).

The roster is the group's member list as the moderator signs it: the only
source of who may read and write in a group. A member accepts a roster only
when a moderator's identity key signed it, and only when it is newer than the
one it holds, so a server can neither add anyone nor roll the list back to a
version in which a removed member was still present. The first roster is
checked against the moderator key the member already trusts (from the signed
directory); every later one against the moderators of the roster held, which
pins the moderators from the first verified roster onwards.

A member's display name is not in the roster, only a salted commitment to it:
the server stores signed rosters and must learn no names, while members, who
receive each name and salt over their pairwise sessions (section 15.3), check
the name against the commitment the moderator signed.

Everything here is a pure function of bytes: decoding accepts exactly one
encoding of each roster, so a roster has one signature-checked meaning.
"""

from dataclasses import dataclass

from crypto.constants import (
    CTX_GROUP_NAME,
    CTX_GROUP_ROSTER,
    CTX_GROUP_TOMBSTONE,
    ED25519_PUBLIC_KEY_BYTES,
    GROUP_FORMAT_VERSION,
    GROUP_NAME_MAX_BYTES,
    GROUP_NAME_MAX_CHARS,
    GROUP_NAME_SALT_BYTES,
    HASH_BYTES,
    ID_BYTES,
    MAX_GROUP_MEMBERS,
    MAX_GROUP_MODERATORS,
    MAX_ROSTER_ENTRIES,
    MAX_ROSTER_VERSION,
    MEMBER_ADMITTED,
    MEMBER_LEFT,
    MEMBER_MUTED,
    MEMBER_REMOVED,
    ROSTER_FLAG_INVITE_ONLY,
    ROSTER_FLAG_PAUSED,
    SIGNATURE_BYTES,
)
from crypto.encoding import Reader, exact_bytes, u8, u32, u64
from crypto.errors import MalformedError, RosterRollbackError, UnsupportedVersionError
from crypto.kdf import hmac_sha256
from crypto.signatures import check_identity_key, sign, verify

_KNOWN_FLAGS = ROSTER_FLAG_INVITE_ONLY | ROSTER_FLAG_PAUSED
_STATES = (MEMBER_ADMITTED, MEMBER_MUTED, MEMBER_LEFT, MEMBER_REMOVED)
_GONE = (MEMBER_LEFT, MEMBER_REMOVED)


@dataclass(frozen=True)
class RosterEntry:
    member_key: bytes
    state: int
    since: int
    name_commitment: bytes


@dataclass(frozen=True)
class Roster:
    group_id: bytes
    version: int
    flags: int
    max_members: int
    moderators: tuple[bytes, ...]
    entries: tuple[RosterEntry, ...]

    def entry(self, member_key: bytes) -> RosterEntry | None:
        return next((e for e in self.entries if e.member_key == member_key), None)

    def state_of(self, member_key: bytes) -> int | None:
        entry = self.entry(member_key)
        return None if entry is None else entry.state

    @property
    def last_removal(self) -> int:
        """The latest version at which anyone left or was removed (0 if nobody has)."""
        return max((e.since for e in self.entries if e.state in _GONE), default=0)


def _check_version(value: object, what: str) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 1 <= value <= MAX_ROSTER_VERSION
    ):
        raise MalformedError(f"The {what} must be an integer from 1 to 2^53 - 1.")
    return value


def _check(roster: Roster) -> None:
    """Every rule of section 15.2 that the encoding alone does not enforce."""
    exact_bytes(roster.group_id, ID_BYTES, "group id")
    _check_version(roster.version, "roster version")
    if not isinstance(roster.flags, int) or roster.flags & ~_KNOWN_FLAGS:
        raise MalformedError("The roster has unknown flags.")
    if not isinstance(roster.max_members, int) or not 1 <= roster.max_members <= MAX_GROUP_MEMBERS:
        raise MalformedError(f"A group admits 1 to {MAX_GROUP_MEMBERS} members.")
    if not 1 <= len(roster.moderators) <= MAX_GROUP_MODERATORS:
        raise MalformedError(f"A group has 1 to {MAX_GROUP_MODERATORS} moderators.")
    for key in roster.moderators:
        check_identity_key(key)
    if len(set(roster.moderators)) != len(roster.moderators):
        raise MalformedError("A moderator is listed twice.")
    if len(roster.entries) > MAX_ROSTER_ENTRIES:
        raise MalformedError(f"A roster lists at most {MAX_ROSTER_ENTRIES} entries.")
    keys = [entry.member_key for entry in roster.entries]
    if keys != sorted(set(keys)):
        raise MalformedError("Roster entries must be sorted by member key, each key once.")
    present = 0
    for entry in roster.entries:
        check_identity_key(entry.member_key)
        if entry.state not in _STATES:
            raise MalformedError("A roster entry has an unknown state.")
        if not isinstance(entry.since, int) or not 1 <= entry.since <= roster.version:
            raise MalformedError("A roster entry's version must be from 1 to the roster's.")
        exact_bytes(entry.name_commitment, HASH_BYTES, "name commitment")
        present += entry.state in (MEMBER_ADMITTED, MEMBER_MUTED)
    if present > roster.max_members:
        raise MalformedError("The roster admits more members than its own limit.")


def encode_roster(roster: Roster) -> bytes:
    _check(roster)
    out = [
        u8(GROUP_FORMAT_VERSION),
        roster.group_id,
        u64(roster.version),
        u8(roster.flags),
        u8(roster.max_members),
        u8(len(roster.moderators)),
        *roster.moderators,
        u8(len(roster.entries)),
    ]
    for entry in roster.entries:
        out += [entry.member_key, u8(entry.state), u64(entry.since), entry.name_commitment]
    return b"".join(out)


def decode_roster(data: bytes) -> Roster:
    reader = Reader(data, "roster")
    if reader.u8() != GROUP_FORMAT_VERSION:
        raise UnsupportedVersionError()
    group_id = reader.take(ID_BYTES)
    version = reader.u64()
    flags = reader.u8()
    max_members = reader.u8()
    moderators = tuple(reader.take(ED25519_PUBLIC_KEY_BYTES) for _ in range(reader.u8()))
    entries = tuple(
        RosterEntry(
            member_key=reader.take(ED25519_PUBLIC_KEY_BYTES),
            state=reader.u8(),
            since=reader.u64(),
            name_commitment=reader.take(HASH_BYTES),
        )
        for _ in range(reader.u8())
    )
    reader.finish()
    roster = Roster(group_id, version, flags, max_members, moderators, entries)
    _check(roster)
    return roster


def sign_roster(moderator_seed: bytes, roster: Roster) -> bytes:
    """The signed roster: `roster || Sig(moderator, ctx || roster)`."""
    encoded = encode_roster(roster)
    return encoded + sign(moderator_seed, CTX_GROUP_ROSTER, encoded)


def _signed_by_a_moderator(signed: bytes, moderators: tuple[bytes, ...]) -> Roster:
    if not isinstance(signed, bytes | bytearray) or len(signed) <= SIGNATURE_BYTES:
        raise MalformedError("A signed roster is the roster followed by a 64-byte signature.")
    encoded, sig = bytes(signed[:-SIGNATURE_BYTES]), bytes(signed[-SIGNATURE_BYTES:])
    roster = decode_roster(encoded)
    for moderator in moderators:
        try:
            verify(moderator, CTX_GROUP_ROSTER, encoded, sig)
        except MalformedError:
            continue
        return roster
    raise MalformedError("The roster is not signed by the group's moderator.")


def verify_first_roster(signed: bytes, group_id: bytes, moderator_key: bytes) -> Roster:
    """A member's first roster: signed by, and naming, the moderator it already trusts."""
    roster = _signed_by_a_moderator(
        signed, (exact_bytes(moderator_key, ED25519_PUBLIC_KEY_BYTES, "moderator key"),)
    )
    if roster.group_id != group_id:
        raise MalformedError("The roster belongs to another group.")
    if moderator_key not in roster.moderators:
        raise MalformedError("The roster does not name the moderator who signed it.")
    return roster


def verify_next_roster(signed: bytes, held: Roster) -> Roster:
    """A later roster: signed by a moderator of `held`, same group, strictly newer."""
    roster = _signed_by_a_moderator(signed, held.moderators)
    if roster.group_id != held.group_id:
        raise MalformedError("The roster belongs to another group.")
    if roster.version <= held.version:
        raise RosterRollbackError()
    return roster


def check_display_name(name: str) -> bytes:
    """The UTF-8 bytes of a valid display name (section 15.3); else MalformedError."""
    if not isinstance(name, str) or not 1 <= len(name) <= GROUP_NAME_MAX_CHARS:
        raise MalformedError(f"A display name is 1 to {GROUP_NAME_MAX_CHARS} characters.")
    if (
        name[0] == " "
        or name[-1] == " "
        or any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name)
    ):
        raise MalformedError("A display name has no control characters and no outer spaces.")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedError("A display name must be valid Unicode text.") from exc
    if len(encoded) > GROUP_NAME_MAX_BYTES:
        raise MalformedError(f"A display name is at most {GROUP_NAME_MAX_BYTES} UTF-8 bytes.")
    return encoded


def name_commitment(group_id: bytes, member_key: bytes, name: str, salt: bytes) -> bytes:
    """`HMAC(salt, ctx || group_id || member_key || utf8(name))`: binds a name to a member key."""
    return hmac_sha256(
        exact_bytes(salt, GROUP_NAME_SALT_BYTES, "name salt"),
        CTX_GROUP_NAME
        + exact_bytes(group_id, ID_BYTES, "group id")
        + exact_bytes(member_key, ED25519_PUBLIC_KEY_BYTES, "member key")
        + check_display_name(name),
    )


@dataclass(frozen=True)
class Tombstone:
    """The moderator's removal of one group message, named by its sender key and iteration."""

    group_id: bytes
    sender_key: bytes
    iteration: int


def encode_tombstone(tombstone: Tombstone) -> bytes:
    return (
        u8(GROUP_FORMAT_VERSION)
        + exact_bytes(tombstone.group_id, ID_BYTES, "group id")
        + exact_bytes(tombstone.sender_key, ED25519_PUBLIC_KEY_BYTES, "sender key")
        + u32(tombstone.iteration)
    )


_TOMBSTONE_BYTES = 1 + ID_BYTES + ED25519_PUBLIC_KEY_BYTES + 4
_SIGNED_TOMBSTONE_BYTES = _TOMBSTONE_BYTES + SIGNATURE_BYTES


def sign_tombstone(moderator_seed: bytes, tombstone: Tombstone) -> bytes:
    encoded = encode_tombstone(tombstone)
    return encoded + sign(moderator_seed, CTX_GROUP_TOMBSTONE, encoded)


def verify_tombstone(signed: bytes, roster: Roster) -> Tombstone:
    """A tombstone signed by a moderator of `roster`, for `roster`'s group."""
    if not isinstance(signed, bytes | bytearray) or len(signed) != _SIGNED_TOMBSTONE_BYTES:
        raise MalformedError(f"A signed tombstone is {_SIGNED_TOMBSTONE_BYTES} bytes.")
    reader = Reader(bytes(signed), "tombstone")
    if reader.u8() != GROUP_FORMAT_VERSION:
        raise UnsupportedVersionError()
    tombstone = Tombstone(
        reader.take(ID_BYTES), reader.take(ED25519_PUBLIC_KEY_BYTES), reader.u32()
    )
    sig = reader.take(SIGNATURE_BYTES)
    reader.finish()
    if tombstone.group_id != roster.group_id:
        raise MalformedError("The tombstone belongs to another group.")
    encoded = bytes(signed[:_TOMBSTONE_BYTES])
    for moderator in roster.moderators:
        try:
            verify(moderator, CTX_GROUP_TOMBSTONE, encoded, sig)
        except MalformedError:
            continue
        return tombstone
    raise MalformedError("The tombstone is not signed by the group's moderator.")
