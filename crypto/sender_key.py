"""Sender keys for group messages (docs/PROTOCOL.md sections 15.3 to 15.5).

In the manner of Signal's Sender Keys: each member has, per group, a sender
key made of a chain key, hash-ratcheted with the Double Ratchet's `KDF_CK`,
and an Ed25519 signing key whose public half names the sender key. The member
sends the chain key and the public signing key to each other member once, in a
`SenderKeyDistributionMessage` over their pairwise session; afterwards one
ciphertext serves the whole group, and each receiver advances its copy of the
chain. Every message is signed by the sender key, so no member who holds the
chain key can write in another member's name.

Who may send and receive is decided by the moderator's signed roster
(crypto/group_roster.py) alone. A member distributes only to the roster's
members and accepts distributions and messages only from them, so a member
the server slips in never receives a key. When a roster shows that someone
left or was removed, every sender key made before that version is stale: the
member makes a new one and distributes it to those who remain, and receivers
refuse anything under the old ones.

As in crypto/ratchet.py, no function changes the `GroupState` it is given: it
works on a copy and returns it, so an exception always leaves the group as it
was, and the caller stores the new state only once the message is handled.
Randomness (`signing_seed`, `chain_key`) is injectable for the vectors.
"""

import secrets
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions

from crypto.constants import (
    CTX_GROUP_MESSAGE,
    CTX_GROUP_SENDER_KEY,
    ED25519_PUBLIC_KEY_BYTES,
    ED25519_SEED_BYTES,
    GROUP_FORMAT_VERSION,
    GROUP_NAME_SALT_BYTES,
    HASH_BYTES,
    ID_BYTES,
    MEMBER_ADMITTED,
    MEMBER_MUTED,
    SENDER_KEY_MAX_ITERATION,
    SENDER_KEY_MAX_SKIP,
    SENDER_KEY_MAX_SKIPPED,
    SENDER_KEY_ROTATE_SECONDS,
    SENDER_KEYS_PER_MEMBER,
    SIGNATURE_BYTES,
)
from crypto.encoding import Reader, exact_bytes, u8, u32, u64
from crypto.errors import (
    MalformedError,
    MissingSenderKeyError,
    NotAMemberError,
    ReplayedError,
    RosterOutdatedError,
    StaleSenderKeyError,
    TamperedError,
    TooFarSkippedError,
    UnsupportedVersionError,
)
from crypto.group_message import GroupHeader, verify_group_message
from crypto.group_roster import (
    Roster,
    check_display_name,
    name_commitment,
    verify_first_roster,
    verify_next_roster,
)
from crypto.kdf import group_message_aead_key, kdf_ck
from crypto.padding import pad, unpad
from crypto.signatures import check_identity_key, sign, verify

_PRESENT = (MEMBER_ADMITTED, MEMBER_MUTED)


def signing_public_key(seed: bytes) -> bytes:
    """The Ed25519 public key of a 32-byte seed (a member key or a sender key)."""
    public, _secret = nacl.bindings.crypto_sign_seed_keypair(
        exact_bytes(seed, ED25519_SEED_BYTES, "signing seed")
    )
    return bytes(public)


@dataclass(frozen=True)
class OwnSenderKey:
    """This member's sending chain: `iteration` is the one the next message uses."""

    signing_seed: bytes
    sender_key: bytes
    chain_key: bytes
    iteration: int
    roster_version: int
    created: int


@dataclass
class ReceivedSenderKey:
    """Another member's chain as this member holds it; `iteration` is the next expected."""

    member_key: bytes
    sender_key: bytes
    roster_version: int
    chain_key: bytes
    iteration: int
    skipped: dict[int, bytes] = field(default_factory=dict)

    def copy(self) -> "ReceivedSenderKey":
        return ReceivedSenderKey(
            self.member_key,
            self.sender_key,
            self.roster_version,
            self.chain_key,
            self.iteration,
            dict(self.skipped),
        )


