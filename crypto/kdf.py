"""Key derivation of docs/PROTOCOL.md sections 1 and 5.1.

HKDF-SHA256 is RFC 5869 written out over the standard library's HMAC: the
extract step, then as many expand blocks as the output needs. The ratchet's
three KDFs are thin, named wrappers so the ratchet reads like Signal's
pseudocode.
"""

import hashlib
import hmac

from crypto.constants import (
    AEAD_KEY_BYTES,
    AEAD_NONCE_BYTES,
    CK_CHAIN_BYTE,
    CK_MESSAGE_BYTE,
    CTX_GROUP_MESSAGE_KEYS,
    CTX_MESSAGE_KEYS,
    CTX_ROOT_CHAIN,
    HASH_BYTES,
    MESSAGE_KEY_SALT,
)

_MAX_HKDF_OUTPUT = 255 * HASH_BYTES


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    if not 0 < length <= _MAX_HKDF_OUTPUT:
        raise ValueError("HKDF-SHA256 output must be 1 to 8160 bytes.")
    prk = hmac_sha256(salt, ikm)
    output = b""
    block = b""
    counter = 1
    while len(output) < length:
        block = hmac_sha256(prk, block + info + bytes([counter]))
        output += block
        counter += 1
    return output[:length]


def kdf_rk(rk: bytes, dh_out: bytes) -> tuple[bytes, bytes]:
    """Root chain step: (new root key, new chain key)."""
    okm = hkdf(ikm=dh_out, salt=rk, info=CTX_ROOT_CHAIN, length=64)
    return okm[:32], okm[32:]


def kdf_ck(ck: bytes) -> tuple[bytes, bytes]:
    """Symmetric chain step: (next chain key, message key)."""
    return hmac_sha256(ck, CK_CHAIN_BYTE), hmac_sha256(ck, CK_MESSAGE_BYTE)


def message_aead_key(mk: bytes) -> tuple[bytes, bytes]:
    """AEAD key and nonce of one message key."""
    okm = hkdf(
        ikm=mk,
        salt=MESSAGE_KEY_SALT,
        info=CTX_MESSAGE_KEYS,
        length=AEAD_KEY_BYTES + AEAD_NONCE_BYTES,
    )
    return okm[:AEAD_KEY_BYTES], okm[AEAD_KEY_BYTES:]


def group_message_aead_key(mk: bytes) -> tuple[bytes, bytes]:
    """AEAD key and nonce of one group message key (section 15.4): its own info string."""
    okm = hkdf(
        ikm=mk,
        salt=MESSAGE_KEY_SALT,
        info=CTX_GROUP_MESSAGE_KEYS,
        length=AEAD_KEY_BYTES + AEAD_NONCE_BYTES,
    )
    return okm[:AEAD_KEY_BYTES], okm[AEAD_KEY_BYTES:]
