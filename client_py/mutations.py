"""Small vault changes a person makes, and the therapist's block list (twin of mutations.js).

Each vault change is one compare-and-swap commit built from the vault as it
is (`Workspace.commit_change`, through `retry_on_conflict`), so a change made
on another device at the same moment is kept and this one applied on top.
"""

from client_py import records
from client_py.api import field
from client_py.vaultstore import Batch
from client_py.workspace import Workspace


def note(workspace: Workspace, peer: str) -> str | None:
    item = workspace.vault.find("note", peer=peer)
    return None if item is None else str(item.value.get("body", ""))


async def save_note(workspace: Workspace, peer: str, body: str) -> None:
    """A private note on a client, encrypted for this account only; empty deletes it."""
    workspace.require_therapist()

    def change() -> Batch:
        item = workspace.vault.find("note", peer=peer)
        batch = workspace.vault.batch()
        if item is not None and not body:
            batch.delete(item.id)
        elif body:
            previous = None if item is None else item.value
            batch.put(records.note_item(previous, peer, body), None if item is None else item.id)
        return batch

    async with workspace.lock:
        await workspace.commit_change(change)


def is_verified(workspace: Workspace, peer: str) -> bool:
    item = workspace.vault.find("contact", peer=peer)
    return bool(item is not None and item.value.get("verified"))


async def set_verified(workspace: Workspace, peer: str, verified: bool) -> None:
    """Record that the safety number with `peer` was compared and matched."""

    def change() -> Batch:
        item = workspace.vault.find("contact", peer=peer)
        previous = None if item is None else item.value
        label = "" if item is None else str(item.value.get("label", ""))
        batch = workspace.vault.batch()
        batch.put(
            records.contact_item(previous, peer, label, verified),
            None if item is None else item.id,
        )
        return batch

    async with workspace.lock:
        await workspace.commit_change(change)


async def load_blocks(workspace: Workspace) -> list[str]:
    workspace.require_therapist()
    return [str(p) for p in field(await workspace.http.get("/api/blocks"), "blocked", list)]


async def set_blocked(workspace: Workspace, peer: str, blocked: bool) -> None:
    workspace.require_therapist()
    if blocked:
        await workspace.http.put(f"/api/blocks/{peer}")
    else:
        await workspace.http.delete(f"/api/blocks/{peer}")
