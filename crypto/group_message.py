"""Framing of a group message (docs/PROTOCOL.md section 15.4).

A group message is `header || ciphertext || signature`; the header names the
group, the roster version it was sent under, the sender key and the
iteration. Everything here checks shape and the sender key's signature, which
anyone can verify and which reveals nothing of the content, so the server may
use it to refuse malformed or unsigned messages before storing them. Opening
the ciphertext is crypto/sender_key.py's work.
"""

from dataclasses import dataclass

from crypto.constants import (
    AEAD_TAG_BYTES,
    BUCKETS,
    CTX_GROUP_MESSAGE,
    ED25519_PUBLIC_KEY_BYTES,
    GROUP_FORMAT_VERSION,
    GROUP_HEADER_BYTES,
    GROUP_MESSAGE_TYPE,
    ID_BYTES,
    MAX_GROUP_MESSAGE,
    MAX_ROSTER_VERSION,
    SIGNATURE_BYTES,
)
from crypto.encoding import Reader, exact_bytes, u8, u32, u64
from crypto.errors import MalformedError, UnsupportedVersionError
from crypto.signatures import verify


@dataclass(frozen=True)
class GroupHeader:
    group_id: bytes
    roster_version: int
    sender_key: bytes
    iteration: int

    def encode(self) -> bytes:
        if not 1 <= self.roster_version <= MAX_ROSTER_VERSION:
            raise MalformedError("A roster version is from 1 to 2^53 - 1.")
        return (
            u8(GROUP_FORMAT_VERSION)
            + u8(GROUP_MESSAGE_TYPE)
            + exact_bytes(self.group_id, ID_BYTES, "group id")
            + u64(self.roster_version)
            + exact_bytes(self.sender_key, ED25519_PUBLIC_KEY_BYTES, "sender key")
            + u32(self.iteration)
        )


@dataclass(frozen=True)
class GroupMessage:
    header: GroupHeader
    ciphertext: bytes
    signature: bytes

    @property
    def signed_part(self) -> bytes:
        return self.header.encode() + self.ciphertext


def parse_group_message(data: bytes) -> GroupMessage:
    """Split a group message into its fields; MalformedError for any wrong shape."""
    if not isinstance(data, bytes | bytearray) or not 2 <= len(data) <= MAX_GROUP_MESSAGE:
        raise MalformedError(f"A group message is 2 to {MAX_GROUP_MESSAGE} bytes.")
    reader = Reader(bytes(data), "group message")
    if reader.u8() != GROUP_FORMAT_VERSION:
        raise UnsupportedVersionError()
    if reader.u8() != GROUP_MESSAGE_TYPE:
        raise MalformedError("This is not a group message.")
    if len(data) < GROUP_HEADER_BYTES + SIGNATURE_BYTES:
        raise MalformedError("The group message is too short.")
    group_id = reader.take(ID_BYTES)
    roster_version = reader.u64()
    if not 1 <= roster_version <= MAX_ROSTER_VERSION:
        raise MalformedError("A roster version is from 1 to 2^53 - 1.")
    header = GroupHeader(
        group_id, roster_version, reader.take(ED25519_PUBLIC_KEY_BYTES), reader.u32()
    )
    ciphertext = reader.take(reader.remaining() - SIGNATURE_BYTES)
    if len(ciphertext) - AEAD_TAG_BYTES not in BUCKETS:
        raise MalformedError("A group message's ciphertext is a padding bucket plus the tag.")
    signature = reader.take(SIGNATURE_BYTES)
    reader.finish()
    return GroupMessage(header, ciphertext, signature)


def verify_group_message(data: bytes) -> GroupMessage:
    """Parse and check the sender key's signature over header and ciphertext."""
    message = parse_group_message(data)
    verify(message.header.sender_key, CTX_GROUP_MESSAGE, message.signed_part, message.signature)
    return message
