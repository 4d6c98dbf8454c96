"""The Python client: everything the browser client does, as an async API.

A `Client` is one logged-in device of one account, a thin facade over the
modules of this package, each the twin of the web client's module of the same
name (client_web/app/): `account`, `sender`, `receiver`, `upkeep`,
`mutations`, `threads`, `directory`, over the state in `workspace`. Its state
is the account's vault (`vaultstore.Vault`), changed only by compare-and-swap
writes that commit together with what caused them (docs/PROTOCOL.md section
10); every such write goes through `vaultstore.retry_on_conflict`.
"""

from typing import Any

from client_py import (
    account,
    directory,
    groups,
    mutations,
    notifications,
    receiver,
    secretchange,
    sender,
    threads,
    upkeep,
)
from client_py.api import DEFAULT_TIMEOUT, Http
from client_py.connection import Channel
from client_py.directory import Therapist
from client_py.groups import GroupUpdate, Listing, Member
from client_py.notifications import Notifications
from client_py.profile_dir import Profile
from client_py.receiver import Incoming
from client_py.records import Message
from client_py.threads import Conversation
from client_py.vaultstore import Batch, Vault
from client_py.workspace import Workspace
from crypto.keys import IdentityKeyPair
from crypto.vault import PROTOCOL_KDF_COST, KdfCost
from crypto.x3dh import Bundle

__all__ = ["Client", "Conversation", "GroupUpdate", "Incoming", "Listing", "Message", "Therapist"]


