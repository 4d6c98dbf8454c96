"""Test parties for groups on the real server: moderators, members, rosters, messages.

Everything is made as a client makes it: rosters signed by the moderator's
identity key (crypto.group_roster), member keys that sign their own prekeys,
listings signed like profiles. Group messages are either real (crypto's
sender keys) or random ciphertext under a real sender-key signature, when
only the server's handling is tested.
"""

import asyncio
import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from server_harness import (
    FRAME_TIMEOUT,
    Account,
    Reply,
    Socket,
    make_therapist,
    public_prekey,
)

from crypto import keys, signatures
from crypto.constants import (
    BUCKETS,
    CTX_GROUP_MESSAGE,
    CTX_PROFILE,
    MEMBER_ADMITTED,
    ROSTER_FLAG_INVITE_ONLY,
)
from crypto.encoding import b64u_encode
from crypto.group_message import GroupHeader
from crypto.group_roster import (
    Roster,
    RosterEntry,
    Tombstone,
    name_commitment,
    sign_roster,
    sign_tombstone,
)
from crypto.keys import IdentityKeyPair
from crypto.sender_key import signing_public_key


@dataclass
class Member:
    """A member key of one group: the account that registered it, and its display name."""

    account: Account
    key: IdentityKeyPair
    name: str
    salt: bytes = field(default_factory=lambda: os.urandom(32))

    @property
    def key_text(self) -> str:
        return b64u_encode(self.key.public)


@dataclass
class Group:
    """A group as its moderator's client holds it: id, entries, the version it signed last."""

    moderator: Account
    id: bytes = field(default_factory=lambda: os.urandom(16))
    version: int = 0
    flags: int = 0
    entries: dict[bytes, RosterEntry] = field(default_factory=dict)
    moderators: tuple[bytes, ...] = ()

    @property
    def id_text(self) -> str:
        return b64u_encode(self.id)

    @property
    def path(self) -> str:
        return f"/api/groups/{self.id_text}"

    def sign(self, version: int | None = None, signer: IdentityKeyPair | None = None) -> bytes:
        roster = Roster(
            self.id,
            self.version if version is None else version,
            self.flags,
            50,
            self.moderators or (self.moderator.identity.public,),
            tuple(self.entries[key] for key in sorted(self.entries)),
        )
        return sign_roster((signer or self.moderator.identity).seed, roster)

    def next_roster(self) -> bytes:
        self.version += 1
        return self.sign()

    def set_state(self, member: Member, state: int) -> None:
        self.entries[member.key.public] = RosterEntry(
            member.key.public,
            state,
            self.version + 1,
            name_commitment(self.id, member.key.public, member.name, member.salt),
        )

    def listing(self, name: str, **fields: Any) -> dict[str, str]:
        data = json.dumps({"group": self.id_text, "name": name, "max_members": 50, **fields})
        raw = data.encode()
        sig = signatures.sign_group_listing(self.moderator.identity.seed, raw)
        return {"listing": b64u_encode(raw), "sig": b64u_encode(sig)}

    def create(self, listing_name: str | None = "Evening circle") -> Reply:
        self.version = 1
        if listing_name is None:
            self.flags |= ROSTER_FLAG_INVITE_ONLY
        body: dict[str, Any] = {"roster": b64u_encode(self.sign())}
        if listing_name is not None:
            body.update(self.listing(listing_name))
        return self.moderator.call("POST", "/api/groups", body)

    def upload(self, signed: bytes) -> Reply:
        return self.moderator.call("PUT", f"{self.path}/roster", {"roster": b64u_encode(signed)})

    def admit(self, *members: Member, state: int = MEMBER_ADMITTED) -> Reply:
        for member in members:
            self.set_state(member, state)
        reply = self.upload(self.next_roster())
        assert reply.status == 200, reply.body
        return reply

    def tombstone(self, sender_key: bytes, iteration: int) -> bytes:
        return sign_tombstone(
            self.moderator.identity.seed, Tombstone(self.id, sender_key, iteration)
        )


