"""The client's copy of its vault, and the writes that change it (docs/PROTOCOL.md section 10).

`Vault` holds every item decrypted in memory, indexed by id, next to the
encrypted blob the server stores and the sync cursor. `sync` fetches only what
changed since the cursor. A change is prepared as a `Batch` (one write per
item, versions exactly one above what this copy holds) and sent with whatever
commits it: a `send` or `ack` frame, or `POST /api/vault`. Only once the server
has committed the batch does `apply` make it the local state; if the server
refuses it with `vault_conflict`, the caller syncs and recomputes.

`retry_on_conflict` is that rule, written once: every compare-and-swap path
of the client (a vault commit, a `send`, an `ack`, a prekeys change) runs
through it. It retries after a sync at most `VAULT_CONFLICT_RETRIES` times
after the first attempt, then raises `VaultConflictError` to the caller.
"""

import asyncio
import builtins
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from client_py.api import Http, field
from client_py.errors import BadResponseError, ServerError, VaultConflictError
from client_py.ids import new_id
from crypto.constants import ID_BYTES, VAULT_CONFLICT_PAUSE_MS, VAULT_CONFLICT_RETRIES
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import MalformedError, ProtocolError
from crypto.vault import decrypt_item, encrypt_item


@dataclass(frozen=True)
class Item:
    id: str
    version: int
    value: dict[str, Any]


T = TypeVar("T")


def conflict_pause(retry: int, draw: float) -> float:
    """Seconds to wait before retry `retry` (from 0), for a `draw` in [0, 1).

    Full jitter: uniform below a bound that doubles with each retry
    (VAULT_CONFLICT_PAUSE_MS), so two devices racing for the same items
    fall out of step and one of them commits.
    """
    return draw * VAULT_CONFLICT_PAUSE_MS * (2**retry) / 1000


async def retry_on_conflict(
    attempt: Callable[[], Awaitable[T]], resync: Callable[[], Awaitable[None]]
) -> T:
    """Run `attempt`; after each `vault_conflict`, pause, `resync` and run it again.

    `attempt` must rebuild its writes from the vault as it is when it runs, so
    that a retry starts from what the other device committed. Any other error
    reaches the caller at once; the conflict does after VAULT_CONFLICT_RETRIES
    retries, as `VaultConflictError`.
    """
    retries = 0
    while True:
        try:
            return await attempt()
        except ServerError as exc:
            if exc.code != "vault_conflict":
                raise
            if retries == VAULT_CONFLICT_RETRIES:
                raise VaultConflictError(exc) from exc
        # Not a secret: the draw only spreads racing devices apart in time.
        await asyncio.sleep(conflict_pause(retries, random.random()))  # noqa: S311
        retries += 1
        await resync()


