"""Safety numbers (docs/PROTOCOL.md section 8), after Signal's displayable fingerprint v0.

Each party's 30 digits come from 5200 iterations of SHA-512 over its identity
key and account id; the safety number is both halves, sorted, so both ends
show the same 60 digits.
"""

import hashlib

from crypto.constants import (
    ED25519_PUBLIC_KEY_BYTES,
    ID_BYTES,
    SAFETY_CHUNK_MODULUS,
    SAFETY_CHUNKS,
    SAFETY_FINGERPRINT_VERSION,
    SAFETY_ITERATIONS,
)
from crypto.encoding import exact_bytes, u16


def fingerprint(identity_key: bytes, account_id: bytes) -> str:
    """One party's 30 decimal digits."""
    exact_bytes(identity_key, ED25519_PUBLIC_KEY_BYTES, "identity key")
    exact_bytes(account_id, ID_BYTES, "account id")
    digest = hashlib.sha512(u16(SAFETY_FINGERPRINT_VERSION) + identity_key + account_id).digest()
    for _ in range(SAFETY_ITERATIONS):
        digest = hashlib.sha512(digest + identity_key).digest()
    return "".join(
        f"{int.from_bytes(digest[5 * i : 5 * i + 5], 'big') % SAFETY_CHUNK_MODULUS:05d}"
        for i in range(SAFETY_CHUNKS)
    )


def safety_number(
    identity_key_a: bytes, account_a: bytes, identity_key_b: bytes, account_b: bytes
) -> str:
    """The 60-digit number both parties compare."""
    halves = sorted(
        [fingerprint(identity_key_a, account_a), fingerprint(identity_key_b, account_b)]
    )
    return "".join(halves)


def format_safety_number(number: str) -> str:
    """Twelve groups of five digits separated by spaces."""
    return " ".join(number[i : i + 5] for i in range(0, len(number), 5))
