"""Envelopes encrypted ahead of time, so that no measured loop pays for encryption.

Each one is a real type-2 envelope from a Double Ratchet chain (crypto.ratchet
over a text payload padded to the 1024-byte bucket): what a client sends for a
message of a few hundred characters. The ratchet starts from a random shared
key, as after PQXDH; the relay cannot tell the difference, and nobody decrypts
these.
"""

import os
import time

from crypto import payload, ratchet
from crypto.encoding import b64u_encode
from crypto.envelope import MessageEnvelope
from crypto.keys import generate_x25519
from crypto.padding import pad

BODY_CHARS = 700  # pads to the 1024-byte bucket: a 1082-byte envelope


def encrypted_envelopes(count: int, body_chars: int = BODY_CHARS) -> list[bytes]:
    """`count` consecutive messages of one fresh ratchet chain, framed as envelopes."""
    state = ratchet.init_sender(
        os.urandom(32), os.urandom(64), os.urandom(32), generate_x25519().public, None
    )
    out = []
    for _ in range(count):
        text = payload.encode_text(os.urandom(16), int(time.time()), "m" * body_chars)
        state, header, ciphertext = ratchet.encrypt(state, pad(text))
        out.append(MessageEnvelope(header, ciphertext).encode())
    return out


def encoded_pool(count: int) -> list[str]:
    """The same, as the b64u text a `send` frame carries."""
    return [b64u_encode(env) for env in encrypted_envelopes(count)]
