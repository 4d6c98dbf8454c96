"""A small client-side layer over PQXDH and the ratchet (docs/PROTOCOL.md 4 to 7).

It turns payload bytes into envelope bytes and back. Nothing here writes
anywhere: every change a received message causes (the new session state, a
one-time prekey used, an ephemeral key accepted) is returned in `Received`,
and the caller commits all of it together with the acknowledgement, or none
of it.
"""

import hmac
from dataclasses import dataclass

from crypto import envelope as envelope_codec
from crypto import ratchet
from crypto.envelope import MessageEnvelope, PrekeyEnvelope
from crypto.errors import (
    IdentityChangedError,
    ProtocolError,
    ReplayedError,
    TamperedError,
    WrongRecipientError,
)
from crypto.keys import IdentityKeyPair, KeyPair, generate_x25519, x25519_from_private
from crypto.padding import pad, unpad
from crypto.prekeys import PrekeyStore
from crypto.ratchet import DhGenerator, PendingPrekey, RatchetState, init_receiver, init_sender
from crypto.session_record import SessionRecord, add_session, promote
from crypto.signatures import check_identity_key
from crypto.x3dh import Bundle, initiate, respond


def start_session(
    identity: IdentityKeyPair,
    bundle: Bundle,
    ephemeral: KeyPair | None = None,
    kem_encapsulation: tuple[bytes, bytes] | None = None,
    generate_dh: DhGenerator = generate_x25519,
) -> RatchetState:
    """Alice's new session with the owner of a verified bundle; it sends prekey messages."""
    secret = initiate(identity, bundle, ephemeral, kem_encapsulation)
    pending = PendingPrekey(secret.spk_id, secret.opk_id, secret.pq_id, secret.kem_ciphertext)
    return init_sender(
        secret.sk, secret.ad, secret.ephemeral_public, secret.responder_spk, pending, generate_dh
    )


def peer_identity(state: RatchetState, own_identity_key: bytes) -> bytes:
    """The other party's Ed25519 identity key, from the session's AD = IK_A || IK_B."""
    initiator, responder = state.ad[:32], state.ad[32:]
    return responder if hmac.compare_digest(initiator, own_identity_key) else initiator


@dataclass(frozen=True)
class Outgoing:
    state: RatchetState
    envelope: bytes


def encrypt(state: RatchetState, payload: bytes) -> Outgoing:
    """Pad and encrypt one payload; a prekey envelope until the peer has answered."""
    new_state, header, ciphertext = ratchet.encrypt(state, pad(payload))
    pending = state.pending
    if pending is None:
        message = MessageEnvelope(header, ciphertext).encode()
    else:
        message = PrekeyEnvelope(
            identity_key=state.ad[:32],
            ephemeral_key=state.ek,
            spk_id=pending.spk_id,
            opk_id=pending.opk_id,
            pq_id=pending.pq_id,
            kem_ciphertext=pending.kem_ciphertext,
            header=header,
            ciphertext=ciphertext,
        ).encode()
    return Outgoing(new_state, message)


@dataclass(frozen=True)
class Received:
    """A decrypted payload and every change the caller must commit with its acknowledgement.

    `record` is the peer's whole session record after the message (5.8): the
    session that opened it first.
    """

    payload: bytes
    record: SessionRecord
    new_session: bool
    prekeys: PrekeyStore | None

    @property
    def state(self) -> RatchetState:
        """The session that opened the message, now the active one."""
        return self.record[0]


def _open(
    state: RatchetState, message: MessageEnvelope, generate_dh: DhGenerator
) -> tuple[RatchetState, bytes]:
    new_state, padded = ratchet.decrypt(state, message.header, message.ciphertext, generate_dh)
    return new_state, unpad(padded)


def _open_in_record(
    record: SessionRecord, message: MessageEnvelope, generate_dh: DhGenerator
) -> tuple[SessionRecord, bytes]:
    """Section 5.8: try the sessions in order; the one that opens the message becomes active.

    When none opens it, the error is the first one that is not TamperedError
    (a session that knows the message's chain says what is wrong with it),
    else TamperedError. A failed attempt may have generated a ratchet key; it
    is discarded with the attempt.
    """
    first_error: ProtocolError | None = None
    for index, state in enumerate(record):
        try:
            new_state, payload = _open(state, message, generate_dh)
        except TamperedError as exc:
            first_error = first_error or exc
            continue
        except ProtocolError as exc:
            if first_error is None or isinstance(first_error, TamperedError):
                first_error = exc
            continue
        return promote(record, index, new_state), payload
    assert first_error is not None
    raise first_error


def decrypt(
    identity: IdentityKeyPair,
    data: bytes,
    record: SessionRecord | None,
    prekeys: PrekeyStore,
    generate_dh: DhGenerator = generate_x25519,
) -> Received:
    """Open an envelope from one peer, given our session record with that peer if there is one.

    `prekeys` changes only when a prekey message sets up a new session; then
    `Received.prekeys` is the store to write back, else it is None.
    """
    parsed = envelope_codec.parse(data)
    if isinstance(parsed, MessageEnvelope):
        if record is None:
            raise WrongRecipientError("There is no session with this sender to open the message.")
        new_record, payload = _open_in_record(record, parsed, generate_dh)
        return Received(payload, new_record, new_session=False, prekeys=None)

    check_identity_key(parsed.identity_key)
    # Step 0: an account's identity key never changes, so a sender we have a
    # session with must name the same one (every session of a record is
    # between the same two keys).
    if record is not None and not hmac.compare_digest(
        peer_identity(record[0], identity.public), parsed.identity_key
    ):
        raise IdentityChangedError()
    # Step 1: a further prekey message of a session this sender already set
    # up, active or earlier.
    for index, state in enumerate(() if record is None else record):
        if hmac.compare_digest(state.ek, parsed.ephemeral_key):
            new_state, payload = _open(state, parsed.inner(), generate_dh)
            return Received(
                payload, promote(record or (), index, new_state), new_session=False, prekeys=None
            )
    # Step 2: an ephemeral key already accepted means the session was set up before.
    if prekeys.has_seen(parsed.ephemeral_key):
        raise ReplayedError("This prekey message set up a session that was already replaced.")
    # Step 3: the prekeys it names.
    spk_private = prekeys.spk.get(parsed.spk_id)
    pq_seed = prekeys.pq.get(parsed.pq_id)
    opk_private = prekeys.opk.get(parsed.opk_id) if parsed.opk_id else None
    if spk_private is None or pq_seed is None or (parsed.opk_id and opk_private is None):
        raise WrongRecipientError()
    # Step 4: the new session, kept only if its first message opens.
    sk, ad = respond(
        identity,
        parsed.identity_key,
        parsed.ephemeral_key,
        parsed.kem_ciphertext,
        spk_private,
        pq_seed,
        opk_private,
    )
    fresh = init_receiver(sk, ad, parsed.ephemeral_key, x25519_from_private(spk_private))
    new_state, payload = _open(fresh, parsed.inner(), generate_dh)
    # Step 5: the changes to commit with the message; the new session becomes
    # the active one and the earlier ones are kept behind it (5.8).
    accepted = prekeys.accept(parsed.spk_id, parsed.ephemeral_key, parsed.opk_id or None)
    return Received(payload, add_session(record, new_state), new_session=True, prekeys=accepted)
