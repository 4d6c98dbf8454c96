"""The practice's directory of therapists and the signed profiles in it (docs/API.md).

A profile is the exact JSON bytes the therapist signed with the identity key;
the server serves them unchanged, so a client verifies the signature over the
bytes it receives and drops any entry that does not verify.
"""

import json
from dataclasses import dataclass
from typing import Any

from crypto.client_transport import Http, field
from crypto.constants import CTX_PROFILE, ED25519_PUBLIC_KEY_BYTES, ID_BYTES
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import ProtocolError
from crypto.signatures import sign, verify_profile


@dataclass(frozen=True)
class Therapist:
    """A directory entry whose profile signature verified."""

    account: str
    identity_key: str
    profile: dict[str, Any]


def _verified(entry: Any) -> Therapist | None:
    try:
        identity_key = b64u_decode(entry["identity_key"], ED25519_PUBLIC_KEY_BYTES)
        profile_bytes = b64u_decode(entry["profile"])
        verify_profile(identity_key, profile_bytes, b64u_decode(entry["sig"]))
        profile = json.loads(profile_bytes.decode("utf-8"))
        b64u_decode(entry["account"], ID_BYTES)
    except (ProtocolError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(profile, dict):
        return None
    return Therapist(entry["account"], entry["identity_key"], profile)


async def fetch_directory(http: Http) -> list[Therapist]:
    """The therapists whose profile signature verifies; the others are left out."""
    answer = await http.get("/api/directory")
    found = (_verified(entry) for entry in field(answer, "therapists", list))
    return [therapist for therapist in found if therapist is not None]


def signed_profile(identity_seed: bytes, profile: dict[str, Any]) -> dict[str, str]:
    """The body of `PUT /api/profile`: the profile's bytes and their signature."""
    data = json.dumps(profile, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sig = sign(identity_seed, CTX_PROFILE, data)
    return {"profile": b64u_encode(data), "sig": b64u_encode(sig)}
