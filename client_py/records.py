"""The vault item kinds a client reads and writes (the twin of client_web/app/records.js).

The formats are those of docs/PROTOCOL.md section 10, shared with the browser
client so that one account works in both: `identity`, `session`, `message`,
`note`, `contact` (and `prekeys`, kept by `crypto.prekeys`). Fields this
client does not know are carried over unchanged when it rewrites an item.
"""

import time
from dataclasses import dataclass
from typing import Any

from client_py.vaultstore import Batch, Item, Vault
from crypto.constants import CROCKFORD_ALPHABET
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import ProtocolError
from crypto.session_record import SessionRecord, decode_record, encode_record, merge_records
from crypto.session_state import decode_state

MESSAGE_STATES = ("sending", "sent", "delivered", "read")


@dataclass(frozen=True)
class Message:
    peer: str
    id: str
    dir: str
    sent: int
    body: str
    state: str


def identity_item(role: str, account: str, handle: str, seed: bytes) -> dict[str, Any]:
    return {
        "kind": "identity",
        "role": role,
        "account": account,
        "handle": handle,
        "seed": b64u_encode(seed),
    }


def session_item(
    previous: dict[str, Any] | None, peer: str, peer_identity: bytes, record: SessionRecord
) -> dict[str, Any]:
    """The peer's session item in the form of PROTOCOL.md 10: the whole record in `sessions`.

    An item written before records existed held one session in `state`; it
    is dropped here, so the item is upgraded by the first write after it.
    """
    kept = {key: value for key, value in (previous or {}).items() if key != "state"}
    return {
        **kept,
        "kind": "session",
        "peer": peer,
        "peer_identity": b64u_encode(peer_identity),
        "sessions": b64u_encode(encode_record(record)),
    }


def session_record(value: dict[str, Any]) -> SessionRecord:
    """The item's session record; an item in the older form is a record of its one session."""
    if "sessions" in value:
        return decode_record(b64u_decode(value["sessions"]))
    return (decode_state(b64u_decode(value["state"])),)


@dataclass(frozen=True)
class StoredSessions:
    """A peer's session items, read as one record (PROTOCOL.md 5.8 and 10).

    Two devices that set up a session with the same new peer at the same
    moment each create a `session` item; both commits succeed, since they are
    different items. Every reader therefore takes all of the peer's items, in
    the order of their ids, as one record, and the next write keeps the first
    item and deletes the others, so that the devices converge on one item
    without losing a session.
    """

    items: tuple[Item, ...]
    record: SessionRecord | None

    @property
    def first(self) -> Item | None:
        return self.items[0] if self.items else None


def stored_sessions(vault: Vault, peer: str) -> StoredSessions:
    items = tuple(
        sorted((i for i in vault.list("session") if i.value.get("peer") == peer), key=_by_id)
    )
    if not items:
        return StoredSessions((), None)
    return StoredSessions(items, merge_records([session_record(i.value) for i in items]))


def _by_id(item: Item) -> str:
    return item.id


def put_sessions(
    batch: Batch, stored: StoredSessions, peer: str, peer_identity: bytes, record: SessionRecord
) -> None:
    """Write the peer's record to its first item and delete any other item of the peer."""
    first = stored.first
    batch.put(
        session_item(None if first is None else first.value, peer, peer_identity, record),
        None if first is None else first.id,
    )
    for extra in stored.items[1:]:
        batch.delete(extra.id)


def message_item(
    peer: str, message_id: str, direction: str, sent: int, body: str, state: str
) -> dict[str, Any]:
    return {
        "kind": "message",
        "peer": peer,
        "id": message_id,
        "dir": direction,
        "sent": sent,
        "body": body,
        "state": state,
    }


def message_from(value: dict[str, Any]) -> Message:
    return Message(
        peer=str(value.get("peer", "")),
        id=str(value.get("id", "")),
        dir=str(value.get("dir", "")),
        sent=value["sent"] if isinstance(value.get("sent"), int) else 0,
        body=str(value.get("body", "")),
        state=str(value.get("state", "")),
    )


def advance_state(current: str, new: str) -> str:
    """Receipts only move a message forward: sent, then delivered, then read."""
    if current not in MESSAGE_STATES:
        return new
    return new if MESSAGE_STATES.index(new) > MESSAGE_STATES.index(current) else current


def contact_item(
    previous: dict[str, Any] | None, peer: str, label: str, verified: bool
) -> dict[str, Any]:
    return {
        **(previous or {}),
        "kind": "contact",
        "peer": peer,
        "label": label,
        "verified": verified,
    }


def note_item(previous: dict[str, Any] | None, peer: str, body: str) -> dict[str, Any]:
    return {
        **(previous or {}),
        "kind": "note",
        "peer": peer,
        "body": body,
        "updated": int(time.time()),
    }


# As the browser client's records.js: eight symbols of Crockford's base32
# (40 bits) from the account id, so labels do not collide among thousands of
# clients; tests/interop checks that both clients show the same label.
CLIENT_LABEL_SYMBOLS = 8


def client_label(peer: str) -> str:
    """A short label from a random account id, as the browser client shows it: "Client 7KQ2-M9XD".

    It tells threads apart without saying anything about the person.
    """
    try:
        raw = b64u_decode(peer)
    except ProtocolError:
        return peer
    bits = int.from_bytes(raw, "big")
    total = len(raw) * 8
    symbols = [
        CROCKFORD_ALPHABET[(bits >> (total - 5 * (i + 1))) & 31]
        for i in range(min(CLIENT_LABEL_SYMBOLS, total // 5))
    ]
    code = "".join(symbols)
    return f"Client {code[:4]}-{code[4:]}"


def known_peers(vault: Vault) -> set[str]:
    peers: set[str] = set()
    for kind in ("session", "contact", "message", "note"):
        peers.update(str(item.value.get("peer")) for item in vault.list(kind))
    return peers


def find_message(vault: Vault, peer: str, message_id: str) -> Item | None:
    return vault.find("message", peer=peer, id=message_id)
