"""Conversations as a person reads them (the twin of client_web/app/threads.js).

Read from the vault's message items: the list of threads by last activity
with unread counts, the messages of one thread in order, and the names shown
for peers. A message is unread when it came in and is still `delivered`, as
in the web client: reading it (`mark_read`) moves it to `read` and tells the
sender.
"""

from dataclasses import dataclass

from client_py import directory, records, sender
from client_py.errors import UnknownPeerError
from client_py.records import Message
from client_py.vaultstore import Batch, Vault
from client_py.workspace import Workspace
from crypto.constants import ID_BYTES
from crypto.encoding import b64u_decode
from crypto.errors import MalformedError

# A typed prefix of an account id names a peer only from this many characters.
PREFIX_MIN = 4


@dataclass(frozen=True)
class Conversation:
    peer: str
    last_activity: int
    unread: int
    messages: int


def is_unread(message: Message) -> bool:
    return message.dir == "in" and message.state == "delivered"


def history(vault: Vault, peer: str) -> list[Message]:
    """A conversation oldest first; the sender's clock orders it, arrival order breaks ties."""
    messages = [records.message_from(item.value) for item in vault.list("message", peer=peer)]
    return sorted(messages, key=lambda message: message.sent)


def conversations(vault: Vault) -> list[Conversation]:
    """Every peer with messages, most recent activity first, with unread counts."""
    by_peer: dict[str, list[Message]] = {}
    for item in vault.list("message"):
        message = records.message_from(item.value)
        by_peer.setdefault(message.peer, []).append(message)
    found = [
        Conversation(
            peer=peer,
            last_activity=max(m.sent for m in messages),
            unread=sum(1 for m in messages if is_unread(m)),
            messages=len(messages),
        )
        for peer, messages in by_peer.items()
    ]
    return sorted(found, key=lambda c: c.last_activity, reverse=True)


async def mark_read(workspace: Workspace, peer: str) -> int:
    """Mark a conversation read and tell the peer; returns how many messages changed."""
    async with workspace.lock:
        unread = [
            item
            for item in workspace.vault.list("message", peer=peer, dir="in")
            if is_unread(records.message_from(item.value))
        ]
        if not unread:
            return 0
        batch: Batch = workspace.vault.batch()
        for item in unread:
            batch.put({**item.value, "state": "read"}, item.id)
        ids = [str(i.value["id"]) for i in unread]
        await sender.send_receipt(workspace, peer, "read", ids, batch)
        return len(unread)


async def label(workspace: Workspace, peer: str) -> str:
    """A name to show for a peer: its contact label, its directory name, or a short label."""
    if workspace.stored_vault is not None:
        contact = workspace.vault.find("contact", peer=peer)
        if contact is not None and contact.value.get("label"):
            return str(contact.value["label"])
    for therapist in await directory.cached(workspace):
        if therapist.account == peer and therapist.profile.get("display_name"):
            return str(therapist.profile["display_name"])
    return records.client_label(peer)


async def resolve_peer(workspace: Workspace, text: str) -> str:
    """An account id from an id, a unique id prefix, a contact label or a therapist's name."""
    text = text.strip()
    logged_in = workspace.stored_vault is not None
    known = records.known_peers(workspace.vault) if logged_in else set()
    therapists = await directory.cached(workspace)
    candidates = known | {t.account for t in therapists}
    if text in candidates:
        return text
    if len(text) >= PREFIX_MIN:
        matches = {peer for peer in candidates if peer.startswith(text)}
        if len(matches) == 1:
            return matches.pop()
    wanted = text.casefold()
    named = {
        t.account for t in therapists if str(t.profile.get("display_name", "")).casefold() == wanted
    }
    if logged_in:
        named |= {
            str(item.value["peer"])
            for item in workspace.vault.list("contact")
            if str(item.value.get("label", "")).casefold() == wanted and wanted
        }
    named |= {peer for peer in known if records.client_label(peer).casefold() == wanted}
    if len(named) == 1:
        return named.pop()
    try:
        b64u_decode(text, ID_BYTES)
    except MalformedError:
        raise UnknownPeerError() from None
    return text
