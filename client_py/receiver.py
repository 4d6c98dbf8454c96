"""Receiving (the twin of client_web/app/receiver.js; docs/PROTOCOL.md sections 4, 6 and 10).

`decrypt_envelope` decrypts one envelope against the vault as it is and returns
what it was (`Incoming`) with the `Batch` of writes to commit together with its
acknowledgement: the new session state, the prekeys item when a prekey message
set up a session, a contact for a new peer, and the message item or the
message states a receipt advances. It writes nothing itself, so a refused
commit leaves everything as it was.

`open_envelope` acknowledges an envelope together with those writes, through
`retry_on_conflict`: when another device changed the vault first, the vault
is synced and the envelope opened again from the new state, where it is
usually found already handled, so a session never forks and no message is
handled twice.
"""

from dataclasses import dataclass
from typing import Any

from client_py import groups, records
from client_py.api import b64u_field, field
from client_py.errors import AnswerTimeoutError, ServerError, VaultCorruptError
from client_py.groups import GroupUpdate
from client_py.records import Message
from client_py.vaultstore import Batch, Vault, retry_on_conflict
from client_py.workspace import Workspace
from crypto import payload as payloads
from crypto import session as sessions
from crypto.errors import ProtocolError, UnsupportedVersionError
from crypto.keys import IdentityKeyPair
from crypto.prekeys import store_from_item, store_to_item


@dataclass(frozen=True)
class Incoming:
    """What one received envelope turned out to be.

    Exactly one of `message`, `receipt`, `error` and `group` is set, or none
    of them for a payload type this client does not know (the session still
    advanced) or an envelope another device had already handled. `group` is
    what a group's envelope or stream item changed (client_py/groups.py).
    """

    envelope_id: str
    peer: str
    message: Message | None = None
    receipt: tuple[str, list[str]] | None = None
    error: ProtocolError | None = None
    group: list[GroupUpdate] | None = None


def decrypt_envelope(
    vault: Vault, identity: IdentityKeyPair, envelope_id: str, sender: str, data: bytes
) -> tuple[Incoming, Batch]:
    """Decrypt an envelope from `sender`; raises a ProtocolError and changes nothing if it fails."""
    stored = records.stored_sessions(vault, sender)
    prekeys_item = vault.find("prekeys")
    if prekeys_item is None:
        raise VaultCorruptError("The vault has no prekeys item; log in again to repair it.")
    result = sessions.decrypt(identity, data, stored.record, store_from_item(prekeys_item.value))
    # A sender under another identity key than the session's was refused by
    # sessions.decrypt (PROTOCOL.md section 4, step 0).
    peer_identity = sessions.peer_identity(result.state, identity.public)
    batch = vault.batch()
    records.put_sessions(batch, stored, sender, peer_identity, result.record)
    if result.prekeys is not None:
        batch.put(store_to_item(result.prekeys), prekeys_item.id)
    if vault.find("contact", peer=sender) is None:
        batch.put(records.contact_item(None, sender, "", False))
    return _apply_payload(vault, batch, envelope_id, sender, result.payload), batch


def _apply_payload(
    vault: Vault, batch: Batch, envelope_id: str, sender: str, raw: bytes
) -> Incoming:
    try:
        payload = payloads.parse(raw)
    except ProtocolError as exc:
        # The message authenticated, so the session advances; only its
        # content is unusable.
        return Incoming(envelope_id, sender, error=exc)
    kind = payload.get("type")
    if kind == "text":
        message = Message(
            sender, payload["id"], "in", payload["sent"], payload["body"], "delivered"
        )
        if records.find_message(vault, sender, message.id) is None:
            batch.put(
                records.message_item(
                    sender, message.id, "in", message.sent, message.body, message.state
                )
            )
        return Incoming(envelope_id, sender, message=message)
    if kind == "receipt":
        state = payload["state"]
        for message_id in payload["ids"]:
            item = records.find_message(vault, sender, message_id)
            if item is None or item.value.get("dir") != "out":
                continue
            new_state = records.advance_state(str(item.value.get("state")), state)
            if new_state != item.value.get("state"):
                batch.put({**item.value, "state": new_state}, item.id)
        return Incoming(envelope_id, sender, receipt=(state, list(payload["ids"])))
    return Incoming(envelope_id, sender)


async def _open_or_reject(
    workspace: Workspace, envelope_id: str, sender: str, data: bytes
) -> tuple[Incoming, list[dict[str, Any]] | None]:
    """The envelope opened with its writes; or an error and no writes (None: keep it)."""
    try:
        incoming, batch = decrypt_envelope(
            workspace.vault, workspace.identity, envelope_id, sender, data
        )
        return incoming, batch.wire()
    except ProtocolError:
        # This copy of the vault may be behind another device's (a session
        # it set up, a prekey it rotated): look again with the latest.
        await workspace.sync()
    try:
        incoming, batch = decrypt_envelope(
            workspace.vault, workspace.identity, envelope_id, sender, data
        )
        return incoming, batch.wire()
    except UnsupportedVersionError as exc:
        # Made by a newer client: it stays stored until this one is updated.
        return Incoming(envelope_id, sender, error=exc), None
    except ProtocolError as exc:
        # Nothing can ever open this envelope, and keeping it would have it
        # delivered again forever; it is acknowledged and reported, and no
        # session changes.
        return Incoming(envelope_id, sender, error=exc), []


async def open_envelope(workspace: Workspace, frame: dict[str, Any]) -> Incoming:
    """Decrypt one envelope frame and acknowledge it together with what it changes.

    A group's stream item, and an envelope within a group (it names the group
    and member keys, never an account), are client_py/groups.py's.
    """
    if frame.get("type") == "group":
        updates = await groups.handle_stream_item(workspace, frame)
        return Incoming(field(frame, "id", str), "", group=updates)
    if "group" in frame:
        update = await groups.handle_envelope(workspace, frame)
        return Incoming(field(frame, "id", str), "", group=[update])
    envelope_id = field(frame, "id", str)
    sender = field(frame, "from", str)
    data = b64u_field(frame, "env")

    async def attempt() -> Incoming:
        incoming, wire = await _open_or_reject(workspace, envelope_id, sender, data)
        if wire is None:
            return incoming
        try:
            await workspace.channel.ack(envelope_id, wire)
        except ServerError as exc:
            if exc.code != "not_found":
                raise
            # Another device of this account handled it first.
            await workspace.sync()
            return Incoming(envelope_id, sender)
        workspace.vault.apply(wire)
        if incoming.message is not None:
            workspace.delivered.setdefault(sender, []).append(incoming.message.id)
        return incoming

    async with workspace.lock:
        return await retry_on_conflict(attempt, workspace.sync)


async def receive_pending(workspace: Workspace) -> list[Incoming]:
    """Open every envelope that waited for this device (receipts are the caller's).

    Group stream items pushed meanwhile are handled too; `ready` counts only
    envelopes, so they do not count towards it (groups.pull fetches the rest).
    """
    results = []
    left = workspace.channel.pending_at_start
    while left > 0:
        try:
            frame = await workspace.channel.next_envelope(workspace.timeout)
        except AnswerTimeoutError:
            # Fewer came than announced (one expired meanwhile): done.
            break
        left -= frame.get("type") != "group"
        results.append(await open_envelope(workspace, frame))
    return results
