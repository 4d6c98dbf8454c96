"""The practice's directory of therapists and the signed profiles in it (docs/API.md).

A profile is the exact JSON bytes the therapist signed with the identity key;
the server serves them unchanged, so a client verifies the signature over the
bytes it receives and drops any entry that does not verify.
"""

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from client_py.api import Http, field
from client_py.errors import BadInputError, UnknownPeerError
from crypto.constants import (
    CTX_PROFILE,
    ED25519_PUBLIC_KEY_BYTES,
    ID_BYTES,
    MAX_PROFILE_BYTES,
    PROFILE_LIST_ITEM_CHARS,
    PROFILE_LIST_ITEMS,
    PROFILE_TEXT_CHARS,
)
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import ProtocolError
from crypto.safety import safety_number as safety_digits
from crypto.signatures import sign, verify_profile

if TYPE_CHECKING:
    from client_py.workspace import Workspace


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


def check_profile(profile: dict[str, Any], data: bytes) -> None:
    """The limits the server applies (crypto/constants.py), checked before signing."""
    for name, limit in PROFILE_TEXT_CHARS.items():
        value = profile.get(name, "")
        if not isinstance(value, str) or len(value) > limit:
            raise BadInputError(f"The profile's {name} must be text of at most {limit} characters.")
    for name in ("specialties", "languages"):
        entries = profile.get(name, [])
        if not isinstance(entries, list) or len(entries) > PROFILE_LIST_ITEMS:
            raise BadInputError(f"The profile has at most {PROFILE_LIST_ITEMS} {name}.")
        if not all(isinstance(e, str) and 0 < len(e) <= PROFILE_LIST_ITEM_CHARS for e in entries):
            raise BadInputError(
                f"Each of the profile's {name} is 1 to {PROFILE_LIST_ITEM_CHARS} characters."
            )
    if len(data) > MAX_PROFILE_BYTES:
        raise BadInputError(f"The profile is larger than {MAX_PROFILE_BYTES} bytes.")


def signed_profile(identity_seed: bytes, profile: dict[str, Any]) -> dict[str, str]:
    """The body of `PUT /api/profile`: the profile's bytes and their signature."""
    data = json.dumps(profile, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    check_profile(profile, data)
    sig = sign(identity_seed, CTX_PROFILE, data)
    return {"profile": b64u_encode(data), "sig": b64u_encode(sig)}


async def refresh(workspace: "Workspace") -> list[Therapist]:
    """Fetch the directory again and keep it as this device's copy."""
    workspace.directory_cache = await fetch_directory(workspace.http)
    return workspace.directory_cache


async def cached(workspace: "Workspace") -> list[Therapist]:
    """The directory as last fetched by this device (fetched once if never)."""
    if workspace.directory_cache is None:
        return await refresh(workspace)
    return workspace.directory_cache


async def listed_name(workspace: "Workspace", peer: str) -> str:
    """A new contact's label: the therapist's name in the directory, or nothing."""
    if workspace.vault.find("contact", peer=peer) is not None:
        return ""
    for therapist in await cached(workspace):
        if therapist.account == peer:
            return str(therapist.profile.get("display_name", ""))
    return ""


async def own_profile(workspace: "Workspace") -> dict[str, Any] | None:
    for therapist in await refresh(workspace):
        if therapist.account == workspace.account:
            return therapist.profile
    return None


async def publish_profile(workspace: "Workspace", profile: dict[str, Any]) -> None:
    """Sign and publish the therapist profile (docs/API.md)."""
    workspace.require_therapist()
    await workspace.http.put("/api/profile", signed_profile(workspace.identity.seed, profile))
    workspace.directory_cache = None


async def peer_identity(workspace: "Workspace", peer: str) -> bytes:
    """The peer's identity key: from the session, else from the signed directory."""
    stored = workspace.vault.find("session", peer=peer)
    if stored is not None:
        return b64u_decode(stored.value["peer_identity"], ED25519_PUBLIC_KEY_BYTES)
    for therapist in await cached(workspace):
        if therapist.account == peer:
            return b64u_decode(therapist.identity_key, ED25519_PUBLIC_KEY_BYTES)
    raise UnknownPeerError(
        "There is no session with this account yet, so there is no safety number; "
        "exchange a message first."
    )


async def safety_number(workspace: "Workspace", peer: str) -> str:
    """The 60 digits both parties compare (docs/PROTOCOL.md section 8)."""
    theirs = await peer_identity(workspace, peer)
    return safety_digits(
        workspace.identity.public,
        b64u_decode(workspace.account, ID_BYTES),
        theirs,
        b64u_decode(peer, ID_BYTES),
    )
