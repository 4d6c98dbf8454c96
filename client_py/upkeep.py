"""Keeping an account's prekeys published and its `prekeys` item in step (twin of upkeep.js).

The `prekeys` item (docs/PROTOCOL.md sections 3 and 10) holds the private
halves: `spk` and `pq` oldest first, the last entry being the one currently
published, at most two generations (the current and the previous, so that
messages in flight across a rotation still open); `opk` every one-time prekey
not yet used; `seen_ek` the initiators' ephemeral keys already accepted;
`rotated` when the signed prekeys last changed.

Each pure function returns the new item value and the `PUT /api/prekeys` body
that publishes its public halves; `maintain_prekeys` applies them. The item is
committed first and uploaded second: a crash in between leaves private keys
nobody was given, never a published key whose private half is lost.
"""

import time
from typing import Any

from client_py.api import field
from client_py.vaultstore import retry_on_conflict
from client_py.workspace import Workspace
from crypto.constants import OPK_BATCH, OPK_LOW_WATER, SPK_ROTATE_DAYS
from crypto.encoding import b64u_decode, b64u_encode
from crypto.keys import (
    SignedKemPrekey,
    SignedX25519Prekey,
    make_one_time_prekey,
    make_pq_prekey,
    make_signed_prekey,
    new_prekey_id,
)

GENERATIONS_KEPT = 2
# One-time prekeys the server handed out but nobody used stay in the item;
# beyond this many the oldest are dropped, so the item cannot grow forever.
MAX_OPK_KEPT = 4 * OPK_BATCH
ROTATE_SECONDS = SPK_ROTATE_DAYS * 24 * 60 * 60


def _public(prekey: SignedX25519Prekey | SignedKemPrekey) -> dict[str, Any]:
    return {"id": prekey.id, "key": b64u_encode(prekey.public), "sig": b64u_encode(prekey.sig)}


def _taken_ids(value: dict[str, Any]) -> set[int]:
    return {entry["id"] for name in ("spk", "pq", "opk") for entry in value.get(name, [])}


def _new_one_time(
    identity_seed: bytes, value: dict[str, Any], count: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    taken = _taken_ids(value)
    private, public = [], []
    for _ in range(count):
        prekey = make_one_time_prekey(identity_seed, new_prekey_id(taken))
        taken.add(prekey.id)
        private.append({"id": prekey.id, "priv": b64u_encode(prekey.private)})
        public.append(_public(prekey))
    return private, public


def _new_signed(
    identity_seed: bytes, value: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    taken = _taken_ids(value)
    spk = make_signed_prekey(identity_seed, new_prekey_id(taken))
    taken.add(spk.id)
    pq = make_pq_prekey(identity_seed, new_prekey_id(taken))
    return (
        {"id": spk.id, "priv": b64u_encode(spk.private)},
        _public(spk),
        {"id": pq.id, "seed": b64u_encode(pq.seed)},
        _public(pq),
    )


def initial(identity_seed: bytes, now: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new account's `prekeys` item and the upload that publishes it."""
    value: dict[str, Any] = {"kind": "prekeys", "spk": [], "pq": [], "opk": [], "seen_ek": []}
    spk_private, spk_public, pq_private, pq_public = _new_signed(identity_seed, value)
    value["spk"], value["pq"] = [spk_private], [pq_private]
    opk_private, opk_public = _new_one_time(identity_seed, value, OPK_BATCH)
    value["opk"] = opk_private
    value["rotated"] = int(time.time()) if now is None else now
    upload = {"signed_prekey": spk_public, "pq_prekey": pq_public, "one_time_prekeys": opk_public}
    return value, upload


def top_up(
    identity_seed: bytes, value: dict[str, Any], count: int = OPK_BATCH
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Add `count` one-time prekeys."""
    opk_private, opk_public = _new_one_time(identity_seed, value, count)
    updated = dict(value)
    updated["opk"] = (list(value.get("opk", [])) + opk_private)[-MAX_OPK_KEPT:]
    return updated, {"one_time_prekeys": opk_public}


def needs_rotation(value: dict[str, Any], now: int | None = None) -> bool:
    now = int(time.time()) if now is None else now
    rotated = value.get("rotated")
    return not isinstance(rotated, int) or now - rotated >= ROTATE_SECONDS


def rotate(
    identity_seed: bytes, value: dict[str, Any], now: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new signed prekey and PQ prekey; the previous generation stays, older ones go."""
    spk_private, spk_public, pq_private, pq_public = _new_signed(identity_seed, value)
    updated = dict(value)
    updated["spk"] = [*value.get("spk", []), spk_private][-GENERATIONS_KEPT:]
    updated["pq"] = [*value.get("pq", []), pq_private][-GENERATIONS_KEPT:]
    updated["rotated"] = int(time.time()) if now is None else now
    return updated, {"signed_prekey": spk_public, "pq_prekey": pq_public}


def current_public(identity_seed: bytes, value: dict[str, Any]) -> dict[str, Any]:
    """The upload that republishes the current signed prekeys (after a failed upload)."""
    spk = value["spk"][-1]
    pq = value["pq"][-1]
    return {
        "signed_prekey": _public(
            make_signed_prekey(identity_seed, spk["id"], b64u_decode(spk["priv"]))
        ),
        "pq_prekey": _public(make_pq_prekey(identity_seed, pq["id"], b64u_decode(pq["seed"]))),
    }


async def _maintain_once(workspace: Workspace) -> None:
    seed = workspace.identity.seed
    status = await workspace.http.get("/api/prekeys")
    item = workspace.vault.find("prekeys")
    upload: dict[str, Any] = {}
    if item is None:
        value, upload = initial(seed)
    else:
        value = item.value
        if needs_rotation(value):
            value, rotated = rotate(seed, value)
            upload.update(rotated)
        if field(status, "one_time", int) < OPK_LOW_WATER:
            value, added = top_up(seed, value)
            upload.update(added)
    if upload:
        batch = workspace.vault.batch()
        batch.put(value, None if item is None else item.id)
        await workspace.commit(batch)
    if "signed_prekey" not in upload and (
        status.get("signed_prekey_id") != value["spk"][-1]["id"]
        or status.get("pq_prekey_id") != value["pq"][-1]["id"]
    ):
        # The item was committed but its upload never happened (a crash,
        # or another device's rotation that failed half-way): publish now.
        upload.update(current_public(seed, value))
    if upload:
        await workspace.http.put("/api/prekeys", upload)


async def maintain_prekeys(workspace: Workspace) -> None:
    """Rotate the signed prekeys when due, top up one-time prekeys, republish if needed."""
    async with workspace.lock:
        await retry_on_conflict(lambda: _maintain_once(workspace), workspace.sync)
