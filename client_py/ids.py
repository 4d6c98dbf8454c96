"""Random identifiers (docs/PROTOCOL.md section 1: 16 random bytes, b64u)."""

import secrets

from crypto.constants import ID_BYTES
from crypto.encoding import b64u_encode


def new_id() -> str:
    return b64u_encode(secrets.token_bytes(ID_BYTES))