def give_profile(therapist: Account, name: str = "Dr. Example") -> None:
    """A signed profile, so that the therapist (and its open groups) show in the directory."""
    profile = json.dumps({"display_name": name}).encode()
    sig = signatures.sign(therapist.identity.seed, CTX_PROFILE, profile)
    reply = therapist.call(
        "PUT", "/api/profile", {"profile": b64u_encode(profile), "sig": b64u_encode(sig)}
    )
    assert reply.status == 200, reply.body


def member_key_upload(key: IdentityKeyPair, one_time: int = 3) -> dict[str, Any]:
    """Prekeys signed by the member key: the proof that the caller holds it."""
    spk = keys.make_signed_prekey(key.seed, 1)
    pq = keys.make_pq_prekey(key.seed, 2)
    opks = [keys.make_one_time_prekey(key.seed, 100 + i) for i in range(one_time)]
    return {
        "signed_prekey": public_prekey(spk),
        "pq_prekey": public_prekey(pq),
        "one_time_prekeys": [public_prekey(p) for p in opks],
    }


def register(group: Group, account: Account, name: str = "River") -> Member:
    member = Member(account, IdentityKeyPair.generate(), name)
    reply = account.call(
        "PUT", f"{group.path}/keys/{member.key_text}", member_key_upload(member.key)
    )
    assert reply.status == 200, reply.body
    return member


def new_group(server: Any, listing_name: str | None = "Evening circle") -> Group:
    group = Group(make_therapist(server))
    reply = group.create(listing_name)
    assert reply.status == 201, reply.body
    return group


@dataclass
class FakeSender:
    """A sender key that signs random ciphertext: valid framing, nothing anyone can read."""

    seed: bytes = field(default_factory=lambda: os.urandom(32))
    iteration: int = 0

    @property
    def key(self) -> bytes:
        return signing_public_key(self.seed)

    def message(self, group: Group, roster_version: int = 1, bucket: int = BUCKETS[0]) -> bytes:
        header = GroupHeader(group.id, roster_version, self.key, self.iteration).encode()
        self.iteration += 1
        ciphertext = os.urandom(bucket + 16)
        return (
            header + ciphertext + signatures.sign(self.seed, CTX_GROUP_MESSAGE, header + ciphertext)
        )


async def group_send(socket: Socket, group: Group, message: bytes) -> dict[str, Any]:
    """`group_send`, and its answer (`group_sent` or the `error` naming its cmid)."""
    cmid = b64u_encode(secrets.token_bytes(16))
    await socket.send(
        {"type": "group_send", "cmid": cmid, "group": group.id_text, "msg": b64u_encode(message)}
    )
    return await answer(socket, lambda f: f.get("type") == "group_sent" and f["cmid"] == cmid, cmid)


async def group_ack(
    socket: Socket, group: Group, item_id: str, vault: Any = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "group_ack", "group": group.id_text, "id": item_id}
    if vault is not None:
        frame["vault"] = vault
    await socket.send(frame)
    return await answer(
        socket, lambda f: f.get("type") == "group_acked" and f["id"] == item_id, item_id
    )


async def answer(socket: Socket, matches: Any, ref: str) -> dict[str, Any]:
    def wanted(frame: dict[str, Any]) -> bool:
        return (frame.get("type") == "error" and frame.get("ref") == ref) or matches(frame)

    for index, frame in enumerate(socket.backlog):
        if wanted(frame):
            return socket.backlog.pop(index)
    while True:
        frame = json.loads(await asyncio.wait_for(socket.ws.recv(), FRAME_TIMEOUT))
        if wanted(frame):
            return frame
        socket.backlog.append(frame)


async def items(socket: Socket, count: int) -> list[dict[str, Any]]:
    """The next `count` group items this connection receives, in the order received."""
    return [await socket.expect("group") for _ in range(count)]
