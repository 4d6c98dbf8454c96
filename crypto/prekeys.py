"""The private halves of an account's prekeys: the `prekeys` vault item (PROTOCOL.md 3, 10).

`PrekeyStore` is what a responder needs to open a prekey message. It is
immutable: accepting a new session returns a new store, which the client
writes to the vault in the same commit as the message that caused it.
"""

from dataclasses import dataclass, field, replace
from typing import Any

from crypto.constants import MLKEM_SEED_BYTES, PREKEY_ID_MAX, X25519_KEY_BYTES
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import MalformedError


@dataclass(frozen=True)
class PrekeyStore:
    """Private prekeys by id (oldest first) and the ephemeral keys already accepted."""

    spk: dict[int, bytes]
    pq: dict[int, bytes]
    opk: dict[int, bytes]
    seen_ek: tuple[tuple[int, bytes], ...]
    rotated: int
    extra: dict[str, Any] = field(default_factory=dict)

    def has_seen(self, ephemeral_key: bytes) -> bool:
        return any(ek == ephemeral_key for _spk_id, ek in self.seen_ek)

    def accept(self, spk_id: int, ephemeral_key: bytes, opk_id: int | None) -> "PrekeyStore":
        """Section 4 step 5: forget the one-time prekey, remember the ephemeral key.

        Accepted keys are kept only while their signed prekey is held: once it
        is rotated away, a replay of the message fails at step 3 anyway.
        """
        opk = {k: v for k, v in self.opk.items() if k != opk_id}
        seen = tuple((s, ek) for s, ek in self.seen_ek if s in self.spk)
        return replace(self, opk=opk, seen_ek=(*seen, (spk_id, ephemeral_key)))


def _entries(value: Any, secret_field: str, length: int) -> dict[int, bytes]:
    if not isinstance(value, list):
        raise MalformedError("A prekey list must be a JSON array.")
    entries: dict[int, bytes] = {}
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"id", secret_field}:
            raise MalformedError(f'A stored prekey is {{"id", "{secret_field}"}}.')
        prekey_id = entry["id"]
        if not isinstance(prekey_id, int) or isinstance(prekey_id, bool):
            raise MalformedError("A prekey id must be an integer.")
        if not 0 < prekey_id <= PREKEY_ID_MAX or prekey_id in entries:
            raise MalformedError("Prekey ids are distinct non-zero 32-bit integers.")
        entries[prekey_id] = b64u_decode(entry[secret_field], length)
    return entries


def store_from_item(item: dict[str, Any]) -> PrekeyStore:
    """Decode the `prekeys` vault item; fields this version does not know are kept."""
    known = {"kind", "spk", "pq", "opk", "seen_ek", "rotated"}
    if not isinstance(item, dict) or item.get("kind") != "prekeys" or not known <= set(item):
        raise MalformedError("Not a prekeys vault item.")
    seen = item["seen_ek"]
    if not isinstance(seen, list) or not all(
        isinstance(e, dict) and set(e) == {"spk", "ek"} and isinstance(e["spk"], int) for e in seen
    ):
        raise MalformedError('`seen_ek` is a list of {"spk", "ek"}.')
    rotated = item["rotated"]
    if not isinstance(rotated, int) or isinstance(rotated, bool) or rotated < 0:
        raise MalformedError("`rotated` is unix seconds.")
    return PrekeyStore(
        spk=_entries(item["spk"], "priv", X25519_KEY_BYTES),
        pq=_entries(item["pq"], "seed", MLKEM_SEED_BYTES),
        opk=_entries(item["opk"], "priv", X25519_KEY_BYTES),
        seen_ek=tuple((e["spk"], b64u_decode(e["ek"], X25519_KEY_BYTES)) for e in seen),
        rotated=rotated,
        extra={k: v for k, v in item.items() if k not in known},
    )


def store_to_item(store: PrekeyStore) -> dict[str, Any]:
    return {
        **store.extra,
        "kind": "prekeys",
        "spk": [{"id": i, "priv": b64u_encode(k)} for i, k in store.spk.items()],
        "pq": [{"id": i, "seed": b64u_encode(s)} for i, s in store.pq.items()],
        "opk": [{"id": i, "priv": b64u_encode(k)} for i, k in store.opk.items()],
        "seen_ek": [{"spk": s, "ek": b64u_encode(ek)} for s, ek in store.seen_ek],
        "rotated": store.rotated,
    }
