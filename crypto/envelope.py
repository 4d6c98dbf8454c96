"""Envelope and ratchet-header framing (docs/PROTOCOL.md sections 5.1 and 7).

Framing only, no cryptography: the server calls `parse` to refuse a malformed
envelope before storing it, and the client calls it before decrypting. A
parsed envelope re-encodes to exactly the bytes it came from.
"""

from dataclasses import dataclass

from crypto.constants import (
    AEAD_TAG_BYTES,
    BUCKETS,
    ED25519_PUBLIC_KEY_BYTES,
    ENVELOPE_TYPE_MESSAGE,
    ENVELOPE_TYPE_PREKEY,
    ENVELOPE_VERSION,
    HEADER_BYTES,
    MAX_ENVELOPE,
    MLKEM_CIPHERTEXT_BYTES,
    X25519_KEY_BYTES,
)
from crypto.encoding import Reader, exact_bytes, u8, u32
from crypto.errors import MalformedError, UnsupportedVersionError

_CIPHERTEXT_LENGTHS = frozenset(bucket + AEAD_TAG_BYTES for bucket in BUCKETS)


def _check_ciphertext(ciphertext: bytes) -> None:
    if not isinstance(ciphertext, bytes) or len(ciphertext) not in _CIPHERTEXT_LENGTHS:
        raise MalformedError("The ciphertext length must be a padding bucket plus 16.")


@dataclass(frozen=True)
class Header:
    """Ratchet header `dh (32) || u32(pn) || u32(n)`."""

    dh: bytes
    pn: int
    n: int

    def encode(self) -> bytes:
        exact_bytes(self.dh, X25519_KEY_BYTES, "ratchet public key")
        return self.dh + u32(self.pn) + u32(self.n)

    @staticmethod
    def parse(data: bytes) -> "Header":
        reader = Reader(data, "ratchet header")
        header = Header(reader.take(X25519_KEY_BYTES), reader.u32(), reader.u32())
        reader.finish()
        return header


@dataclass(frozen=True)
class MessageEnvelope:
    """Type 2: a ratchet message inside an established session."""

    header: Header
    ciphertext: bytes

    def encode(self) -> bytes:
        _check_ciphertext(self.ciphertext)
        return (
            u8(ENVELOPE_VERSION)
            + u8(ENVELOPE_TYPE_MESSAGE)
            + self.header.encode()
            + self.ciphertext
        )


@dataclass(frozen=True)
class PrekeyEnvelope:
    """Type 1: the initiator's messages until the responder answers (section 4)."""

    identity_key: bytes
    ephemeral_key: bytes
    spk_id: int
    opk_id: int
    pq_id: int
    kem_ciphertext: bytes
    header: Header
    ciphertext: bytes

    def encode(self) -> bytes:
        exact_bytes(self.identity_key, ED25519_PUBLIC_KEY_BYTES, "identity key")
        exact_bytes(self.ephemeral_key, X25519_KEY_BYTES, "ephemeral key")
        exact_bytes(self.kem_ciphertext, MLKEM_CIPHERTEXT_BYTES, "KEM ciphertext")
        if self.spk_id == 0 or self.pq_id == 0:
            raise MalformedError("The signed prekey and pq prekey ids must be non-zero.")
        _check_ciphertext(self.ciphertext)
        return (
            u8(ENVELOPE_VERSION)
            + u8(ENVELOPE_TYPE_PREKEY)
            + self.identity_key
            + self.ephemeral_key
            + u32(self.spk_id)
            + u32(self.opk_id)
            + u32(self.pq_id)
            + self.kem_ciphertext
            + self.header.encode()
            + self.ciphertext
        )

    def inner(self) -> MessageEnvelope:
        """The ratchet message carried inside, as a type-2 envelope would carry it."""
        return MessageEnvelope(self.header, self.ciphertext)


Envelope = PrekeyEnvelope | MessageEnvelope


def parse(data: bytes) -> Envelope:
    """Check the framing of section 7 and split an envelope into its fields."""
    if not isinstance(data, bytes | bytearray):
        raise MalformedError("An envelope must be bytes.")
    if len(data) < 2:
        raise MalformedError("An envelope is at least 2 bytes.")
    if len(data) > MAX_ENVELOPE:
        raise MalformedError(f"An envelope is at most {MAX_ENVELOPE} bytes.")
    reader = Reader(bytes(data), "envelope")
    version = reader.u8()
    if version != ENVELOPE_VERSION:
        raise UnsupportedVersionError(f"Envelope version {version} is not supported.")
    kind = reader.u8()
    if kind == ENVELOPE_TYPE_PREKEY:
        identity_key = reader.take(ED25519_PUBLIC_KEY_BYTES)
        ephemeral_key = reader.take(X25519_KEY_BYTES)
        spk_id, opk_id, pq_id = reader.u32(), reader.u32(), reader.u32()
        kem_ciphertext = reader.take(MLKEM_CIPHERTEXT_BYTES)
        header = Header.parse(reader.take(HEADER_BYTES))
        ciphertext = reader.rest()
        _check_ciphertext(ciphertext)
        if spk_id == 0 or pq_id == 0:
            raise MalformedError("The signed prekey and pq prekey ids must be non-zero.")
        return PrekeyEnvelope(
            identity_key, ephemeral_key, spk_id, opk_id, pq_id, kem_ciphertext, header, ciphertext
        )
    if kind == ENVELOPE_TYPE_MESSAGE:
        header = Header.parse(reader.take(HEADER_BYTES))
        ciphertext = reader.rest()
        _check_ciphertext(ciphertext)
        return MessageEnvelope(header, ciphertext)
    raise MalformedError(f"Envelope type {kind} is not known.")


def encode(envelope: Envelope) -> bytes:
    return envelope.encode()