@dataclass
class GroupState:
    """One member's view of one group (section 15.5)."""

    member_seed: bytes
    member_key: bytes
    roster: Roster
    removal_floor: int
    own: OwnSenderKey | None = None
    received: dict[bytes, ReceivedSenderKey] = field(default_factory=dict)
    names: dict[bytes, str] = field(default_factory=dict)

    def copy(self) -> "GroupState":
        return GroupState(
            member_seed=self.member_seed,
            member_key=self.member_key,
            roster=self.roster,
            removal_floor=self.removal_floor,
            own=self.own,
            received={key: record.copy() for key, record in self.received.items()},
            names=dict(self.names),
        )


@dataclass(frozen=True)
class SenderKeyDistributionMessage:
    group_id: bytes
    roster_version: int
    member_key: bytes
    sender_key: bytes
    iteration: int
    chain_key: bytes
    name_salt: bytes
    name: str

    def encode(self) -> bytes:
        name = check_display_name(self.name)
        return (
            u8(GROUP_FORMAT_VERSION)
            + exact_bytes(self.group_id, ID_BYTES, "group id")
            + u64(self.roster_version)
            + exact_bytes(self.member_key, ED25519_PUBLIC_KEY_BYTES, "member key")
            + exact_bytes(self.sender_key, ED25519_PUBLIC_KEY_BYTES, "sender key")
            + u32(self.iteration)
            + exact_bytes(self.chain_key, HASH_BYTES, "chain key")
            + exact_bytes(self.name_salt, GROUP_NAME_SALT_BYTES, "name salt")
            + u8(len(name))
            + name
        )


@dataclass(frozen=True)
class GroupPlaintext:
    """An opened group message: who sent it (member key), which message it is, the payload."""

    member_key: bytes
    sender_key: bytes
    iteration: int
    payload: bytes


def _present(roster: Roster, member_key: bytes) -> bool:
    return roster.state_of(member_key) in _PRESENT


def join(
    signed_roster: bytes, group_id: bytes, moderator_key: bytes, member_seed: bytes
) -> GroupState:
    """A member's first state: the roster is checked against the moderator it trusts."""
    member_key = signing_public_key(member_seed)
    roster = verify_first_roster(signed_roster, group_id, moderator_key)
    if not _present(roster, member_key):
        raise NotAMemberError("The roster does not admit this member key.")
    return GroupState(
        member_seed=bytes(member_seed),
        member_key=member_key,
        roster=roster,
        removal_floor=roster.last_removal,
    )


def accept_roster(state: GroupState, signed_roster: bytes) -> GroupState:
    """Adopt a newer signed roster; drop every received key it makes unusable."""
    roster = verify_next_roster(signed_roster, state.roster)
    new = state.copy()
    new.roster = roster
    new.removal_floor = max(state.removal_floor, roster.last_removal)
    # Keys of members no longer present, and keys made before a removal, can
    # never open an acceptable message again: deleting them keeps their chain
    # keys out of any later compromise of this device.
    new.received = {
        key: record
        for key, record in new.received.items()
        if _present(roster, record.member_key) and record.roster_version >= new.removal_floor
    }
    new.names = {key: name for key, name in new.names.items() if roster.entry(key) is not None}
    return new


def recipients(state: GroupState) -> list[bytes]:
    """The member keys a sender key is distributed to: the roster's members but this one."""
    return [
        entry.member_key
        for entry in state.roster.entries
        if entry.state in _PRESENT and entry.member_key != state.member_key
    ]


def needs_rotation(state: GroupState, now: int) -> bool:
    """Whether this member must make (and distribute) a new sender key before sending."""
    own = state.own
    return (
        own is None
        or own.roster_version < state.removal_floor
        or own.iteration > SENDER_KEY_MAX_ITERATION
        or now - own.created >= SENDER_KEY_ROTATE_SECONDS
    )