class Client:
    """One device of one account; create it with `Client.register` or `Client.login`.

    `kdf_cost` is Argon2id's cost for the account secret: the protocol's unless
    a test suite passes a lower one (crypto.vault.KdfCost).
    """

    def __init__(
        self,
        server_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        profile: Profile | None = None,
    ) -> None:
        self.workspace = Workspace(Http(server_url, timeout), timeout, profile)

    @classmethod
    async def register(
        cls,
        server_url: str,
        role: str = "client",
        *,
        invite: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        profile: Profile | None = None,
        kdf_cost: KdfCost = PROTOCOL_KDF_COST,
    ) -> tuple["Client", str]:
        """Create an account; returns the logged-in client and the secret to show once."""
        client = cls(server_url, timeout=timeout, profile=profile)
        secret = await account.register(client.workspace, role, invite, kdf_cost)
        return client, secret

    @classmethod
    async def login(
        cls,
        server_url: str,
        secret_text: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        profile: Profile | None = None,
        kdf_cost: KdfCost = PROTOCOL_KDF_COST,
    ) -> "Client":
        """Log in with the account secret alone and load the whole vault."""
        client = cls(server_url, timeout=timeout, profile=profile)
        await account.login(client.workspace, secret_text, kdf_cost)
        return client

    # What the device holds.

    @property
    def http(self) -> Http:
        return self.workspace.http

    @property
    def server_url(self) -> str:
        return self.workspace.server_url

    @property
    def timeout(self) -> float:
        return self.workspace.timeout

    @property
    def account(self) -> str:
        return self.workspace.account

    @property
    def handle(self) -> str:
        return self.workspace.handle

    @property
    def role(self) -> str:
        return self.workspace.role

    @property
    def vault(self) -> Vault:
        return self.workspace.vault

    @property
    def identity(self) -> IdentityKeyPair:
        return self.workspace.identity

    @property
    def channel(self) -> Channel:
        return self.workspace.channel

    # The account.

    async def info(self) -> dict[str, Any]:
        return await account.server_info(self.workspace)

    async def sync(self) -> None:
        async with self.workspace.lock:
            await self.workspace.sync()

    async def commit(self, batch: Batch) -> None:
        """Commit a batch on its own (POST /api/vault); `vault_conflict` reaches the caller."""
        await self.workspace.commit(batch)

    async def delete_account(self) -> None:
        await account.delete_account(self.workspace)

    async def sessions(self) -> list[dict[str, Any]]:
        return await account.sessions(self.workspace)

    async def sign_out_others(self) -> int:
        return await account.sign_out_others(self.workspace)

    async def change_secret(
        self,
        current: str,
        new: str,
        *,
        finish: bool = False,
        kdf_cost: KdfCost = PROTOCOL_KDF_COST,
    ) -> int:
        """Switch to the secret `new` (docs/PROTOCOL.md 9.1); how many other sessions ended.

        `current` is the secret this device logged in with, asked again so
        that a device left signed in cannot change it. Run again with the
        same `new` to resume an interrupted change; `finish` insists on it
        being the waiting change's secret (`no_secret_change` otherwise).
        """
        return await secretchange.change(
            self.workspace, current, secretchange.parse_secret(new), kdf_cost, finish=finish
        )

    async def secret_change_pending(self) -> bool:
        return await secretchange.pending(self.workspace)

    async def cancel_secret_change(self) -> None:
        await secretchange.cancel(self.workspace)

    async def logout(self) -> None:
        await account.logout(self.workspace)

    async def close(self) -> None:
        await account.close(self.workspace)

    async def maintain_prekeys(self) -> None:
        await upkeep.maintain_prekeys(self.workspace)

    async def connect(self) -> None:
        await account.connect(self.workspace, self._on_prekeys_low)

    async def _on_prekeys_low(self, _count: int) -> None:
        await upkeep.maintain_prekeys(self.workspace)

    # Sending and receiving.

    async def fetch_bundle(self, peer: str) -> Bundle:
        return await sender.fetch_bundle(self.workspace, peer)

    async def send(self, peer: str, text: str) -> Message:
        """Encrypt and send a text; returns once the server has stored it."""
        return (await self.send_many(peer, [text]))[0]

    async def send_many(
        self, peer: str, texts: list[str], submit_order: list[int] | None = None
    ) -> list[Message]:
        return await sender.send_many(self.workspace, peer, texts, submit_order)

    async def flush_receipts(self) -> None:
        await sender.flush_receipts(self.workspace)

    async def mark_read(self, peer: str) -> int:
        return await threads.mark_read(self.workspace, peer)

    async def receive(self, timeout: float | None = None, *, receipts: bool = True) -> Incoming:
        """Wait for the next envelope, open it, acknowledge it with its vault writes.

        With `receipts`, a text is answered at once with a `delivered` receipt.
        """
        incoming = await self.open_envelope(await self.channel.next_envelope(timeout))
        if receipts:
            await self.flush_receipts()
        return incoming

    async def receive_pending(self) -> list[Incoming]:
        """Handle every envelope that waited for this device, then send receipts."""
        results = await receiver.receive_pending(self.workspace)
        await self.flush_receipts()
        return results

    async def next_envelope(self, timeout: float | None = None) -> dict[str, Any]:
        """The next raw envelope frame, for callers that choose the order of opening."""
        return await self.channel.next_envelope(timeout)

    async def vault_changed(self) -> None:
        """Wait for a `vault_changed` push: another device wrote; `sync` brings it here."""
        await self.channel.vault_changed()

    async def open_envelope(self, frame: dict[str, Any]) -> Incoming:
        return await receiver.open_envelope(self.workspace, frame)

    # What the vault holds.

    def conversations(self) -> list[Conversation]:
        return threads.conversations(self.vault)

    def history(self, peer: str) -> list[Message]:
        return threads.history(self.vault, peer)

    def note(self, peer: str) -> str | None:
        return mutations.note(self.workspace, peer)

    async def set_note(self, peer: str, body: str) -> None:
        await mutations.save_note(self.workspace, peer, body)

    def is_verified(self, peer: str) -> bool:
        return mutations.is_verified(self.workspace, peer)

    async def set_verified(self, peer: str, verified: bool) -> None:
        await mutations.set_verified(self.workspace, peer, verified)

    async def peer_identity(self, peer: str) -> bytes:
        return await directory.peer_identity(self.workspace, peer)

    async def safety_number(self, peer: str) -> str:
        return await directory.safety_number(self.workspace, peer)

    # The directory, the profile and blocks.

    async def directory(self) -> list[Therapist]:
        """The practice's therapists whose profile signature verifies; others are left out."""
        return await directory.refresh(self.workspace)

    async def own_profile(self) -> dict[str, Any] | None:
        return await directory.own_profile(self.workspace)

    async def publish_profile(self, profile: dict[str, Any]) -> None:
        await directory.publish_profile(self.workspace, profile)

    async def block(self, peer: str) -> None:
        await mutations.set_blocked(self.workspace, peer, True)

    async def unblock(self, peer: str) -> None:
        await mutations.set_blocked(self.workspace, peer, False)

    async def blocked(self) -> list[str]:
        return await mutations.load_blocks(self.workspace)

    # A therapist's notifications when away: mail and push, content-free.

    async def notifications(self) -> Notifications:
        return await notifications.load(self.workspace)

    async def set_notifications(self, changes: dict[str, str | None]) -> Notifications:
        return await notifications.save(self.workspace, changes)

    async def notifications_off(self) -> Notifications:
        return await notifications.turn_off(self.workspace)

    async def test_notification(self, channel: str) -> None:
        await notifications.send_test(self.workspace, channel)

    # Naming peers.

    async def resolve_peer(self, text: str) -> str:
        return await threads.resolve_peer(self.workspace, text)

    async def label(self, peer: str) -> str:
        return await threads.label(self.workspace, peer)

    # Peer-support groups (client_py/groups.py).

    async def group_directory(self) -> list[Listing]:
        """Open groups whose signed listing verifies."""
        return await groups.listed(self.workspace)

    def my_groups(self) -> list[dict[str, Any]]:
        """The `group` items of this account: groups it hosts, joined or asked to join."""
        return [item.value for item in groups.items(self.workspace)]

    def group_status(self, group: str) -> str:
        """requested, member, declined, left or removed (from the signed member list)."""
        item = self.vault.find("group", group=group)
        return "" if item is None else str(item.value.get("status", ""))

    def find_group(self, text: str) -> str:
        return str(groups.find(self.workspace, text).value["group"])

    async def create_group(
        self, fields: dict[str, Any], name: str, *, invite_only: bool = False, max_members: int = 50
    ) -> str:
        return await groups.create_group(
            self.workspace, fields, name, invite_only=invite_only, max_members=max_members
        )

    async def join_group(self, group: str, name: str, note: str = "") -> None:
        await groups.request_join(self.workspace, group, name, note)

    async def pull_group(self, group: str) -> list[GroupUpdate]:
        """Handle everything of the group's stream after this member's cursor."""
        return await groups.pull(self.workspace, group)

    def group_requests(self, group: str) -> list[dict[str, Any]]:
        return groups.requests(self.workspace, group)

    async def admit(self, group: str, member_key: str) -> None:
        await groups.admit(self.workspace, group, member_key)

    async def decline(self, group: str, member_key: str, reason: str = "") -> None:
        await groups.decline(self.workspace, group, member_key, reason)

    async def set_group_member(self, group: str, member_key: str, action: str) -> None:
        """`action` is mute, unmute or remove."""
        await groups.set_member(self.workspace, group, member_key, action)

    async def set_co_moderator(self, group: str, account: str, add: bool = True) -> None:
        """Name (add) or stop naming a therapist of the directory as co-moderator."""
        await groups.set_co_moderator(self.workspace, group, account, add)

    async def moderation_offers(self) -> list[str]:
        """Groups another therapist named this account co-moderator of, not taken up yet."""
        return await groups.moderation_offers(self.workspace)

    async def take_up_moderation(self, group: str, name: str) -> None:
        await groups.take_up_moderation(self.workspace, group, name)

    async def pause_group(self, group: str, paused: bool) -> None:
        await groups.set_paused(self.workspace, group, paused)

    async def edit_group(self, group: str, changes: dict[str, str]) -> None:
        await groups.edit_listing(self.workspace, group, changes)

    async def remove_group_message(self, group: str, message_id: str) -> None:
        await groups.remove_message(self.workspace, group, message_id)

    async def leave_group(self, group: str) -> None:
        await groups.leave(self.workspace, group)

    async def report_group_message(self, group: str, message_id: str, reason: str = "") -> None:
        await groups.report(self.workspace, group, message_id, reason)

    async def mute_group(self, group: str, muted: bool) -> None:
        await groups.set_muted(self.workspace, group, muted)

    async def send_group(self, group: str, text: str) -> dict[str, Any]:
        return await groups.send_text(self.workspace, group, text)

    def group_timeline(self, group: str) -> list[dict[str, Any]]:
        return groups.timeline(self.workspace, group)

    def group_members(self, group: str) -> list[Member]:
        return groups.members(self.workspace, group)

    def group_reports(self, group: str) -> list[dict[str, Any]]:
        return groups.reports(self.workspace, group)
