"""Checks on decoded JSON: types, sizes and counts, each failure a documented error.

A missing field or one of the wrong JSON type is `bad_request`; a binary field
that is not canonical base64url of the right length is `malformed`; a binary
field over its limit is `too_large`. The message names the field so that a
client developer can fix the request.
"""

import json
from typing import Any

from crypto.constants import ID_BYTES
from crypto.encoding import b64u_decode, b64u_length
from crypto.errors import MalformedError
from server.errors import BadRequestError, MalformedApiError, TooLargeError

SQLITE_INT_MAX = 2**63 - 1


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Made once: json.loads with a hook builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity; any failure is `bad_request`."""
    try:
        return _DECODER.decode(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (ValueError, RecursionError):
        raise BadRequestError("The body is not valid JSON.") from None


def require_object(value: Any, what: str = "The request") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestError(f"{what} must be a JSON object.")
    return value


def required(data: dict[str, Any], name: str) -> Any:
    if name not in data:
        raise BadRequestError(f"The field {name!r} is missing.")
    return data[name]


def string(data: dict[str, Any], name: str, max_length: int, *, min_length: int = 0) -> str:
    value = required(data, name)
    if not isinstance(value, str):
        raise BadRequestError(f"The field {name!r} must be a string.")
    if not min_length <= len(value) <= max_length:
        raise BadRequestError(
            f"The field {name!r} must be {min_length} to {max_length} characters long."
        )
    return value


def integer(data: dict[str, Any], name: str, minimum: int, maximum: int) -> int:
    value = required(data, name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequestError(f"The field {name!r} must be an integer.")
    if not minimum <= value <= maximum:
        raise BadRequestError(f"The field {name!r} must be between {minimum} and {maximum}.")
    return value


def array(data: dict[str, Any], name: str, max_items: int) -> list[Any]:
    value = required(data, name)
    if not isinstance(value, list):
        raise BadRequestError(f"The field {name!r} must be an array.")
    if len(value) > max_items:
        raise TooLargeError(f"The field {name!r} has more than {max_items} entries.")
    return value


def decode_b64u(
    value: Any, name: str, length: int | None = None, max_length: int | None = None
) -> bytes:
    if not isinstance(value, str):
        raise BadRequestError(f"The field {name!r} must be a base64url string.")
    if max_length is not None and len(value) > b64u_length(max_length):
        raise TooLargeError(f"The field {name!r} is larger than {max_length} bytes.")
    try:
        return b64u_decode(value, length=length)
    except MalformedError:
        expected = f"of exactly {length} bytes" if length is not None else ""
        raise MalformedApiError(
            f"The field {name!r} must be unpadded base64url {expected}".rstrip() + "."
        ) from None


def binary(
    data: dict[str, Any], name: str, length: int | None = None, max_length: int | None = None
) -> bytes:
    return decode_b64u(required(data, name), name, length, max_length)


def identifier(data: dict[str, Any], name: str) -> bytes:
    return binary(data, name, ID_BYTES)