def create_sender_key(
    state: GroupState,
    now: int,
    signing_seed: bytes | None = None,
    chain_key: bytes | None = None,
) -> GroupState:
    """A fresh sender key at the held roster's version, replacing this member's own."""
    if not _present(state.roster, state.member_key):
        raise NotAMemberError()
    seed = secrets.token_bytes(ED25519_SEED_BYTES) if signing_seed is None else signing_seed
    new = state.copy()
    new.own = OwnSenderKey(
        signing_seed=exact_bytes(seed, ED25519_SEED_BYTES, "signing seed"),
        sender_key=signing_public_key(seed),
        chain_key=exact_bytes(
            secrets.token_bytes(HASH_BYTES) if chain_key is None else chain_key,
            HASH_BYTES,
            "chain key",
        ),
        iteration=0,
        roster_version=state.roster.version,
        created=now,
    )
    return new


def distribution_message(state: GroupState, name: str, name_salt: bytes) -> bytes:
    """This member's current sender key, signed by its member key, for every recipient."""
    own = state.own
    if own is None:
        raise MalformedError("There is no sender key to distribute: create one first.")
    body = SenderKeyDistributionMessage(
        group_id=state.roster.group_id,
        roster_version=own.roster_version,
        member_key=state.member_key,
        sender_key=own.sender_key,
        iteration=own.iteration,
        chain_key=own.chain_key,
        name_salt=name_salt,
        name=name,
    ).encode()
    return body + sign(state.member_seed, CTX_GROUP_SENDER_KEY, body)


def parse_distribution(data: bytes) -> SenderKeyDistributionMessage:
    """Shape only; `process_distribution` checks the signature and the roster."""
    reader = Reader(data, "sender key distribution")
    if reader.u8() != GROUP_FORMAT_VERSION:
        raise UnsupportedVersionError()
    group_id = reader.take(ID_BYTES)
    roster_version = reader.u64()
    member_key = reader.take(ED25519_PUBLIC_KEY_BYTES)
    sender_key = reader.take(ED25519_PUBLIC_KEY_BYTES)
    iteration = reader.u32()
    chain_key = reader.take(HASH_BYTES)
    name_salt = reader.take(GROUP_NAME_SALT_BYTES)
    name_bytes = reader.take(reader.u8())
    reader.take(SIGNATURE_BYTES)
    reader.finish()
    try:
        name = name_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError("A display name must be UTF-8.") from exc
    message = SenderKeyDistributionMessage(
        group_id, roster_version, member_key, sender_key, iteration, chain_key, name_salt, name
    )
    if message.encode() != bytes(data[:-SIGNATURE_BYTES]):
        raise MalformedError("The sender key distribution is not in its canonical form.")
    return message


def process_distribution(state: GroupState, data: bytes) -> GroupState:
    """Store another member's sender key after checking it against the held roster."""
    message = parse_distribution(data)
    if message.group_id != state.roster.group_id:
        raise MalformedError("The sender key belongs to another group.")
    if message.member_key == state.member_key:
        raise MalformedError("A member does not receive its own sender key.")
    entry = state.roster.entry(message.member_key)
    if entry is None or entry.state not in _PRESENT:
        raise NotAMemberError("The sender key comes from a key the roster does not admit.")
    verify(
        message.member_key,
        CTX_GROUP_SENDER_KEY,
        bytes(data[:-SIGNATURE_BYTES]),
        data[-SIGNATURE_BYTES:],
    )
    if message.roster_version > state.roster.version:
        raise RosterOutdatedError()
    if message.roster_version < state.removal_floor:
        raise StaleSenderKeyError()
    commitment = name_commitment(
        message.group_id, message.member_key, message.name, message.name_salt
    )
    if commitment != entry.name_commitment:
        raise MalformedError("The display name does not match the group's signed roster.")
    check_identity_key(message.sender_key)
    if message.sender_key in state.received:
        raise ReplayedError()
    new = state.copy()
    own_keys = [k for k, r in new.received.items() if r.member_key == message.member_key]
    for key in own_keys[: max(0, len(own_keys) - SENDER_KEYS_PER_MEMBER + 1)]:
        del new.received[key]
    new.received[message.sender_key] = ReceivedSenderKey(
        member_key=message.member_key,
        sender_key=message.sender_key,
        roster_version=message.roster_version,
        chain_key=message.chain_key,
        iteration=message.iteration,
    )
    new.names[message.member_key] = message.name
    return new


