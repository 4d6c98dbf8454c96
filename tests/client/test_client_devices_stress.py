"""Two devices of one account and a peer, all sending and receiving at once.

Real server, three Python clients in one process: a therapist signed in on an
office computer and a laptop, and a client. The three send a few hundred
texts concurrently, with random pauses before every send and every opening
of an envelope, so that the two devices keep racing each other for the same
session (reserving it to send, acknowledging what arrives). Afterwards:

- every text was committed exactly once on the receiving side (by exactly
  one of the two devices, for the client's texts), none is missing, and each
  sender's texts were opened in the order it sent them;
- no two envelopes that reached the server share a message key, hence an
  AEAD key and nonce: the key of every encryption is recomputed from the
  state the ratchet started from (`KDF_CK(CKs)`, PROTOCOL.md 5.1) by wrapping
  `crypto.ratchet.encrypt` for this test only, and every envelope delivered
  is traced back to its encryption by its ciphertext;
- the vaults hold exactly one message item per text.

The pauses come from a seeded generator whose seed is in every failure
message, so a failing interleaving can be studied again.
"""

import asyncio
import os
import random
from typing import Any

import pytest
from client_harness import close_all, new_client, new_therapist

from client_py.client import Client
from client_py.errors import AnswerTimeoutError, VaultConflictError
from crypto import envelope as envelope_codec
from crypto import ratchet
from crypto.constants import VAULT_CONFLICT_RETRIES
from crypto.encoding import b64u_decode
from crypto.kdf import kdf_ck, message_aead_key
from crypto.ratchet import RatchetState

PER_SENDER = 90  # texts from each of the three senders: 270 in all
MAX_PAUSE = 0.006  # seconds; each send and each opening waits up to this long first
WAIT = 60.0


class KeyRecorder:
    """`ratchet.encrypt` that also notes, by ciphertext, the message key it used."""

    def __init__(self) -> None:
        self.by_ciphertext: dict[bytes, tuple[bytes, int, bytes]] = {}
        self._encrypt = ratchet.encrypt

    def __call__(self, state: RatchetState, plaintext: bytes) -> Any:
        new_state, header, ciphertext = self._encrypt(state, plaintext)
        assert state.cks is not None
        _next_chain_key, message_key = kdf_ck(state.cks)
        self.by_ciphertext[ciphertext] = (header.dh, header.n, message_key)
        return new_state, header, ciphertext


async def test_two_devices_and_a_peer_send_hundreds_of_texts_at_once(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    where = f"(random seed {seed})"
    recorder = KeyRecorder()
    monkeypatch.setattr(ratchet, "encrypt", recorder)

    office, secret = await new_therapist(server, "Dr. Many Devices")
    laptop = await Client.login(server.url, secret)
    client, client_secret = await new_client(server)
    sent: dict[str, list[str]] = {name: [] for name in ("office", "laptop", "client")}
    # What each device committed, in order, and every envelope that arrived.
    committed: dict[str, list[str]] = {name: [] for name in ("office", "laptop", "client")}
    delivered: dict[str, bytes] = {}
    gave_up = dict.fromkeys(committed, 0)

    async def pause() -> None:
        await asyncio.sleep(rng.uniform(0, MAX_PAUSE))

    async def send_all(name: str, device: Client, peer: str) -> None:
        for i in range(PER_SENDER):
            await pause()
            body = f"{name} {i}"
            while True:
                try:
                    await device.send(peer, body)
                    break
                except VaultConflictError:
                    # The other device kept winning the race: nothing was
                    # sent, and the text is sent again, as the web client's
                    # outbox does after a pause (WEB_CLIENT.md, "Conflicts").
                    gave_up[name] += 1
                    await pause()
            sent[name].append(body)

    async def receive(name: str, device: Client, done: Any) -> None:
        while not done():
            try:
                frame = await device.next_envelope(0.5)
            except AnswerTimeoutError:
                continue
            delivered[frame["id"]] = b64u_decode(frame["env"])
            await pause()
            while True:
                try:
                    incoming = await device.open_envelope(frame)
                    break
                except VaultConflictError:
                    # Nothing was acknowledged; the envelope is still stored.
                    gave_up[name] += 1
                    await pause()
            assert incoming.error is None, f"{incoming.error} {where}"
            if incoming.message is not None:
                committed[name].append(incoming.message.body)

    def therapist_has_all() -> bool:
        return len(committed["office"]) + len(committed["laptop"]) >= PER_SENDER

    def client_has_all() -> bool:
        return len(committed["client"]) >= 2 * PER_SENDER

    try:
        for device in (office, laptop, client):
            await device.connect()
        await asyncio.wait_for(
            asyncio.gather(
                send_all("office", office, client.account),
                send_all("laptop", laptop, client.account),
                send_all("client", client, office.account),
                receive("office", office, therapist_has_all),
                receive("laptop", laptop, therapist_has_all),
                receive("client", client, client_has_all),
            ),
            WAIT,
        )
    finally:
        await close_all(office, laptop, client)

    # Exactly once, none lost, in each sender's order.
    by_therapist = committed["office"] + committed["laptop"]
    assert sorted(by_therapist) == sorted(sent["client"]), where
    assert len(set(by_therapist)) == len(by_therapist), where
    for name in ("office", "laptop"):
        order = [sent["client"].index(body) for body in committed[name]]
        assert order == sorted(order), f"{name} opened the client's texts out of order {where}"
    assert sorted(committed["client"]) == sorted(sent["office"] + sent["laptop"]), where
    assert len(set(committed["client"])) == len(committed["client"]), where
    for name in ("office", "laptop"):
        mine = [body for body in committed["client"] if body.startswith(f"{name} ")]
        assert mine == sent[name], f"the client opened {name}'s texts out of order {where}"
    # Which device acknowledged each of the client's texts is up to the race.
    print(f"committed by office {len(committed['office'])}, laptop {len(committed['laptop'])}")
    print(f"operations given up after {VAULT_CONFLICT_RETRIES} retries and redone: {gave_up}")

    # No message key, hence no AEAD key and nonce, under two envelopes.
    keys = []
    for data in delivered.values():
        parsed = envelope_codec.parse(data)
        recorded = recorder.by_ciphertext.get(parsed.ciphertext)
        assert recorded is not None, f"an envelope no encryption made {where}"
        dh, n, message_key = recorded
        assert (dh, n) == (parsed.header.dh, parsed.header.n), where
        keys.append(message_key)
    assert len(delivered) >= 3 * PER_SENDER, where
    assert len(set(keys)) == len(keys), f"a message key was used twice {where}"
    nonces = [message_aead_key(key) for key in keys]
    assert len(set(nonces)) == len(nonces), where

    # The vaults, read afresh, hold one item per text.
    for account_secret, expected in (
        (secret, len(sent["client"]) + 2 * PER_SENDER),
        (client_secret, 3 * PER_SENDER),
    ):
        reader = await Client.login(server.url, account_secret)
        try:
            items = [
                (m.id, m.dir, m.body)
                for conversation in reader.conversations()
                for m in reader.history(conversation.peer)
            ]
        finally:
            await reader.close()
        assert len(items) == expected == len(set(items)), where
        assert len({(i, d) for i, d, _ in items}) == expected, where
