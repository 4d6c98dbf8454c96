"""Real parties for the crypto tests: identities, published prekeys and sessions.

Everything is generated with the production code paths (random keys, real
ML-KEM encapsulation); nothing is mocked.
"""

import os
from dataclasses import dataclass
from typing import Any

from crypto import keys, payload, session
from crypto.encoding import b64u_encode
from crypto.keys import IdentityKeyPair
from crypto.prekeys import PrekeyStore
from crypto.ratchet import RatchetState
from crypto.x3dh import Bundle, parse_bundle

EMPTY_STORE = PrekeyStore({}, {}, {}, (), 0)


def _public(prekey: keys.SignedX25519Prekey | keys.SignedKemPrekey) -> dict[str, Any]:
    return {"id": prekey.id, "key": b64u_encode(prekey.public), "sig": b64u_encode(prekey.sig)}


@dataclass
class Responder:
    """An account with published prekeys, as the server would serve them."""

    identity: IdentityKeyPair
    account: bytes
    spk: keys.SignedX25519Prekey
    pq: keys.SignedKemPrekey
    opks: list[keys.SignedX25519Prekey]
    store: PrekeyStore

    def bundle_json(self, with_opk: bool = True) -> dict[str, Any]:
        return {
            "account": b64u_encode(self.account),
            "identity_key": b64u_encode(self.identity.public),
            "signed_prekey": _public(self.spk),
            "pq_prekey": _public(self.pq),
            "one_time_prekey": _public(self.opks.pop(0)) if with_opk and self.opks else None,
        }

    def bundle(self, with_opk: bool = True) -> Bundle:
        return parse_bundle(self.bundle_json(with_opk))


def make_responder(one_time: int = 2) -> Responder:
    identity = IdentityKeyPair.generate()
    spk = keys.make_signed_prekey(identity.seed, keys.new_prekey_id())
    pq = keys.make_pq_prekey(identity.seed, keys.new_prekey_id({spk.id}))
    opks = [keys.make_one_time_prekey(identity.seed, 100 + i) for i in range(one_time)]
    store = PrekeyStore(
        spk={spk.id: spk.private},
        pq={pq.id: pq.seed},
        opk={p.id: p.private for p in opks},
        seen_ek=(),
        rotated=0,
    )
    return Responder(identity, os.urandom(16), spk, pq, opks, store)


def text(body: str) -> bytes:
    return payload.encode_text(os.urandom(16), 1767225600, body)


@dataclass
class Pair:
    """Alice and Bob after Alice's first message reached Bob and Bob's reply reached Alice."""

    alice: IdentityKeyPair
    bob: Responder
    alice_state: RatchetState
    bob_state: RatchetState


def established_pair() -> Pair:
    alice = IdentityKeyPair.generate()
    bob = make_responder()
    first = session.encrypt(session.start_session(alice, bob.bundle()), text("hello"))
    received = session.decrypt(bob.identity, first.envelope, None, bob.store)
    assert received.prekeys is not None
    bob.store = received.prekeys
    reply = session.encrypt(received.state, text("hello back"))
    back = session.decrypt(alice, reply.envelope, first.state, EMPTY_STORE)
    return Pair(alice, bob, back.state, reply.state)
