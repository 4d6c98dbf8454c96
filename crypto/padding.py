"""Padding of docs/PROTOCOL.md sections 6 and 10 (ISO/IEC 7816-4, as libsodium's sodium_pad).

`pad` hides a message's length among five bucket sizes; `vpad` hides a vault
item's length to the next power of two. Both append `0x80` and zero bytes, so
unpadding is unambiguous for any content.
"""

from crypto.constants import BUCKETS, MAX_PLAINTEXT, MAX_VAULT_ITEM, PAD_MARKER, VAULT_MIN_PADDED
from crypto.errors import MalformedError


def _iso_pad(data: bytes, size: int) -> bytes:
    return bytes(data) + bytes([PAD_MARKER]) + bytes(size - len(data) - 1)


def _iso_unpad(padded: bytes) -> bytes:
    stripped = padded.rstrip(b"\x00")
    if not stripped or stripped[-1] != PAD_MARKER:
        raise MalformedError("The padding is not valid.")
    return stripped[:-1]


def bucket_for(length: int) -> int:
    """The smallest bucket that holds `length` bytes plus the padding marker."""
    if length > MAX_PLAINTEXT:
        raise MalformedError(f"A payload is at most {MAX_PLAINTEXT} bytes.")
    return next(bucket for bucket in BUCKETS if bucket >= length + 1)


def pad(payload: bytes) -> bytes:
    if not isinstance(payload, bytes | bytearray):
        raise MalformedError("A payload must be bytes.")
    return _iso_pad(payload, bucket_for(len(payload)))


def unpad(padded: bytes) -> bytes:
    if not isinstance(padded, bytes | bytearray) or len(padded) not in BUCKETS:
        raise MalformedError("A padded payload must be exactly one of the bucket sizes.")
    return _iso_unpad(bytes(padded))


def vault_size_for(length: int) -> int:
    """The smallest power of two, at least 256, that holds `length` bytes plus the marker."""
    size = VAULT_MIN_PADDED
    while size < length + 1:
        size *= 2
    if size > MAX_VAULT_ITEM:
        raise MalformedError(f"A vault item is at most {MAX_VAULT_ITEM - 1} bytes.")
    return size


def vpad(item: bytes) -> bytes:
    if not isinstance(item, bytes | bytearray):
        raise MalformedError("A vault item must be bytes.")
    return _iso_pad(item, vault_size_for(len(item)))


def vunpad(padded: bytes) -> bytes:
    if not isinstance(padded, bytes | bytearray):
        raise MalformedError("A padded vault item must be bytes.")
    size = len(padded)
    if size < VAULT_MIN_PADDED or size > MAX_VAULT_ITEM or size & (size - 1):
        raise MalformedError("A padded vault item must be a power of two from 256 to 1 MiB.")
    return _iso_unpad(bytes(padded))