def encode_item(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_item(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedError("A vault item is a UTF-8 JSON object.") from exc
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        raise MalformedError("A vault item is a JSON object with a `kind`.")
    return value


class Batch:
    """Writes to commit together; the last value given for an item wins."""

    def __init__(self, vault: "Vault") -> None:
        self._vault = vault
        self._changes: dict[str, dict[str, Any] | None] = {}

    def put(self, value: dict[str, Any], item_id: str | None = None) -> str:
        """Create (item_id None) or replace an item; returns its id."""
        item_id = item_id or new_id()
        self._changes[item_id] = value
        return item_id

    def delete(self, item_id: str) -> None:
        if item_id in self._vault.items:
            self._changes[item_id] = None
        else:
            self._changes.pop(item_id, None)

    def wire(self) -> list[dict[str, Any]]:
        """The writes as docs/API.md gives them, each encrypted for its new version."""
        writes = []
        for item_id, value in self._changes.items():
            version = self._vault.version(item_id) + 1
            if value is None:
                writes.append({"id": item_id, "version": version, "delete": True})
                continue
            blob = encrypt_item(
                self._vault.vault_key, b64u_decode(item_id, ID_BYTES), version, encode_item(value)
            )
            writes.append({"id": item_id, "version": version, "blob": b64u_encode(blob)})
        return writes


class Vault:
    def __init__(self, vault_key: bytes) -> None:
        self.vault_key = vault_key
        self.items: dict[str, Item] = {}
        self._blobs: dict[str, tuple[int, str]] = {}
        self._deleted: dict[str, int] = {}
        self.cursor: Any = None

    def version(self, item_id: str) -> int:
        item = self.items.get(item_id)
        if item is not None:
            return item.version
        return self._deleted.get(item_id, 0)

    def batch(self) -> Batch:
        return Batch(self)

    def list(self, kind: str, **match: Any) -> builtins.list[Item]:
        """Every item of `kind` whose fields equal `match` (the web client's `list`)."""
        return [
            item
            for item in self.items.values()
            if item.value.get("kind") == kind
            and all(item.value.get(key) == value for key, value in match.items())
        ]

    def find(self, kind: str, **match: Any) -> Item | None:
        """The first item of `kind` whose fields equal `match`, or None (as the web client)."""
        found = self.list(kind, **match)
        return found[0] if found else None

    def _store(self, item_id: str, version: int, blob: str | None) -> None:
        if blob is None:
            self.items.pop(item_id, None)
            self._blobs.pop(item_id, None)
            self._deleted[item_id] = version
            return
        raw = b64u_decode(blob)
        value = decode_item(
            decrypt_item(self.vault_key, b64u_decode(item_id, ID_BYTES), version, raw)
        )
        self.items[item_id] = Item(item_id, version, value)
        self._blobs[item_id] = (version, blob)
        self._deleted.pop(item_id, None)

    def apply(self, wire: builtins.list[dict[str, Any]]) -> None:
        """Make committed writes (a `Batch.wire()`) the local state."""
        for write in wire:
            self._store(
                write["id"], write["version"], None if write.get("delete") else write["blob"]
            )

    async def sync(self, http: Http) -> None:
        """Fetch what changed since the cursor, page by page."""
        while True:
            query = "" if self.cursor is None else "?since=" + quote(str(self.cursor), safe="")
            answer = await http.get("/api/vault" + query)
            entries = field(answer, "items", list)
            cursor = answer.get("cursor")
            for entry in entries:
                item_id, version, blob = _parse_entry(entry)
                unchanged = self.version(item_id) == version and (
                    (item_id in self.items) == (blob is not None)
                )
                if not unchanged:
                    self._store(item_id, version, blob)
            advanced = cursor != self.cursor
            self.cursor = cursor
            # `more` says whether another page waits (docs/API.md, "Vault sync").
            if not entries or not advanced or answer.get("more") is False:
                return

    def blobs(self) -> dict[str, tuple[int, str]]:
        """Every live item's version and blob, exactly as the server stores them."""
        return dict(self._blobs)

    def export_cache(self) -> dict[str, Any]:
        """The encrypted blobs and the cursor, safe to keep on disk."""
        return {
            "cursor": self.cursor,
            "items": {item_id: [version, blob] for item_id, (version, blob) in self._blobs.items()},
            "deleted": dict(self._deleted),
        }

    def import_cache(self, cache: dict[str, Any]) -> None:
        """Load blobs saved by `export_cache`; a blob that does not open is refetched."""
        try:
            for item_id, (version, blob) in cache["items"].items():
                self._store(item_id, int(version), blob)
            self._deleted.update({k: int(v) for k, v in cache.get("deleted", {}).items()})
            self.cursor = cache.get("cursor")
        except (KeyError, TypeError, ValueError, ProtocolError):
            self.items.clear()
            self._blobs.clear()
            self._deleted.clear()
            self.cursor = None


def _parse_entry(entry: Any) -> tuple[str, int, str | None]:
    if not isinstance(entry, dict):
        raise BadResponseError("A vault entry from the server is not an object.")
    item_id = field(entry, "id", str)
    version = field(entry, "version", int)
    blob = entry.get("blob")
    if blob is not None and not isinstance(blob, str):
        raise BadResponseError("A vault blob from the server is not a string.")
    return item_id, version, blob
