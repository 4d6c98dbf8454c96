"""What a received envelope changes in the vault (docs/PROTOCOL.md sections 4, 6 and 10).

`open_envelope` decrypts one envelope against the vault as it is and returns
what it was (`Incoming`) with the `Batch` of writes to commit together with its
acknowledgement: the new session state, the prekeys item when a prekey message
set up a session, a contact for a new peer, and the message item or the
message states a receipt advances. It writes nothing itself, so a refused
commit leaves everything as it was.
"""

from dataclasses import dataclass

from crypto import client_items as items
from crypto import payload as payloads
from crypto import session as sessions
from crypto.client_errors import VaultCorruptError
from crypto.client_items import Message
from crypto.client_vault import Batch, Vault
from crypto.errors import ProtocolError
from crypto.keys import IdentityKeyPair
from crypto.prekeys import store_from_item, store_to_item


@dataclass(frozen=True)
class Incoming:
    """What one received envelope turned out to be.

    Exactly one of `message`, `receipt` and `error` is set, or none of them
    for a payload type this client does not know (the session still advanced)
    or an envelope another device had already handled.
    """

    envelope_id: str
    peer: str
    message: Message | None = None
    receipt: tuple[str, list[str]] | None = None
    error: ProtocolError | None = None


def open_envelope(
    vault: Vault, identity: IdentityKeyPair, envelope_id: str, sender: str, data: bytes
) -> tuple[Incoming, Batch]:
    """Decrypt an envelope from `sender`; raises a ProtocolError and changes nothing if it fails."""
    stored = vault.one("session", peer=sender)
    prekeys_item = vault.one("prekeys")
    if prekeys_item is None:
        raise VaultCorruptError("The vault has no prekeys item; log in again to repair it.")
    state = None if stored is None else items.session_state(stored.value)
    result = sessions.decrypt(identity, data, state, store_from_item(prekeys_item.value))
    # A sender under another identity key than the session's was refused by
    # sessions.decrypt (PROTOCOL.md section 4, step 0).
    peer_identity = sessions.peer_identity(result.state, identity.public)
    batch = vault.batch()
    batch.put(
        items.session_item(
            None if stored is None else stored.value, sender, peer_identity, result.state
        ),
        None if stored is None else stored.id,
    )
    if result.prekeys is not None:
        batch.put(store_to_item(result.prekeys), prekeys_item.id)
    if vault.one("contact", peer=sender) is None:
        batch.put(items.contact_item(None, sender, "", False))
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
        if items.find_message(vault, sender, message.id) is None:
            batch.put(
                items.message_item(
                    sender, message.id, "in", message.sent, message.body, message.state
                )
            )
        return Incoming(envelope_id, sender, message=message)
    if kind == "receipt":
        state = payload["state"]
        for message_id in payload["ids"]:
            item = items.find_message(vault, sender, message_id)
            if item is None or item.value.get("dir") != "out":
                continue
            new_state = items.advance_state(str(item.value.get("state")), state)
            if new_state != item.value.get("state"):
                batch.put({**item.value, "state": new_state}, item.id)
        return Incoming(envelope_id, sender, receipt=(state, list(payload["ids"])))
    return Incoming(envelope_id, sender)
