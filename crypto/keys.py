"""Key pairs of docs/PROTOCOL.md sections 1 to 3.

The identity key is Ed25519 from a 32-byte seed; its X25519 form comes from
libsodium's conversion. X25519 private keys are kept as the 32 random bytes
`crypto_box_keypair` makes (X25519 clamps them when used). An ML-KEM-768
private key is kept as its 64-byte seed.

Python's `bytes` are immutable and may be copied by the runtime, so key
material cannot be reliably wiped from memory here; this package keeps secrets
in as few objects as it can and drops references as soon as a key is
replaced, which is all the language allows.
"""

import secrets
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey

from crypto.constants import (
    ED25519_SEED_BYTES,
    MLKEM_CIPHERTEXT_BYTES,
    MLKEM_PUBLIC_KEY_BYTES,
    MLKEM_SEED_BYTES,
    PREKEY_ID_MAX,
    X25519_KEY_BYTES,
)
from crypto.encoding import exact_bytes
from crypto.errors import MalformedError
from crypto.signatures import (
    ONE_TIME_PREKEY,
    PQ_PREKEY,
    SIGNED_PREKEY,
    check_identity_key,
    sign_prekey,
)


@dataclass(frozen=True)
class KeyPair:
    """An X25519 key pair."""

    private: bytes
    public: bytes


def x25519_from_private(private: bytes) -> KeyPair:
    private = exact_bytes(private, X25519_KEY_BYTES, "X25519 private key")
    return KeyPair(private, nacl.bindings.crypto_scalarmult_base(private))


def generate_x25519() -> KeyPair:
    public, private = nacl.bindings.crypto_box_keypair()
    return KeyPair(private, public)


def dh(private: bytes, public: bytes) -> bytes:
    """X25519; a low-order peer key (all-zero output) is MalformedError."""
    private = exact_bytes(private, X25519_KEY_BYTES, "X25519 private key")
    public = exact_bytes(public, X25519_KEY_BYTES, "X25519 public key")
    try:
        shared = nacl.bindings.crypto_scalarmult(private, public)
    except nacl.exceptions.CryptoError as exc:
        raise MalformedError("The X25519 public key is of low order.") from exc
    if shared == bytes(X25519_KEY_BYTES):
        raise MalformedError("The X25519 public key is of low order.")
    return shared


def ed25519_public_to_x25519(identity_key: bytes) -> bytes:
    check_identity_key(identity_key)
    return nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(bytes(identity_key))


@dataclass(frozen=True)
class IdentityKeyPair:
    """The account's Ed25519 key pair and its X25519 form (section 2)."""

    seed: bytes
    public: bytes
    dh_private: bytes
    dh_public: bytes

    @staticmethod
    def from_seed(seed: bytes) -> "IdentityKeyPair":
        seed = exact_bytes(seed, ED25519_SEED_BYTES, "identity seed")
        public, secret = nacl.bindings.crypto_sign_seed_keypair(seed)
        return IdentityKeyPair(
            seed=seed,
            public=public,
            dh_private=nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(secret),
            dh_public=nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public),
        )

    @staticmethod
    def generate() -> "IdentityKeyPair":
        return IdentityKeyPair.from_seed(secrets.token_bytes(ED25519_SEED_BYTES))


def mlkem_public_key(seed: bytes) -> bytes:
    seed = exact_bytes(seed, MLKEM_SEED_BYTES, "ML-KEM seed")
    return MLKEM768PrivateKey.from_seed_bytes(seed).public_key().public_bytes_raw()


def mlkem_encapsulate(public_key: bytes) -> tuple[bytes, bytes]:
    """KEM.Encaps: (ciphertext, shared secret)."""
    public_key = exact_bytes(public_key, MLKEM_PUBLIC_KEY_BYTES, "ML-KEM public key")
    try:
        shared, ciphertext = MLKEM768PublicKey.from_public_bytes(public_key).encapsulate()
    except ValueError as exc:
        raise MalformedError("The ML-KEM public key is not valid.") from exc
    return ciphertext, shared


def mlkem_decapsulate(seed: bytes, ciphertext: bytes) -> bytes:
    """KEM.Decaps; ML-KEM's implicit rejection turns a bad ciphertext into a wrong secret."""
    seed = exact_bytes(seed, MLKEM_SEED_BYTES, "ML-KEM seed")
    ciphertext = exact_bytes(ciphertext, MLKEM_CIPHERTEXT_BYTES, "ML-KEM ciphertext")
    return MLKEM768PrivateKey.from_seed_bytes(seed).decapsulate(ciphertext)


def new_prekey_id(taken: set[int] | frozenset[int] = frozenset()) -> int:
    """A random non-zero u32 not in `taken`."""
    while True:
        prekey_id = secrets.randbelow(PREKEY_ID_MAX) + 1
        if prekey_id not in taken:
            return prekey_id


@dataclass(frozen=True)
class SignedX25519Prekey:
    """A signed or one-time prekey: id, key pair and the identity key's signature."""

    id: int
    private: bytes
    public: bytes
    sig: bytes


@dataclass(frozen=True)
class SignedKemPrekey:
    id: int
    seed: bytes
    public: bytes
    sig: bytes


def make_signed_prekey(
    identity_seed: bytes, prekey_id: int, private: bytes | None = None
) -> SignedX25519Prekey:
    pair = generate_x25519() if private is None else x25519_from_private(private)
    sig = sign_prekey(identity_seed, SIGNED_PREKEY, prekey_id, pair.public)
    return SignedX25519Prekey(prekey_id, pair.private, pair.public, sig)


def make_one_time_prekey(
    identity_seed: bytes, prekey_id: int, private: bytes | None = None
) -> SignedX25519Prekey:
    pair = generate_x25519() if private is None else x25519_from_private(private)
    sig = sign_prekey(identity_seed, ONE_TIME_PREKEY, prekey_id, pair.public)
    return SignedX25519Prekey(prekey_id, pair.private, pair.public, sig)


def make_pq_prekey(
    identity_seed: bytes, prekey_id: int, seed: bytes | None = None
) -> SignedKemPrekey:
    seed = secrets.token_bytes(MLKEM_SEED_BYTES) if seed is None else seed
    public = mlkem_public_key(seed)
    sig = sign_prekey(identity_seed, PQ_PREKEY, prekey_id, public)
    return SignedKemPrekey(prekey_id, bytes(seed), public, sig)
