"""The Python client: everything the browser client does, as an async API.

A `Client` is one logged-in device of one account. Its state is the account's
vault (`client_vault.Vault`), synced from the server and changed only by
compare-and-swap writes that commit together with what caused them: a sent
envelope carries its message item, an acknowledgement carries the session
state, the message item and the prekeys item (docs/PROTOCOL.md section 10).
Before an envelope leaves, the session state that produced it is committed
on its own, so two devices can never encrypt two payloads under one message
key (see `_reserve`). When the server refuses such a write with
`vault_conflict`, another device got there first: the client syncs and does
the work again from the new state, where it usually finds the message already
handled (a replay), so a session never forks and no message is handled twice.

Vault-changing operations of one client are serialised by a lock, so a
`prekeys_low` top-up cannot race a message acknowledgement on the same device.
"""

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

from crypto import client_items as items
from crypto import client_prekeys
from crypto import client_receiving as receiving
from crypto import payload as payloads
from crypto import session as sessions
from crypto.client_directory import Therapist, fetch_directory, signed_profile
from crypto.client_errors import (
    AnswerTimeoutError,
    BadInputError,
    BadResponseError,
    InvalidSecretError,
    NotLoggedInError,
    NotTherapistError,
    ServerError,
    UnknownPeerError,
    VaultCorruptError,
)
from crypto.client_items import Conversation, Message
from crypto.client_profile import Profile, SavedLogin
from crypto.client_receiving import Incoming
from crypto.client_transport import DEFAULT_TIMEOUT, Channel, Http, b64u_field, field
from crypto.client_vault import Batch, Item, Vault
from crypto.constants import (
    CTX_REGISTER,
    CTX_WEBSOCKET_AUTH,
    ID_BYTES,
    MAX_BODY_CHARS,
    OPK_LOW_WATER,
)
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import MalformedError, ProtocolError, UnsupportedVersionError
from crypto.keys import IdentityKeyPair
from crypto.ratchet import RatchetState
from crypto.safety import safety_number
from crypto.signatures import (
    registration_data,
    sign,
    websocket_auth_data,
)
from crypto.vault import AccountSecret, derive_keys, generate_secret, normalise_secret
from crypto.x3dh import Bundle, parse_bundle

__all__ = ["Client", "Conversation", "Incoming", "Message", "Therapist"]

# How often one operation is redone after `vault_conflict` before giving up;
# each retry follows a sync, so more than a few means something is wrong.
MAX_CONFLICT_RETRIES = 5
REGISTER_ATTEMPTS = 3
PREFIX_MIN = 4
# Why a server may refuse a receipt for good; the receipt is then dropped.
RECEIPT_REFUSALS = frozenset({"blocked", "not_found", "forbidden"})
# A saved token this close to its expiry is not reused.
TOKEN_MARGIN = 300


def _new_id() -> str:
    return b64u_encode(secrets.token_bytes(ID_BYTES))


def _check_text(text: str) -> None:
    if not text.strip():
        raise BadInputError("The message is empty; write something first.")
    if len(text) > MAX_BODY_CHARS:
        raise BadInputError(
            f"This message is {len(text)} characters; the most is {MAX_BODY_CHARS}. "
            "Split it in two."
        )


def _is_conflict(exc: ServerError) -> bool:
    return exc.code == "vault_conflict"


