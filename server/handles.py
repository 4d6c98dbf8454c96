"""Handles: the login names of docs/PROTOCOL.md section 9, never stored in the clear.

A handle is 8 symbols of Crockford's base32 alphabet, already normalised by
the client. The database keeps only HMAC-SHA256 of it under the
installation's `handle_key`, so a grep of the file for a handle finds nothing
and the index still gives a constant-time lookup. docs/SECURITY.md says what
this does and does not hide.
"""

import hashlib
import hmac
from typing import Any

from crypto.constants import CROCKFORD_ALPHABET, HANDLE_SYMBOLS
from server.errors import BadRequestError
from server.validation import string

_ALPHABET = frozenset(CROCKFORD_ALPHABET)


def parse_handle(data: dict[str, Any]) -> str:
    handle = string(data, "handle", HANDLE_SYMBOLS, min_length=HANDLE_SYMBOLS)
    if not _ALPHABET.issuperset(handle):
        raise BadRequestError(
            f"The handle must be {HANDLE_SYMBOLS} upper-case symbols of {CROCKFORD_ALPHABET}."
        )
    return handle


def handle_hash(handle_key: bytes, handle: str) -> bytes:
    return hmac.new(handle_key, handle.encode("ascii"), hashlib.sha256).digest()
