"""Ed25519 signatures over domain-separated messages (docs/PROTOCOL.md 2, 3, 9, 11).

Every signed message is `context || data`, where `context` is one of the
`CTX_*` strings of section 12 and `data` is fixed-length fields (or, for a
profile, the profile bytes). The functions the server needs:

- `verify(identity_key, context, data, sig)`: raises `MalformedError` for a bad
  key, a signature of the wrong length or one that does not verify.
- `check_identity_key(pk)`: raises `MalformedError` unless `pk` is an Ed25519
  key that libsodium's X25519 conversion accepts.
- `verify_prekey(identity_key, kind, prekey_id, key, sig)` with `kind` one of
  `SIGNED_PREKEY`, `PQ_PREKEY`, `ONE_TIME_PREKEY`: checks the id (non-zero
  u32), the key length and the signature over `ctx || u32(id) || key`.
- `verify_profile(identity_key, profile_bytes, sig)`.
- `verify_registration(identity_key, server_id, handle, sig)`: `handle` is the
  8-symbol normalised handle string.
- `verify_websocket_auth(identity_key, server_id, nonce, account_id, sig)`.

The matching `*_data` builders return the `data` part, and `sign(seed,
context, data)` makes the 64-byte detached signature a client sends.
"""

from enum import Enum

import nacl.bindings
import nacl.exceptions

from crypto.constants import (
    CROCKFORD_ALPHABET,
    CTX_GROUP_LISTING,
    CTX_ONE_TIME_PREKEY,
    CTX_PQ_PREKEY,
    CTX_PROFILE,
    CTX_REGISTER,
    CTX_SIGNED_PREKEY,
    CTX_WEBSOCKET_AUTH,
    ED25519_PUBLIC_KEY_BYTES,
    ED25519_SEED_BYTES,
    HANDLE_SYMBOLS,
    ID_BYTES,
    MLKEM_PUBLIC_KEY_BYTES,
    SERVER_ID_BYTES,
    SIGNATURE_BYTES,
    WS_NONCE_BYTES,
    X25519_KEY_BYTES,
)
from crypto.encoding import exact_bytes, u32
from crypto.errors import MalformedError


class PrekeyKind(Enum):
    SIGNED_PREKEY = (CTX_SIGNED_PREKEY, X25519_KEY_BYTES)
    PQ_PREKEY = (CTX_PQ_PREKEY, MLKEM_PUBLIC_KEY_BYTES)
    ONE_TIME_PREKEY = (CTX_ONE_TIME_PREKEY, X25519_KEY_BYTES)

    @property
    def context(self) -> bytes:
        return self.value[0]

    @property
    def key_length(self) -> int:
        return self.value[1]


SIGNED_PREKEY = PrekeyKind.SIGNED_PREKEY
PQ_PREKEY = PrekeyKind.PQ_PREKEY
ONE_TIME_PREKEY = PrekeyKind.ONE_TIME_PREKEY


def check_identity_key(pk: bytes) -> None:
    """Reject anything that is not a usable Ed25519 public key (section 2)."""
    key = exact_bytes(pk, ED25519_PUBLIC_KEY_BYTES, "identity key")
    try:
        nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(key)
    except nacl.exceptions.CryptoError as exc:
        raise MalformedError("The identity key is not a valid Ed25519 public key.") from exc


def sign(seed: bytes, context: bytes, data: bytes) -> bytes:
    """Detached Ed25519 signature by the key pair of `seed` over `context || data`."""
    seed = exact_bytes(seed, ED25519_SEED_BYTES, "identity seed")
    _public, secret = nacl.bindings.crypto_sign_seed_keypair(seed)
    return nacl.bindings.crypto_sign(context + data, secret)[:SIGNATURE_BYTES]


def verify(identity_key: bytes, context: bytes, data: bytes, sig: bytes) -> None:
    """Raise MalformedError unless `sig` is `identity_key`'s signature of `context || data`."""
    check_identity_key(identity_key)
    sig = exact_bytes(sig, SIGNATURE_BYTES, "signature")
    if not isinstance(data, bytes | bytearray):
        raise MalformedError("The signed data must be bytes.")
    try:
        nacl.bindings.crypto_sign_open(sig + context + bytes(data), bytes(identity_key))
    except nacl.exceptions.CryptoError as exc:
        raise MalformedError("The signature does not verify.") from exc


def prekey_data(kind: PrekeyKind, prekey_id: int, key: bytes) -> bytes:
    if not isinstance(prekey_id, int) or isinstance(prekey_id, bool) or prekey_id == 0:
        raise MalformedError("A prekey id must be a non-zero 32-bit unsigned integer.")
    return u32(prekey_id) + exact_bytes(key, kind.key_length, "prekey")


def verify_prekey(
    identity_key: bytes, kind: PrekeyKind, prekey_id: int, key: bytes, sig: bytes
) -> None:
    verify(identity_key, kind.context, prekey_data(kind, prekey_id, key), sig)


def sign_prekey(seed: bytes, kind: PrekeyKind, prekey_id: int, key: bytes) -> bytes:
    return sign(seed, kind.context, prekey_data(kind, prekey_id, key))


def verify_profile(identity_key: bytes, profile_bytes: bytes, sig: bytes) -> None:
    verify(identity_key, CTX_PROFILE, profile_bytes, sig)


def verify_group_listing(identity_key: bytes, listing_bytes: bytes, sig: bytes) -> None:
    verify(identity_key, CTX_GROUP_LISTING, listing_bytes, sig)


def sign_group_listing(seed: bytes, listing_bytes: bytes) -> bytes:
    return sign(seed, CTX_GROUP_LISTING, listing_bytes)


def registration_data(server_id: bytes, handle: str) -> bytes:
    server_id = exact_bytes(server_id, SERVER_ID_BYTES, "server id")
    if (
        not isinstance(handle, str)
        or len(handle) != HANDLE_SYMBOLS
        or not set(handle) <= set(CROCKFORD_ALPHABET)
    ):
        raise MalformedError(
            f"The handle must be {HANDLE_SYMBOLS} normalised Crockford base32 symbols."
        )
    return server_id + handle.encode("ascii")


def verify_registration(identity_key: bytes, server_id: bytes, handle: str, sig: bytes) -> None:
    verify(identity_key, CTX_REGISTER, registration_data(server_id, handle), sig)


def websocket_auth_data(server_id: bytes, nonce: bytes, account_id: bytes) -> bytes:
    return (
        exact_bytes(server_id, SERVER_ID_BYTES, "server id")
        + exact_bytes(nonce, WS_NONCE_BYTES, "challenge nonce")
        + exact_bytes(account_id, ID_BYTES, "account id")
    )


def verify_websocket_auth(
    identity_key: bytes, server_id: bytes, nonce: bytes, account_id: bytes, sig: bytes
) -> None:
    verify(identity_key, CTX_WEBSOCKET_AUTH, websocket_auth_data(server_id, nonce, account_id), sig)
