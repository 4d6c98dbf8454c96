"""The JSON payload inside a ratchet message (docs/PROTOCOL.md section 6).

`encode_text` and `encode_receipt` write the compact form both
implementations produce (keys in the order of the document, no spaces, UTF-8
without escapes). `parse` accepts any JSON spelling, checks the fields of the
types it knows and returns other types unchecked, so that a receiver can
ignore them as the protocol asks.
"""

import json
from typing import Any

from crypto.constants import (
    ED25519_PUBLIC_KEY_BYTES,
    GROUP_DISTRIBUTION_MAX_BYTES,
    GROUP_NAME_SALT_BYTES,
    GROUP_NOTE_MAX_CHARS,
    ID_BYTES,
    MAX_BODY_CHARS,
    MAX_GROUP_LISTING_BYTES,
    MAX_PLAINTEXT,
    PAYLOAD_VERSION,
    SIGNATURE_BYTES,
)
from crypto.encoding import b64u_decode, b64u_encode, exact_bytes
from crypto.errors import MalformedError, UnsupportedVersionError
from crypto.group_roster import check_display_name

RECEIPT_STATES = ("delivered", "read")
# Integers a JavaScript number holds exactly, so both implementations agree.
_MAX_SAFE_INTEGER = 2**53 - 1


def _dump(value: dict[str, Any]) -> bytes:
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    encoded = data.encode("utf-8")
    if len(encoded) > MAX_PLAINTEXT:
        raise MalformedError(f"A payload is at most {MAX_PLAINTEXT} bytes.")
    return encoded


def _check_body(body: Any) -> str:
    # Characters are Unicode code points; a lone surrogate is not text.
    if not isinstance(body, str) or len(body) > MAX_BODY_CHARS:
        raise MalformedError(f"A message body is text of at most {MAX_BODY_CHARS} characters.")
    try:
        body.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedError("A message body must be valid Unicode text.") from exc
    return body


def _check_sent(sent: Any) -> int:
    if not isinstance(sent, int) or isinstance(sent, bool) or not 0 <= sent <= _MAX_SAFE_INTEGER:
        raise MalformedError("`sent` is a non-negative whole number of unix seconds.")
    return sent


def _check_id(value: Any) -> str:
    b64u_decode(value, ID_BYTES)
    return value


def encode_text(message_id: bytes, sent: int, body: str) -> bytes:
    exact_bytes(message_id, ID_BYTES, "message id")
    return _dump(
        {
            "v": PAYLOAD_VERSION,
            "type": "text",
            "id": b64u_encode(message_id),
            "sent": _check_sent(sent),
            "body": _check_body(body),
        }
    )


def encode_receipt(state: str, message_ids: list[bytes]) -> bytes:
    if state not in RECEIPT_STATES:
        raise MalformedError("A receipt state is 'delivered' or 'read'.")
    if not message_ids:
        raise MalformedError("A receipt lists one or more message ids.")
    for message_id in message_ids:
        exact_bytes(message_id, ID_BYTES, "message id")
    return _dump(
        {
            "v": PAYLOAD_VERSION,
            "type": "receipt",
            "state": state,
            "ids": [b64u_encode(i) for i in message_ids],
        }
    )


def _check_note(note: Any) -> str:
    if not isinstance(note, str) or len(note) > GROUP_NOTE_MAX_CHARS:
        raise MalformedError(f"A join note is text of at most {GROUP_NOTE_MAX_CHARS} characters.")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedError("A join note must be valid Unicode text.") from exc
    return note


def _check_name(name: Any) -> str:
    check_display_name(name)
    return str(name)


def _check_group_key(key: Any) -> str:
    b64u_decode(key, max_length=GROUP_DISTRIBUTION_MAX_BYTES)
    return str(key)


def _check_key(value: Any, length: int) -> None:
    b64u_decode(value, length)


def _check_group_join(value: dict[str, Any]) -> None:
    _check_id(value.get("group"))
    _check_key(value.get("member_key"), ED25519_PUBLIC_KEY_BYTES)
    _check_name(value.get("name"))
    _check_key(value.get("salt"), GROUP_NAME_SALT_BYTES)
    _check_note(value.get("note"))


def encode_group_key(distribution: bytes) -> bytes:
    """A SenderKeyDistributionMessage (section 15.3) as the pairwise session carries it."""
    if not isinstance(distribution, bytes | bytearray):
        raise MalformedError("A sender key distribution must be bytes.")
    key = b64u_encode(bytes(distribution))
    return _dump({"v": PAYLOAD_VERSION, "type": "group_key", "key": _check_group_key(key)})


def _check_group_listing(value: dict[str, Any]) -> None:
    listing: Any = value.get("listing")
    b64u_decode(listing, max_length=MAX_GROUP_LISTING_BYTES)
    _check_key(value.get("sig"), SIGNATURE_BYTES)


def encode_group_listing(listing: bytes, sig: bytes) -> bytes:
    """A private group's signed listing, from its moderator to a member (section 15.7)."""
    value = {
        "v": PAYLOAD_VERSION,
        "type": "group_listing",
        "listing": b64u_encode(bytes(listing)),
        "sig": b64u_encode(exact_bytes(sig, SIGNATURE_BYTES, "listing signature")),
    }
    _check_group_listing(value)
    return _dump(value)


def encode_group_join(
    group_id: bytes, member_key: bytes, name: str, salt: bytes, note: str
) -> bytes:
    """A request to join a group, sent to its moderator (section 15.2)."""
    value = {
        "v": PAYLOAD_VERSION,
        "type": "group_join",
        "group": b64u_encode(exact_bytes(group_id, ID_BYTES, "group id")),
        "member_key": b64u_encode(exact_bytes(member_key, ED25519_PUBLIC_KEY_BYTES, "member key")),
        "name": _check_name(name),
        "salt": b64u_encode(exact_bytes(salt, GROUP_NAME_SALT_BYTES, "name salt")),
        "note": _check_note(note),
    }
    return _dump(value)


def _reject_constant(name: str) -> None:
    raise MalformedError(f"{name} is not valid JSON.")


def parse(data: bytes) -> dict[str, Any]:
    """Decode and check a payload; unknown types come back with only `v` and `type` checked."""
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_PLAINTEXT:
        raise MalformedError(f"A payload is at most {MAX_PLAINTEXT} bytes.")
    try:
        value = json.loads(bytes(data).decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise MalformedError("A payload is a UTF-8 JSON object.") from exc
    if not isinstance(value, dict):
        raise MalformedError("A payload is a UTF-8 JSON object.")
    version = value.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        raise MalformedError("A payload has an integer version `v`.")
    if version != PAYLOAD_VERSION:
        raise UnsupportedVersionError(f"Payload version {version} is not supported.")
    kind = value.get("type")
    if not isinstance(kind, str):
        raise MalformedError("A payload has a string `type`.")
    if kind == "text":
        _check_id(value.get("id"))
        _check_sent(value.get("sent"))
        _check_body(value.get("body"))
    elif kind == "receipt":
        if value.get("state") not in RECEIPT_STATES:
            raise MalformedError("A receipt state is 'delivered' or 'read'.")
        ids = value.get("ids")
        if not isinstance(ids, list) or not ids:
            raise MalformedError("A receipt lists one or more message ids.")
        for message_id in ids:
            _check_id(message_id)
    elif kind == "group_key":
        _check_group_key(value.get("key"))
    elif kind == "group_join":
        _check_group_join(value)
    elif kind == "group_listing":
        _check_group_listing(value)
    return value
