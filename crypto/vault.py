"""Account secret, derived keys and vault item encryption (docs/PROTOCOL.md 9 and 10).

The account secret is 24 Crockford base32 symbols: an 8-symbol handle the
server knows and a 16-symbol passphrase that never leaves the device. Argon2id
of the passphrase, salted by the handle, gives `master`; HKDF splits it into
the independent `vault_key` and `login_key`.
"""

import hashlib
import secrets
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions

from crypto.constants import (
    AEAD_KEY_BYTES,
    AEAD_NONCE_BYTES,
    AEAD_TAG_BYTES,
    ARGON2_MEMLIMIT,
    ARGON2_OPSLIMIT,
    ARGON2_OUTPUT_BYTES,
    ARGON2_SALT_BYTES,
    CROCKFORD_ALPHABET,
    CTX_ARGON2_SALT,
    CTX_LOGIN_KEY,
    CTX_VAULT_ITEM,
    CTX_VAULT_KEY,
    HANDLE_SYMBOLS,
    ID_BYTES,
    MAX_VAULT_ITEM,
    SECRET_GROUP,
    SECRET_SYMBOLS,
    VAULT_BLOB_VERSION,
    VAULT_KEY_SALT,
    VAULT_MIN_PADDED,
)
from crypto.encoding import exact_bytes, u8, u64
from crypto.errors import MalformedError, TamperedError, UnsupportedVersionError
from crypto.kdf import hkdf
from crypto.padding import vpad, vunpad

_READ_AS = {"O": "0", "I": "1", "L": "1"}
_SEPARATORS = frozenset("- \t\r\n")


@dataclass(frozen=True)
class AccountSecret:
    """A normalised account secret: handle (8 symbols) and passphrase (16 symbols)."""

    handle: str
    passphrase: str

    def formatted(self) -> str:
        """Six groups of four, as shown to the person: HHHH-HHHH-PPPP-PPPP-PPPP-PPPP."""
        symbols = self.handle + self.passphrase
        return "-".join(
            symbols[i : i + SECRET_GROUP] for i in range(0, SECRET_SYMBOLS, SECRET_GROUP)
        )


def generate_secret() -> AccountSecret:
    symbols = "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(SECRET_SYMBOLS))
    return AccountSecret(symbols[:HANDLE_SYMBOLS], symbols[HANDLE_SYMBOLS:])


def normalise_secret(text: str) -> AccountSecret:
    """Upper-case, drop '-' and whitespace, read O as 0 and I, L as 1; then 24 symbols."""
    # Only ASCII is upper-cased, so that Unicode case rules (which differ
    # between languages and runtimes) can never map a character to a symbol.
    if not isinstance(text, str) or not text.isascii():
        raise MalformedError("An account secret is 24 symbols of 0-9 and A-Z, with dashes.")
    symbols = "".join(_READ_AS.get(char, char) for char in text.upper() if char not in _SEPARATORS)
    if len(symbols) != SECRET_SYMBOLS or not set(symbols) <= set(CROCKFORD_ALPHABET):
        raise MalformedError(
            "An account secret is 24 symbols of 0-9 and A-Z without I, L, O and U; "
            "check it for typing mistakes."
        )
    return AccountSecret(symbols[:HANDLE_SYMBOLS], symbols[HANDLE_SYMBOLS:])


def argon2_salt(handle: str) -> bytes:
    digest = hashlib.sha256(CTX_ARGON2_SALT + handle.encode("ascii")).digest()
    return digest[:ARGON2_SALT_BYTES]


@dataclass(frozen=True)
class KdfCost:
    """Argon2id's cost. Section 9 fixes it; only a test suite passes a lower one.

    A lower cost derives other keys from the same secret, so an account made
    with it opens with that cost only: it is a parameter of this library call
    and of the Python client's API, never of the server or the CLI's options.
    """

    opslimit: int = ARGON2_OPSLIMIT
    memlimit: int = ARGON2_MEMLIMIT


