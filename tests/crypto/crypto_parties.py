"""Real parties for the crypto tests: identities, published prekeys and sessions.

Everything is generated with the production code paths (random keys, real
ML-KEM encapsulation); nothing is mocked.
"""

import os
from dataclasses import dataclass
from typing import Any

from crypto import group_roster, keys, payload, sender_key, session
from crypto.constants import MEMBER_ADMITTED
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
    back = session.decrypt(alice, reply.envelope, (first.state,), EMPTY_STORE)
    return Pair(alice, bob, back.state, reply.state)


class Group:
    """A moderator and members with real keys, rosters signed as the moderator would."""

    def __init__(self, names: tuple[str, ...] = ("alice", "bob", "carol")) -> None:
        self.group_id = os.urandom(16)
        self.moderator = IdentityKeyPair.generate()
        self.seeds = {name: os.urandom(32) for name in names}
        self.keys = {name: IdentityKeyPair.from_seed(s).public for name, s in self.seeds.items()}
        self.salts = {name: os.urandom(32) for name in names}
        self.version = 0
        self.entries: dict[str, group_roster.RosterEntry] = {}
        for name in names:
            self.set(name, MEMBER_ADMITTED)
        first = self.sign()
        self.states = {
            name: sender_key.join(first, self.group_id, self.moderator.public, s)
            for name, s in self.seeds.items()
        }

    def set(self, name: str, state: int) -> None:
        commitment = group_roster.name_commitment(
            self.group_id, self.keys[name], name.title(), self.salts[name]
        )
        self.entries[name] = group_roster.RosterEntry(
            self.keys[name], state, self.version + 1, commitment
        )

    def sign(self) -> bytes:
        self.version += 1
        entries = tuple(sorted(self.entries.values(), key=lambda e: e.member_key))
        roster = group_roster.Roster(
            self.group_id, self.version, 0, 50, (self.moderator.public,), entries
        )
        return group_roster.sign_roster(self.moderator.seed, roster)

    def publish(self) -> None:
        signed = self.sign()
        for name in self.states:
            self.states[name] = sender_key.accept_roster(self.states[name], signed)

    def rotate(self, name: str) -> None:
        self.states[name] = sender_key.create_sender_key(self.states[name], 0)
        data = sender_key.distribution_message(self.states[name], name.title(), self.salts[name])
        for key in sender_key.recipients(self.states[name]):
            other = next(n for n, k in self.keys.items() if k == key)
            self.states[other] = sender_key.process_distribution(self.states[other], data)

    def send(self, name: str, text: str) -> bytes:
        self.states[name], data = sender_key.group_encrypt(self.states[name], text.encode())
        return data
