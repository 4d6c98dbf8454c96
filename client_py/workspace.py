"""Everything one logged-in device holds, in memory: the twin of client_web/app/workspace.js.

The bearer token (inside `http`), the identity, the decrypted vault, the
websocket, the receipts owed and the directory as last fetched. The modules
of this package (account, sender, receiver, upkeep, mutations, threads,
directory) are functions of a `Workspace`; `client.Client` is the facade that
holds one.

Vault-changing operations of one device are serialised by `lock`, so a
`prekeys_low` top-up cannot race a message acknowledgement on the same device.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from client_py.api import Http
from client_py.connection import Channel
from client_py.directory import Therapist
from client_py.errors import NotLoggedInError, NotTherapistError
from client_py.profile_dir import Profile
from client_py.vaultstore import Batch, Vault, retry_on_conflict
from crypto.keys import IdentityKeyPair


@dataclass
class Workspace:
    http: Http
    timeout: float
    profile: Profile | None = None
    info: dict[str, Any] | None = None
    account: str = ""
    handle: str = ""
    role: str = ""
    stored_vault: Vault | None = None
    stored_identity: IdentityKeyPair | None = None
    open_channel: Channel | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Texts received whose `delivered` receipt is still owed, by sender.
    delivered: dict[str, list[str]] = field(default_factory=dict)
    directory_cache: list[Therapist] | None = None

    @property
    def server_url(self) -> str:
        return self.http.server_url

    @property
    def vault(self) -> Vault:
        if self.stored_vault is None:
            raise NotLoggedInError()
        return self.stored_vault

    @property
    def identity(self) -> IdentityKeyPair:
        if self.stored_identity is None:
            raise NotLoggedInError()
        return self.stored_identity

    @property
    def channel(self) -> Channel:
        if self.open_channel is None:
            raise NotLoggedInError("Connect first (Client.connect).")
        return self.open_channel

    def require_therapist(self) -> None:
        if self.role != "therapist":
            raise NotTherapistError()

    async def sync(self) -> None:
        await self.vault.sync(self.http)

    async def commit(self, batch: Batch) -> None:
        """Commit a batch on its own (POST /api/vault); `vault_conflict` reaches the caller."""
        wire = batch.wire()
        if wire:
            await self.http.post("/api/vault", {"writes": wire})
            self.vault.apply(wire)

    async def commit_change(self, change: Callable[[], Batch]) -> None:
        """Commit the batch `change()` builds from the vault as it is, through retry_on_conflict."""

        async def attempt() -> None:
            await self.commit(change())

        await retry_on_conflict(attempt, self.sync)

    async def close_channel(self) -> None:
        if self.open_channel is not None:
            channel, self.open_channel = self.open_channel, None
            await channel.close()