PROTOCOL_KDF_COST = KdfCost()


def derive_master(secret: AccountSecret, cost: KdfCost = PROTOCOL_KDF_COST) -> bytes:
    return nacl.bindings.crypto_pwhash_alg(
        ARGON2_OUTPUT_BYTES,
        secret.passphrase.encode("ascii"),
        argon2_salt(secret.handle),
        cost.opslimit,
        cost.memlimit,
        nacl.bindings.crypto_pwhash_ALG_ARGON2ID13,
    )


@dataclass(frozen=True)
class AccountKeys:
    vault_key: bytes
    login_key: bytes


def keys_from_master(master: bytes) -> AccountKeys:
    return AccountKeys(
        vault_key=hkdf(ikm=master, salt=VAULT_KEY_SALT, info=CTX_VAULT_KEY, length=32),
        login_key=hkdf(ikm=master, salt=VAULT_KEY_SALT, info=CTX_LOGIN_KEY, length=32),
    )


def derive_keys(secret: AccountSecret, cost: KdfCost = PROTOCOL_KDF_COST) -> AccountKeys:
    return keys_from_master(derive_master(secret, cost))


def _item_ad(item_id: bytes, version: int) -> bytes:
    exact_bytes(item_id, ID_BYTES, "vault item id")
    encoded_version = u64(version)
    if version < 1:
        raise MalformedError("A vault item version starts at 1.")
    return CTX_VAULT_ITEM + item_id + encoded_version


def encrypt_item(
    vault_key: bytes, item_id: bytes, version: int, item: bytes, nonce: bytes | None = None
) -> bytes:
    """blob = 0x01 || nonce || AEAD(vault_key, nonce, ad(id, version), vpad(item))."""
    exact_bytes(vault_key, AEAD_KEY_BYTES, "vault key")
    nonce = secrets.token_bytes(AEAD_NONCE_BYTES) if nonce is None else nonce
    exact_bytes(nonce, AEAD_NONCE_BYTES, "vault nonce")
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        vpad(item), _item_ad(item_id, version), nonce, vault_key
    )
    return u8(VAULT_BLOB_VERSION) + nonce + sealed


def decrypt_item(vault_key: bytes, item_id: bytes, version: int, blob: bytes) -> bytes:
    exact_bytes(vault_key, AEAD_KEY_BYTES, "vault key")
    if not isinstance(blob, bytes) or not blob:
        raise MalformedError("A vault blob is non-empty bytes.")
    if blob[0] != VAULT_BLOB_VERSION:
        raise UnsupportedVersionError(f"Vault blob version {blob[0]} is not supported.")
    sealed_length = len(blob) - 1 - AEAD_NONCE_BYTES - AEAD_TAG_BYTES
    if sealed_length < VAULT_MIN_PADDED or sealed_length > MAX_VAULT_ITEM:
        raise MalformedError("A vault blob has the wrong length.")
    nonce = blob[1 : 1 + AEAD_NONCE_BYTES]
    try:
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            blob[1 + AEAD_NONCE_BYTES :], _item_ad(item_id, version), nonce, vault_key
        )
    except nacl.exceptions.CryptoError as exc:
        raise TamperedError(
            "The vault item does not open: it was changed, swapped or is not the current version."
        ) from exc
    return vunpad(padded)


def rekey_item(
    old_key: bytes,
    new_key: bytes,
    item_id: bytes,
    base: int,
    blob: bytes,
    nonce: bytes | None = None,
) -> bytes:
    """An item re-encrypted for a change of the account secret (docs/PROTOCOL.md 9.1).

    The blob stored at version `base` under `old_key` becomes the same padded
    plaintext sealed under `new_key` for version `base + 1`: the switch to the
    new keys is a write like any other, so it advances every item's version
    and no device can take a blob of one key for the current one of the other.
    """
    return encrypt_item(
        new_key, item_id, base + 1, decrypt_item(old_key, item_id, base, blob), nonce
    )