class Client:
    """One device of one account; create it with `Client.register` or `Client.login`."""

    def __init__(
        self,
        server_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        profile: Profile | None = None,
    ) -> None:
        self.http = Http(server_url, timeout)
        self.server_url = self.http.server_url
        self.timeout = timeout
        self._profile = profile
        self._info: dict[str, Any] | None = None
        self._vault: Vault | None = None
        self._identity: IdentityKeyPair | None = None
        self._channel: Channel | None = None
        self._lock = asyncio.Lock()
        self._delivered: dict[str, list[str]] = {}
        self._directory_cache: list[Therapist] | None = None
        self.account: str = ""
        self.handle: str = ""
        self.role: str = ""

    # ---- account life cycle -------------------------------------------------

    async def info(self) -> dict[str, Any]:
        if self._info is None:
            info = await self.http.get("/api/info")
            b64u_field(info, "server_id", ID_BYTES)
            self._info = info
        return self._info

    async def server_id(self) -> bytes:
        return b64u_decode((await self.info())["server_id"], ID_BYTES)

    @classmethod
    async def register(
        cls,
        server_url: str,
        role: str = "client",
        *,
        invite: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        profile: Profile | None = None,
    ) -> tuple["Client", str]:
        """Create an account; returns the logged-in client and the secret to show once."""
        client = cls(server_url, timeout=timeout, profile=profile)
        server_id = await client.server_id()
        identity = IdentityKeyPair.generate()
        for attempt in range(REGISTER_ATTEMPTS):
            secret = generate_secret()
            keys = await asyncio.to_thread(derive_keys, secret)
            body: dict[str, Any] = {
                "role": role,
                "handle": secret.handle,
                "login_key": b64u_encode(keys.login_key),
                "identity_key": b64u_encode(identity.public),
                "sig": b64u_encode(
                    sign(identity.seed, CTX_REGISTER, registration_data(server_id, secret.handle))
                ),
            }
            if invite is not None:
                body["invite"] = invite
            try:
                answer = await client.http.post("/api/accounts", body)
                break
            except ServerError as exc:
                if exc.code != "handle_taken" or attempt == REGISTER_ATTEMPTS - 1:
                    raise
        account = field(answer, "account", str)
        await client._open_account(secret, keys.login_key, keys.vault_key)
        if client.account != account:
            raise BadResponseError("The server logged in to another account than it created.")
        client._identity = identity
        client.handle, client.role = secret.handle, role
        batch = client.vault.batch()
        batch.put(items.identity_item(role, account, secret.handle, identity.seed))
        prekeys_value, upload = client_prekeys.initial(identity.seed)
        batch.put(prekeys_value)
        await client.commit(batch)
        await client.http.put("/api/prekeys", upload)
        return client, secret.formatted()

    @classmethod
    async def login(
        cls,
        server_url: str,
        secret_text: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        profile: Profile | None = None,
    ) -> "Client":
        """Log in with the account secret alone and load the whole vault."""
        try:
            secret = normalise_secret(secret_text)
        except MalformedError as exc:
            raise InvalidSecretError(exc.message) from None
        client = cls(server_url, timeout=timeout, profile=profile)
        keys = await asyncio.to_thread(derive_keys, secret)
        await client._open_account(secret, keys.login_key, keys.vault_key)
        identity = client.vault.one("identity")
        if identity is None or identity.value.get("account") != client.account:
            raise VaultCorruptError()
        client._identity = IdentityKeyPair.from_seed(b64u_decode(identity.value["seed"], 32))
        client.role = str(identity.value.get("role", ""))
        await client.maintain_prekeys()
        return client

    async def _open_account(
        self, secret: AccountSecret, login_key: bytes, vault_key: bytes
    ) -> None:
        self.handle = secret.handle
        self._vault = Vault(vault_key)
        if self._profile is not None:
            cache = self._profile.vault_cache(self.server_url, self.handle)
            if cache is not None:
                self._vault.import_cache(cache)

        async def log_in() -> None:
            self.http.token = None
            answer = await self.http.post(
                "/api/login",
                {"handle": secret.handle, "login_key": b64u_encode(login_key), "kind": "cli"},
            )
            self.http.token = field(answer, "token", str)
            self.account = field(answer, "account", str)
            self._save_login(vault_key, answer.get("expires"))

        self.http.on_unauthorized = log_in
        if not (self._resume_login(vault_key) and await self._sync_if_authorized()):
            await log_in()
            await self._vault.sync(self.http)

    async def _sync_if_authorized(self) -> bool:
        """Sync with a resumed token; False when the server no longer accepts it."""
        relogin, self.http.on_unauthorized = self.http.on_unauthorized, None
        try:
            await self.vault.sync(self.http)
            return True
        except ServerError as exc:
            # A token another device signed out is replaced like an expired
            # one: this command was given the secret, so it signs in afresh.
            if exc.code not in ("unauthorized", "signed_out"):
                raise
            return False
        finally:
            self.http.on_unauthorized = relogin

    def _resume_login(self, vault_key: bytes) -> bool:
        """Reuse the token of an earlier login kept (encrypted) in the profile."""
        if self._profile is None:
            return False
        saved = self._profile.saved_login(self.server_url, self.handle, vault_key)
        if saved is None or saved.expires < time.time() + TOKEN_MARGIN:
            return False
        self.http.token, self.account = saved.token, saved.account
        return True

    def _save_login(self, vault_key: bytes, expires: Any) -> None:
        if self._profile is None or not isinstance(expires, int) or self.http.token is None:
            return
        self._profile.save_login(
            self.server_url,
            self.handle,
            vault_key,
            SavedLogin(self.http.token, self.account, expires),
        )

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            raise NotLoggedInError()
        return self._vault

    @property
    def identity(self) -> IdentityKeyPair:
        if self._identity is None:
            raise NotLoggedInError()
        return self._identity

    async def sync(self) -> None:
        async with self._lock:
            await self.vault.sync(self.http)

    async def commit(self, batch: Batch) -> None:
        """Commit a batch on its own (POST /api/vault); `vault_conflict` means sync and redo."""
        wire = batch.wire()
        if wire:
            await self.http.post("/api/vault", {"writes": wire})
            self.vault.apply(wire)

    async def _commit_fresh(self, change: Callable[[], Batch]) -> None:
        """Commit a batch built from the vault as it is; on `vault_conflict` sync and rebuild."""
        for attempt in range(MAX_CONFLICT_RETRIES):
            try:
                await self.commit(change())
                return
            except ServerError as exc:
                if not _is_conflict(exc) or attempt == MAX_CONFLICT_RETRIES - 1:
                    raise
                await self.vault.sync(self.http)

    async def delete_account(self) -> None:
        """Delete the account and everything the server holds for it."""
        await self.http.delete("/api/account")
        await self._close_channel()
        self.http.token = None
        self._vault = None
        self._identity = None

    async def logout(self) -> None:
        if self.http.token is not None:
            await self.http.post("/api/logout")
            self.http.token = None
        if self._profile is not None:
            self._profile.forget_login()
        await self.close()

    async def close(self) -> None:
        """Close the websocket and keep the encrypted vault cache in the profile."""
        await self._close_channel()
        if self._profile is not None and self._vault is not None and self.handle:
            self._profile.save_vault_cache(self.server_url, self.handle, self._vault.export_cache())

    async def _close_channel(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()

    # ---- prekeys -------------------------------------------------------------

    async def maintain_prekeys(self) -> None:
        """Rotate the signed prekeys when due, top up one-time prekeys, republish if needed."""
        async with self._lock:
            for attempt in range(MAX_CONFLICT_RETRIES):
                try:
                    await self._maintain_prekeys_once()
                    return
                except ServerError as exc:
                    if not _is_conflict(exc) or attempt == MAX_CONFLICT_RETRIES - 1:
                        raise
                    await self.vault.sync(self.http)

    async def _maintain_prekeys_once(self) -> None:
        seed = self.identity.seed
        status = await self.http.get("/api/prekeys")
        item = self.vault.one("prekeys")
        upload: dict[str, Any] = {}
        if item is None:
            value, upload = client_prekeys.initial(seed)
        else:
            value = item.value
            if client_prekeys.needs_rotation(value):
                value, rotated = client_prekeys.rotate(seed, value)
                upload.update(rotated)
            if field(status, "one_time", int) < OPK_LOW_WATER:
                value, added = client_prekeys.top_up(seed, value)
                upload.update(added)
        if upload:
            batch = self.vault.batch()
            batch.put(value, None if item is None else item.id)
            await self.commit(batch)
        if "signed_prekey" not in upload and (
            status.get("signed_prekey_id") != value["spk"][-1]["id"]
            or status.get("pq_prekey_id") != value["pq"][-1]["id"]
        ):
            # The item was committed but its upload never happened (a crash,
            # or another device's rotation that failed half-way): publish now.
            upload.update(client_prekeys.current_public(seed, value))
        if upload:
            await self.http.put("/api/prekeys", upload)

    async def _on_prekeys_low(self, _count: int) -> None:
        await self.maintain_prekeys()

    # ---- the websocket -------------------------------------------------------

    async def connect(self) -> None:
        """Open the authenticated websocket; undelivered envelopes start to arrive."""
        if self._channel is not None and not self._channel.closed:
            return
        seed = self.identity.seed
        server_id = await self.server_id()
        account_id = b64u_decode(self.account, ID_BYTES)

        def sign_challenge(nonce: bytes) -> bytes:
            return sign(seed, CTX_WEBSOCKET_AUTH, websocket_auth_data(server_id, nonce, account_id))

        async def open_channel() -> Channel:
            if self.http.token is None:
                raise NotLoggedInError("Log in first (Client.login).")
            return await Channel.open(
                self.server_url,
                server_id,
                account_id,
                self.http.token,
                sign_challenge,
                timeout=self.timeout,
                on_prekeys_low=self._on_prekeys_low,
            )

        try:
            channel = await open_channel()
        except ServerError as exc:
            # The session's token expired since the last request: log in
            # again, as an HTTP request would, and authenticate once more.
            if exc.code != "unauthorized" or self.http.on_unauthorized is None:
                raise
            await self.http.on_unauthorized()
            channel = await open_channel()
        # A closed channel is replaced only now, so that after a failed
        # reconnection the client still reports the disconnection.
        await self._close_channel()
        self._channel = channel

    @property
    def channel(self) -> Channel:
        if self._channel is None:
            raise NotLoggedInError("Connect first (Client.connect).")
        return self._channel

    # ---- sending -------------------------------------------------------------

    async def fetch_bundle(self, peer: str) -> Bundle:
        """Fetch a peer's bundle and verify every key and signature in it.

        A therapist's bundle must also carry the identity key that signed the
        therapist's profile in the directory.
        """
        bundle = parse_bundle(await self.http.get(f"/api/bundle/{peer}"))
        if b64u_encode(bundle.account) != peer:
            raise MalformedError("The server sent the bundle of another account.")
        for therapist in await self._directory():
            if therapist.account == peer and therapist.identity_key != b64u_encode(
                bundle.identity_key
            ):
                raise MalformedError(
                    "The therapist's keys do not match their signed profile; nothing was sent."
                )
        return bundle

    async def _session_for_sending(
        self, peer: str, bundle: Bundle | None
    ) -> tuple[Item | None, RatchetState, bytes, Bundle | None]:
        stored = self.vault.one("session", peer=peer)
        if stored is not None:
            state = items.session_state(stored.value)
            return stored, state, b64u_decode(stored.value["peer_identity"], 32), bundle
        if bundle is None:
            bundle = await self.fetch_bundle(peer)
        return None, sessions.start_session(self.identity, bundle), bundle.identity_key, bundle

    def _ensure_contact(self, batch: Batch, peer: str, label: str = "") -> None:
        if self.vault.one("contact", peer=peer) is None:
            batch.put(items.contact_item(None, peer, label, False))

    async def send(self, peer: str, text: str) -> Message:
        """Encrypt and send a text; returns once the server has stored it."""
        return (await self.send_many(peer, [text]))[0]

    async def send_many(
        self, peer: str, texts: list[str], submit_order: list[int] | None = None
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
            _check_text(text)
        async with self._lock:
            sent = int(time.time())
            messages = [Message(peer, _new_id(), "out", sent, text, "sent") for text in texts]
            bodies = [
                payloads.encode_text(b64u_decode(m.id, ID_BYTES), m.sent, m.body) for m in messages
            ]
            envelopes = await self._reserve(peer, bodies)
            for index in order:
                m = messages[index]
                batch = self.vault.batch()
                batch.put(items.message_item(peer, m.id, "out", m.sent, m.body, m.state))
                await self._submit(peer, envelopes[index], batch)
            return messages

    async def _reserve(self, peer: str, bodies: list[bytes]) -> list[bytes]:
        """Encrypt payloads in order and commit the advanced session before any envelope leaves.

        Committing first keeps a message key from ever encrypting two different
        payloads: if another device advanced the same session, this commit is
        refused before the server has seen a single ciphertext, and the
        payloads are encrypted again from the synced state. Should the
        envelopes then never be stored, the receiver merely skips their keys.
        """
        bundle: Bundle | None = None
        for attempt in range(MAX_CONFLICT_RETRIES):
            stored, state, peer_identity, bundle = await self._session_for_sending(peer, bundle)
            envelopes = []
            for body in bodies:
                outgoing = sessions.encrypt(state, body)
                state = outgoing.state
                envelopes.append(outgoing.envelope)
            batch = self.vault.batch()
            batch.put(
                items.session_item(
                    None if stored is None else stored.value, peer, peer_identity, state
                ),
                None if stored is None else stored.id,
            )
            self._ensure_contact(batch, peer, await self._directory_name(peer))
            try:
                await self.commit(batch)
                return envelopes
            except ServerError as exc:
                if not _is_conflict(exc) or attempt == MAX_CONFLICT_RETRIES - 1:
                    raise
                await self.vault.sync(self.http)
        raise AssertionError("unreachable: the retry loop returns or raises")

    async def _submit(self, peer: str, envelope: bytes, batch: Batch) -> None:
        """Send a reserved envelope with the vault writes that belong to it."""
        for attempt in range(MAX_CONFLICT_RETRIES):
            wire = batch.wire()
            try:
                await self.channel.send(_new_id(), peer, envelope, wire)
            except ServerError as exc:
                if not _is_conflict(exc) or attempt == MAX_CONFLICT_RETRIES - 1:
                    raise
                # Nothing was stored; the writes are re-based on the synced
                # vault (versions are read when a batch becomes writes).
                await self.vault.sync(self.http)
                continue
            self.vault.apply(wire)
            return

    async def _send_receipt(self, peer: str, state: str, ids: list[str], extra: Batch) -> None:
        """Send a receipt, committing `extra` (message state changes) with it.

        Receipts are a courtesy: when the server will not take one (the peer
        deleted the account or closed the thread), `extra` is committed alone.
        """
        if self.vault.one("session", peer=peer) is not None:
            body = payloads.encode_receipt(state, [b64u_decode(i, ID_BYTES) for i in ids])
            try:
                envelopes = await self._reserve(peer, [body])
                await self._submit(peer, envelopes[0], extra)
                return
            except ServerError as exc:
                if exc.code not in RECEIPT_REFUSALS:
                    raise
        await self._commit_fresh(lambda: extra)

    async def flush_receipts(self) -> None:
        """Send the `delivered` receipts owed for texts received so far."""
        async with self._lock:
            owed, self._delivered = self._delivered, {}
            for peer, ids in owed.items():
                await self._send_receipt(peer, "delivered", ids, self.vault.batch())

    async def mark_read(self, peer: str) -> int:
        """Mark a conversation read and tell the peer; returns how many messages changed."""
        async with self._lock:
            unread = [
                item
                for item in self.vault.find("message", peer=peer, dir="in")
                if item.value.get("state") != "read"
            ]
            if not unread:
                return 0
            batch = self.vault.batch()
            for item in unread:
                batch.put({**item.value, "state": "read"}, item.id)
            await self._send_receipt(peer, "read", [str(i.value["id"]) for i in unread], batch)
            return len(unread)

    # ---- receiving -----------------------------------------------------------

    async def receive(self, timeout: float | None = None, *, receipts: bool = True) -> Incoming:
        """Wait for the next envelope, open it, acknowledge it with its vault writes.

        With `receipts`, a text is answered at once with a `delivered` receipt.
        """
        frame = await self.channel.next_envelope(timeout)
        incoming = await self.open_envelope(frame)
        if receipts:
            await self.flush_receipts()
        return incoming

    async def receive_pending(self) -> list[Incoming]:
        """Handle every envelope that waited for this device, then send receipts."""
        results = []
        for _ in range(self.channel.pending_at_start):
            try:
                frame = await self.channel.next_envelope(self.timeout)
            except AnswerTimeoutError:
                # Fewer came than announced (one expired meanwhile): done.
                break
            results.append(await self.open_envelope(frame))
        await self.flush_receipts()
        return results

    async def next_envelope(self, timeout: float | None = None) -> dict[str, Any]:
        """The next raw envelope frame, for callers that choose the order of opening."""
        return await self.channel.next_envelope(timeout)

    async def open_envelope(self, frame: dict[str, Any]) -> Incoming:
        """Decrypt one envelope frame and acknowledge it together with what it changes."""
        envelope_id = field(frame, "id", str)
        sender = field(frame, "from", str)
        data = b64u_field(frame, "env")
        async with self._lock:
            for attempt in range(MAX_CONFLICT_RETRIES):
                incoming, wire = await self._open_or_reject(envelope_id, sender, data)
                if wire is None:
                    return incoming
                try:
                    await self.channel.ack(envelope_id, wire)
                except ServerError as exc:
                    if exc.code == "not_found":
                        # Another device of this account handled it first.
                        await self.vault.sync(self.http)
                        return Incoming(envelope_id, sender)
                    if not _is_conflict(exc) or attempt == MAX_CONFLICT_RETRIES - 1:
                        raise
                    await self.vault.sync(self.http)
                    continue
                self.vault.apply(wire)
                if incoming.message is not None:
                    self._delivered.setdefault(sender, []).append(incoming.message.id)
                return incoming
        raise AssertionError("unreachable: the retry loop returns or raises")

    async def _open_or_reject(
        self, envelope_id: str, sender: str, data: bytes
    ) -> tuple[Incoming, list[dict[str, Any]] | None]:
        """The envelope opened with its writes; or an error and no writes (None: keep it)."""
        try:
            incoming, batch = receiving.open_envelope(
                self.vault, self.identity, envelope_id, sender, data
            )
            return incoming, batch.wire()
        except ProtocolError:
            # This copy of the vault may be behind another device's (a session
            # it set up, a prekey it rotated): look again with the latest.
            await self.vault.sync(self.http)
        try:
            incoming, batch = receiving.open_envelope(
                self.vault, self.identity, envelope_id, sender, data
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

    # ---- what the vault holds ------------------------------------------------

    def conversations(self) -> list[Conversation]:
        return items.conversations(self.vault)

    def history(self, peer: str) -> list[Message]:
        return items.history(self.vault, peer)

    def note(self, peer: str) -> str | None:
        item = self.vault.one("note", peer=peer)
        return None if item is None else str(item.value.get("body", ""))

    async def set_note(self, peer: str, body: str) -> None:
        """A private note on a client, encrypted for this account only; empty deletes it."""
        self._require_therapist()

        def change() -> Batch:
            item = self.vault.one("note", peer=peer)
            batch = self.vault.batch()
            if item is not None and not body:
                batch.delete(item.id)
            elif body:
                previous = None if item is None else item.value
                batch.put(items.note_item(previous, peer, body), None if item is None else item.id)
            return batch

        async with self._lock:
            await self._commit_fresh(change)

    def is_verified(self, peer: str) -> bool:
        item = self.vault.one("contact", peer=peer)
        return bool(item is not None and item.value.get("verified"))

    async def set_verified(self, peer: str, verified: bool) -> None:
        """Record that the safety number with `peer` was compared and matched."""

        def change() -> Batch:
            item = self.vault.one("contact", peer=peer)
            previous = None if item is None else item.value
            label = "" if item is None else str(item.value.get("label", ""))
            batch = self.vault.batch()
            batch.put(
                items.contact_item(previous, peer, label, verified),
                None if item is None else item.id,
            )
            return batch

        async with self._lock:
            await self._commit_fresh(change)

    async def peer_identity(self, peer: str) -> bytes:
        stored = self.vault.one("session", peer=peer)
        if stored is not None:
            return b64u_decode(stored.value["peer_identity"], 32)
        for therapist in await self._directory():
            if therapist.account == peer:
                return b64u_decode(therapist.identity_key, 32)
        raise UnknownPeerError(
            "There is no session with this account yet, so there is no safety number; "
            "exchange a message first."
        )

    async def safety_number(self, peer: str) -> str:
        """The 60 digits both parties compare (docs/PROTOCOL.md section 8)."""
        theirs = await self.peer_identity(peer)
        return safety_number(
            self.identity.public,
            b64u_decode(self.account, ID_BYTES),
            theirs,
            b64u_decode(peer, ID_BYTES),
        )

    # ---- directory and profile -----------------------------------------------

    async def directory(self) -> list[Therapist]:
        """The practice's therapists whose profile signature verifies; others are left out."""
        self._directory_cache = await fetch_directory(self.http)
        return self._directory_cache

    async def _directory(self) -> list[Therapist]:
        """The directory as last fetched by this client (fetched once if never)."""
        if self._directory_cache is None:
            return await self.directory()
        return self._directory_cache

    async def _directory_name(self, peer: str) -> str:
        if self.vault.one("contact", peer=peer) is not None:
            return ""
        for therapist in await self._directory():
            if therapist.account == peer:
                return str(therapist.profile.get("display_name", ""))
        return ""

    async def own_profile(self) -> dict[str, Any] | None:
        for therapist in await self.directory():
            if therapist.account == self.account:
                return therapist.profile
        return None

    def _require_therapist(self) -> None:
        if self.role != "therapist":
            raise NotTherapistError()

    async def publish_profile(self, profile: dict[str, Any]) -> None:
        """Sign and publish the therapist profile (docs/API.md)."""
        self._require_therapist()
        await self.http.put("/api/profile", signed_profile(self.identity.seed, profile))
        self._directory_cache = None

    async def block(self, peer: str) -> None:
        self._require_therapist()
        await self.http.put(f"/api/blocks/{peer}")

    async def unblock(self, peer: str) -> None:
        self._require_therapist()
        await self.http.delete(f"/api/blocks/{peer}")

    async def blocked(self) -> list[str]:
        self._require_therapist()
        return [str(p) for p in field(await self.http.get("/api/blocks"), "blocked", list)]

    # ---- naming peers --------------------------------------------------------

    async def resolve_peer(self, text: str) -> str:
        """An account id from an id, a unique id prefix, a contact label or a therapist's name."""
        text = text.strip()
        known = items.known_peers(self.vault) if self._vault is not None else set()
        therapists = await self._directory()
        candidates = known | {t.account for t in therapists}
        if text in candidates:
            return text
        if len(text) >= PREFIX_MIN:
            matches = {peer for peer in candidates if peer.startswith(text)}
            if len(matches) == 1:
                return matches.pop()
        wanted = text.casefold()
        named = {
            t.account
            for t in therapists
            if str(t.profile.get("display_name", "")).casefold() == wanted
        }
        if self._vault is not None:
            named |= {
                str(item.value["peer"])
                for item in self.vault.find("contact")
                if str(item.value.get("label", "")).casefold() == wanted and wanted
            }
        named |= {peer for peer in known if items.client_label(peer).casefold() == wanted}
        if len(named) == 1:
            return named.pop()
        try:
            b64u_decode(text, ID_BYTES)
        except MalformedError:
            raise UnknownPeerError() from None
        return text

    async def label(self, peer: str) -> str:
        """A name to show for a peer: its contact label, its directory name, or a short label."""
        if self._vault is not None:
            contact = self.vault.one("contact", peer=peer)
            if contact is not None and contact.value.get("label"):
                return str(contact.value["label"])
        for therapist in await self._directory():
            if therapist.account == peer and therapist.profile.get("display_name"):
                return str(therapist.profile["display_name"])
        return items.client_label(peer)
