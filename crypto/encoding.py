"""Strict byte encodings of docs/PROTOCOL.md section 1.

`b64u` is base64url without padding. The decoder accepts exactly one spelling
of each value: no padding, no whitespace, no characters outside the alphabet,
no non-zero trailing bits. A value has a single encoding, so the server can
compare and index encoded identifiers, and nobody can smuggle two spellings of
one key past a check.

Integers are unsigned big-endian. `Reader` walks a byte string field by field
and turns every short read into `MalformedError`.

`terminal_text` is the one rule for printing text that someone else chose (a
peer's message, a therapist's profile) to a terminal, used by the Python
client's CLI and by the server's admin commands alike.
"""

import base64
import binascii
import unicodedata

from crypto.errors import MalformedError

# base64url to the standard alphabet for binascii's strict decoder. "+", "/"
# and padding are not canonical base64url, so they become "!", which the
# decoder refuses.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")


def exact_bytes(value: object, length: int, what: str) -> bytes:
    """`value` as bytes when it is a byte string of exactly `length` bytes; else MalformedError.

    The one check behind every fixed-size key, nonce and identifier, so that
    each refusal says the same thing: what was expected and how long it must be.
    """
    if not isinstance(value, bytes | bytearray) or len(value) != length:
        raise MalformedError(f"The {what} must be {length} bytes.")
    return bytes(value)


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_length(byte_count: int) -> int:
    """Number of characters that encode `byte_count` bytes."""
    full, rest = divmod(byte_count, 3)
    return 4 * full + (rest + 1 if rest else 0)


def b64u_decode(text: str, length: int | None = None, max_length: int | None = None) -> bytes:
    """Decode strictly; `length` is the exact and `max_length` the largest decoded size."""
    if not isinstance(text, str):
        raise MalformedError("Expected a base64url string.")
    # Checked on the text first so that an oversized input is refused unread.
    if length is not None and len(text) != b64u_length(length):
        raise MalformedError(f"Expected base64url of exactly {length} bytes.")
    if max_length is not None and len(text) > b64u_length(max_length):
        raise MalformedError(f"Expected base64url of at most {max_length} bytes.")
    if len(text) % 4 == 1:
        raise MalformedError("Not canonical unpadded base64url.")
    try:
        standard = text.encode("ascii").translate(_TO_STANDARD) + b"=" * (-len(text) % 4)
        data = binascii.a2b_base64(standard, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(
            "Not canonical unpadded base64url: use only A-Z a-z 0-9 - and _."
        ) from exc
    # The last character may carry bits beyond the data; they must be zero,
    # or two spellings would decode to the same bytes.
    tail = len(data) % 3
    if tail and b64u_encode(data[-tail:])[-1] != text[-1]:
        raise MalformedError("Not canonical base64url: the trailing bits must be zero.")
    return data


def _uint(value: int, size: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << (8 * size):
        raise MalformedError(f"Expected an unsigned integer of {8 * size} bits.")
    return value.to_bytes(size, "big")


def u8(value: int) -> bytes:
    return _uint(value, 1)


def u16(value: int) -> bytes:
    return _uint(value, 2)


def u32(value: int) -> bytes:
    return _uint(value, 4)


def u64(value: int) -> bytes:
    return _uint(value, 8)


class Reader:
    """Sequential reader over bytes; every short or trailing read is MalformedError."""

    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MalformedError(f"The {what} must be bytes.")
        self._data = bytes(data)
        self._offset = 0
        self._what = what

    def take(self, count: int) -> bytes:
        end = self._offset + count
        if end > len(self._data):
            raise MalformedError(f"The {self._what} is too short.")
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def rest(self) -> bytes:
        chunk = self._data[self._offset :]
        self._offset = len(self._data)
        return chunk

    def remaining(self) -> int:
        return len(self._data) - self._offset

    def finish(self) -> None:
        if self._offset != len(self._data):
            raise MalformedError(f"The {self._what} has trailing bytes.")


# Bidirectional overrides and isolates: they can make a line read in another
# order than it is written.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def terminal_text(text: str, *, keep: str = "\n\t") -> str:
    """Text someone else chose, made safe to print to a terminal.

    Control characters (escape sequences could recolour, move the cursor,
    retitle the window or fake other lines) and bidi overrides are replaced by
    U+FFFD; only the characters in `keep` survive (newline and tab by default;
    a one-line field passes `keep=""`). JSON output needs none of this: JSON
    escapes every control character.
    """
    return "".join(
        "\ufffd"
        if (unicodedata.category(char) == "Cc" and char not in keep) or char in _BIDI_CONTROLS
        else char
        for char in text
    )
