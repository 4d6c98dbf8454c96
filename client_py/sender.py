"""Sending texts and receipts (the twin of client_web/app/sender.js; PROTOCOL.md section 10).

Before an envelope leaves, the session state that produced it is committed
on its own (`reserve`), so two devices can never encrypt two payloads under
one message key: if another device advanced the same session, this commit is
refused before the server has seen a single ciphertext, and the payloads are
encrypted again from the synced state. The `send` frame then carries the
message item (`submit`), stored together with the envelope or not at all.
Both go through `retry_on_conflict`.
"""

import time

from client_py import directory, records
from client_py.errors import BadInputError, ServerError
from client_py.ids import new_id
from client_py.records import Message
from client_py.vaultstore import Batch, retry_on_conflict
from client_py.workspace import Workspace
from crypto import payload as payloads
from crypto import session as sessions
from crypto.constants import ED25519_PUBLIC_KEY_BYTES, ID_BYTES, MAX_BODY_CHARS
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import MalformedError
from crypto.session_record import SessionRecord
from crypto.x3dh import Bundle, parse_bundle

# Why a server may refuse a receipt for good; the receipt is then dropped.
RECEIPT_REFUSALS = frozenset({"blocked", "not_found", "forbidden"})


def check_body(text: str) -> None:
    if not text.strip():
        raise BadInputError("The message is empty; write something first.")
    if len(text) > MAX_BODY_CHARS:
        raise BadInputError(
            f"This message is {len(text)} characters; the most is {MAX_BODY_CHARS}. "
            "Split it in two."
        )


async def fetch_bundle(workspace: Workspace, peer: str) -> Bundle:
    """Fetch a peer's bundle and verify every key and signature in it.

    A therapist's bundle must also carry the identity key that signed the
    therapist's profile in the directory.
    """
    bundle = parse_bundle(await workspace.http.get(f"/api/bundle/{peer}"))
    if b64u_encode(bundle.account) != peer:
        raise MalformedError("The server sent the bundle of another account.")
    for therapist in await directory.cached(workspace):
        if therapist.account == peer and therapist.identity_key != b64u_encode(bundle.identity_key):
            raise MalformedError(
                "The therapist's keys do not match their signed profile; nothing was sent."
            )
    return bundle


async def _session_for_sending(
    workspace: Workspace, peer: str, bundle: Bundle | None
) -> tuple[records.StoredSessions, SessionRecord, bytes, Bundle | None]:
    """The peer's session record; new messages go under its first, active session (5.8)."""
    stored = records.stored_sessions(workspace.vault, peer)
    if stored.first is not None and stored.record is not None:
        peer_identity = b64u_decode(stored.first.value["peer_identity"], ED25519_PUBLIC_KEY_BYTES)
        return stored, stored.record, peer_identity, bundle
    if bundle is None:
        bundle = await fetch_bundle(workspace, peer)
    state = sessions.start_session(workspace.identity, bundle)
    return stored, (state,), bundle.identity_key, bundle


def ensure_contact(workspace: Workspace, batch: Batch, peer: str, label: str = "") -> None:
    if workspace.vault.find("contact", peer=peer) is None:
        batch.put(records.contact_item(None, peer, label, False))


async def reserve(workspace: Workspace, peer: str, bodies: list[bytes]) -> list[bytes]:
    """Encrypt payloads in order and commit the advanced session before any envelope leaves.

    Should the envelopes then never be stored, the receiver merely skips
    their keys.
    """
    bundle: Bundle | None = None

    async def attempt() -> list[bytes]:
        nonlocal bundle
        stored, record, peer_identity, bundle = await _session_for_sending(workspace, peer, bundle)
        state = record[0]
        envelopes = []
        for body in bodies:
            outgoing = sessions.encrypt(state, body)
            state = outgoing.state
            envelopes.append(outgoing.envelope)
        batch = workspace.vault.batch()
        records.put_sessions(batch, stored, peer, peer_identity, (state, *record[1:]))
        ensure_contact(workspace, batch, peer, await directory.listed_name(workspace, peer))
        await workspace.commit(batch)
        return envelopes

    return await retry_on_conflict(attempt, workspace.sync)


async def submit(workspace: Workspace, peer: str, envelope: bytes, batch: Batch) -> None:
    """Send a reserved envelope with the vault writes that belong to it.

    After a conflict nothing was stored; the writes are re-based on the synced
    vault (versions are read when a batch becomes writes).
    """

    async def attempt() -> None:
        wire = batch.wire()
        await workspace.channel.send(new_id(), peer, envelope, wire)
        workspace.vault.apply(wire)

    await retry_on_conflict(attempt, workspace.sync)


async def send_many(
    workspace: Workspace, peer: str, texts: list[str], submit_order: list[int] | None = None
) -> list[Message]:
    """Encrypt several texts in order and submit their envelopes in `submit_order`.

    Each envelope carries its own message item. A submit order other than
    the encryption order makes the server deliver the envelopes out of
    order, which the receiver's ratchet must handle.
    """
    order = list(range(len(texts))) if submit_order is None else submit_order
    if sorted(order) != list(range(len(texts))):
        raise ValueError("submit_order must be a permutation of the texts' indexes.")
    for text in texts:
        check_body(text)
    async with workspace.lock:
        sent = int(time.time())
        messages = [Message(peer, new_id(), "out", sent, text, "sent") for text in texts]
        bodies = [
            payloads.encode_text(b64u_decode(m.id, ID_BYTES), m.sent, m.body) for m in messages
        ]
        envelopes = await reserve(workspace, peer, bodies)
        for index in order:
            m = messages[index]
            batch = workspace.vault.batch()
            batch.put(records.message_item(peer, m.id, "out", m.sent, m.body, m.state))
            await submit(workspace, peer, envelopes[index], batch)
        return messages


async def send_receipt(
    workspace: Workspace, peer: str, state: str, ids: list[str], extra: Batch
) -> None:
    """Send a receipt, committing `extra` (message state changes) with it.

    Receipts are a courtesy: when the server will not take one (the peer
    deleted the account or closed the thread), `extra` is committed alone.
    """
    if workspace.vault.find("session", peer=peer) is not None:
        body = payloads.encode_receipt(state, [b64u_decode(i, ID_BYTES) for i in ids])
        try:
            envelopes = await reserve(workspace, peer, [body])
            await submit(workspace, peer, envelopes[0], extra)
            return
        except ServerError as exc:
            if exc.code not in RECEIPT_REFUSALS:
                raise
    await workspace.commit_change(lambda: extra)


async def flush_receipts(workspace: Workspace) -> None:
    """Send the `delivered` receipts owed for texts received so far."""
    async with workspace.lock:
        owed, workspace.delivered = workspace.delivered, {}
        for peer, ids in owed.items():
            await send_receipt(workspace, peer, "delivered", ids, workspace.vault.batch())
