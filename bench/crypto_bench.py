"""Cost of the Double Ratchet per message, relative to the bare AEAD it wraps.

`run(duration_s)` measures, in one process and one run, ratchet encryption
and decryption of a padded payload (key derivation, header, AEAD) against a
single XChaCha20-Poly1305 call on the same padded bytes, and reports seconds
per message and the ratios. Ratios, not absolute times, are what stay
comparable between machines. Nothing here asserts: performance is observed,
not tested.
"""

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import nacl.bindings

from crypto import payload, ratchet
from crypto.keys import generate_x25519
from crypto.padding import pad
from crypto.ratchet import RatchetState

BODY_SIZES = (100, 12000)


def _pair() -> tuple[RatchetState, RatchetState]:
    """A sender and a receiver sharing a fresh root key, as after PQXDH."""
    sk, ad, ek = os.urandom(32), os.urandom(64), os.urandom(32)
    spk = generate_x25519()
    sender = ratchet.init_sender(sk, ad, ek, spk.public, None)
    receiver = ratchet.init_receiver(sk, ad, ek, spk)
    return sender, receiver


def _timed(budget_s: float, step: Callable[[], None]) -> tuple[int, float]:
    count, start = 0, time.perf_counter()
    deadline = start + budget_s
    while True:
        step()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count, now - start


def _measure(body_size: int, budget_s: float) -> dict[str, Any]:
    plaintext = pad(payload.encode_text(os.urandom(16), int(time.time()), "x" * body_size))
    sender, receiver = _pair()
    sent: list[tuple[Any, bytes]] = []

    def encrypt_one() -> None:
        nonlocal sender
        sender, header, ciphertext = ratchet.encrypt(sender, plaintext)
        sent.append((header, ciphertext))

    encrypted, encrypt_s = _timed(budget_s, encrypt_one)
    queue = iter(sent)

    def decrypt_one() -> None:
        nonlocal receiver
        header, ciphertext = next(queue)
        receiver, _ = ratchet.decrypt(receiver, header, ciphertext)

    decrypt_start = time.perf_counter()
    for _ in range(encrypted):
        decrypt_one()
    decrypt_s = time.perf_counter() - decrypt_start

    key, nonce, ad = os.urandom(32), os.urandom(24), os.urandom(104)
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)
    aead_encrypted, aead_encrypt_s = _timed(
        budget_s,
        lambda: nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key),
    )
    aead_decrypted, aead_decrypt_s = _timed(
        budget_s,
        lambda: nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, ad, nonce, key),
    )
    ratchet_encrypt = encrypt_s / encrypted
    ratchet_decrypt = decrypt_s / encrypted
    aead_encrypt = aead_encrypt_s / aead_encrypted
    aead_decrypt = aead_decrypt_s / aead_decrypted
    return {
        "padded_bytes": len(plaintext),
        "messages": encrypted,
        "ratchet_encrypt_s": ratchet_encrypt,
        "ratchet_decrypt_s": ratchet_decrypt,
        "aead_encrypt_s": aead_encrypt,
        "aead_decrypt_s": aead_decrypt,
        "encrypt_ratio": ratchet_encrypt / aead_encrypt,
        "decrypt_ratio": ratchet_decrypt / aead_decrypt,
    }


def run(duration_s: float) -> dict[str, Any]:
    """Ratchet vs raw AEAD per message, for a short and a long text message."""
    # Each size gets three timed phases (ratchet encrypt, AEAD encrypt, AEAD
    # decrypt); ratchet decryption replays the encrypted messages.
    budget = duration_s / (4 * len(BODY_SIZES))
    return {
        "name": "crypto",
        "duration_s": duration_s,
        "results": [_measure(size, budget) for size in BODY_SIZES],
    }


if __name__ == "__main__":
    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0), indent=1))
