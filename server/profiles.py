"""Therapist profiles: signed JSON bytes, checked on upload and served exactly as uploaded.

The server verifies the signature over the bytes it received and checks the
fields of docs/API.md, then stores those bytes unchanged; clients verify the
same signature over the same bytes, so the server cannot edit a profile.
"""

from typing import Any

from crypto import signatures
from crypto.constants import (
    MAX_PROFILE_BYTES,
    PROFILE_LIST_ITEM_CHARS,
    PROFILE_LIST_ITEMS,
    PROFILE_TEXT_CHARS,
    SIGNATURE_BYTES,
)
from crypto.encoding import b64u_encode
from crypto.errors import MalformedError
from server.errors import BadRequestError, BadSignatureError
from server.storage import Connection
from server.validation import binary, parse_json

# The push a therapist's devices receive when a profile of theirs is published:
# it carries nothing but the news, and each device fetches the profile again.
PROFILE_CHANGED = {"type": "profile_changed"}


def _check_fields(profile: Any) -> None:
    if not isinstance(profile, dict):
        raise BadRequestError("The profile must be a JSON object.")
    known = {*PROFILE_TEXT_CHARS, "specialties", "languages", "accepting"}
    unknown = sorted(set(profile) - known)
    if unknown:
        raise BadRequestError(f"The profile has unknown fields: {', '.join(unknown)}.")
    name = profile.get("display_name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequestError("The profile needs a non-empty 'display_name'.")
    for field, limit in PROFILE_TEXT_CHARS.items():
        value = profile.get(field, "")
        if not isinstance(value, str) or len(value) > limit:
            raise BadRequestError(
                f"The profile's {field!r} must be text of at most {limit} characters."
            )
    for field in ("specialties", "languages"):
        items = profile.get(field, [])
        if (
            not isinstance(items, list)
            or len(items) > PROFILE_LIST_ITEMS
            or not all(isinstance(i, str) and 0 < len(i) <= PROFILE_LIST_ITEM_CHARS for i in items)
        ):
            raise BadRequestError(
                f"The profile's {field!r} must be at most {PROFILE_LIST_ITEMS} texts "
                f"of 1 to {PROFILE_LIST_ITEM_CHARS} characters."
            )
    if not isinstance(profile.get("accepting", True), bool):
        raise BadRequestError("The profile's 'accepting' must be true or false.")


def parse_upload(body: dict[str, Any], identity_key: bytes) -> tuple[bytes, bytes]:
    """The verified (profile bytes, signature) of a `PUT /api/profile` body."""
    profile = binary(body, "profile", max_length=MAX_PROFILE_BYTES)
    sig = binary(body, "sig", SIGNATURE_BYTES)
    try:
        text = profile.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestError("The profile must be UTF-8 JSON.") from None
    _check_fields(parse_json(text))
    try:
        signatures.verify_profile(identity_key, profile, sig)
    except MalformedError:
        raise BadSignatureError("The profile's signature does not verify.") from None
    return profile, sig


def store(conn: Connection, account: bytes, profile: bytes, sig: bytes) -> None:
    conn.execute(
        "INSERT INTO profiles (account, profile, sig) VALUES (?, ?, ?) "
        "ON CONFLICT (account) DO UPDATE SET profile = excluded.profile, sig = excluded.sig",
        (account, profile, sig),
    )


def directory(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT a.id, a.identity_key, p.profile, p.sig FROM profiles p "
        "JOIN accounts a ON a.id = p.account WHERE a.role = 'therapist' ORDER BY a.id"
    ).fetchall()
    return [
        {
            "account": b64u_encode(bytes(row[0])),
            "identity_key": b64u_encode(bytes(row[1])),
            "profile": b64u_encode(bytes(row[2])),
            "sig": b64u_encode(bytes(row[3])),
        }
        for row in rows
    ]