def _seal(mk: bytes, plaintext: bytes, ad: bytes) -> bytes:
    key, nonce = group_message_aead_key(mk)
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)


def _open(mk: bytes, ciphertext: bytes, ad: bytes) -> bytes:
    key, nonce = group_message_aead_key(mk)
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key)
    except nacl.exceptions.CryptoError as exc:
        raise TamperedError() from exc


def group_encrypt(state: GroupState, payload: bytes) -> tuple[GroupState, bytes]:
    """Encrypt `payload` once for the whole group: (new state, group message)."""
    own = state.own
    if own is None:
        raise MalformedError("There is no sender key yet: create and distribute one first.")
    if state.roster.state_of(state.member_key) != MEMBER_ADMITTED:
        raise NotAMemberError()
    if own.roster_version < state.removal_floor or own.iteration > SENDER_KEY_MAX_ITERATION:
        raise StaleSenderKeyError("This sender key must be replaced before sending.")
    header = GroupHeader(state.roster.group_id, state.roster.version, own.sender_key, own.iteration)
    encoded = header.encode()
    next_chain, mk = kdf_ck(own.chain_key)
    ciphertext = _seal(mk, pad(payload), encoded)
    signature = sign(own.signing_seed, CTX_GROUP_MESSAGE, encoded + ciphertext)
    new = state.copy()
    new.own = OwnSenderKey(
        own.signing_seed,
        own.sender_key,
        next_chain,
        own.iteration + 1,
        own.roster_version,
        own.created,
    )
    return new, encoded + ciphertext + signature


def _message_key(record: ReceivedSenderKey, iteration: int) -> bytes:
    """The key of `iteration`, skipping (and storing) the keys before it; updates `record`."""
    if iteration < record.iteration:
        mk = record.skipped.pop(iteration, None)
        if mk is None:
            raise ReplayedError()
        return mk
    if iteration - record.iteration > SENDER_KEY_MAX_SKIP:
        raise TooFarSkippedError()
    while record.iteration < iteration:
        record.chain_key, skipped = kdf_ck(record.chain_key)
        record.skipped[record.iteration] = skipped
        if len(record.skipped) > SENDER_KEY_MAX_SKIPPED:
            del record.skipped[next(iter(record.skipped))]
        record.iteration += 1
    record.chain_key, mk = kdf_ck(record.chain_key)
    record.iteration += 1
    return mk


def group_decrypt(state: GroupState, data: bytes) -> tuple[GroupState, GroupPlaintext]:
    """Open a group message, in the order of section 15.5: (new state, plaintext)."""
    message = verify_group_message(data)
    header = message.header
    if header.group_id != state.roster.group_id:
        raise MalformedError("The message belongs to another group.")
    if header.roster_version > state.roster.version:
        raise RosterOutdatedError()
    if header.roster_version < state.removal_floor:
        raise StaleSenderKeyError()
    held = state.received.get(header.sender_key)
    if held is None:
        raise MissingSenderKeyError()
    if state.roster.state_of(held.member_key) != MEMBER_ADMITTED:
        raise NotAMemberError("The roster does not let this member send now.")
    if header.roster_version < held.roster_version:
        raise MalformedError("The message names a roster older than its sender key.")
    new = state.copy()
    record = new.received[header.sender_key]
    mk = _message_key(record, header.iteration)
    payload = unpad(_open(mk, message.ciphertext, header.encode()))
    return new, GroupPlaintext(held.member_key, header.sender_key, header.iteration, payload)
