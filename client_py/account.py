"""Accounts (the twin of client_web/app/account.js): creating one from a fresh secret,
logging in with the secret alone, the device's websocket, logging out and deleting.

The secret is turned into keys here and never kept: the vault key lives in
the `Vault`, the bearer token in `Http`, both in memory. With a CLI profile
(`profile_dir.Profile`), the encrypted vault cache and the encrypted token of
the last login are kept between commands.
"""

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from client_py import records, upkeep
from client_py.api import b64u_field, field
from client_py.connection import Channel
from client_py.errors import (
    BadResponseError,
    InvalidSecretError,
    NotLoggedInError,
    ServerError,
    VaultCorruptError,
)
from client_py.profile_dir import SavedLogin
from client_py.vaultstore import Vault
from client_py.workspace import Workspace
from crypto.constants import CTX_REGISTER, CTX_WEBSOCKET_AUTH, ED25519_SEED_BYTES, ID_BYTES
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import MalformedError
from crypto.keys import IdentityKeyPair
from crypto.signatures import registration_data, sign, websocket_auth_data
from crypto.vault import (
    PROTOCOL_KDF_COST,
    AccountSecret,
    KdfCost,
    derive_keys,
    generate_secret,
    normalise_secret,
)

# A freshly generated handle may be taken (80 random bits: it almost never is).
REGISTER_ATTEMPTS = 3
# A saved token this close to its expiry is not reused.
TOKEN_MARGIN = 300


async def server_info(workspace: Workspace) -> dict[str, Any]:
    """GET /api/info, fetched once per device."""
    if workspace.info is None:
        info = await workspace.http.get("/api/info")
        b64u_field(info, "server_id", ID_BYTES)
        workspace.info = info
    return workspace.info


async def server_id(workspace: Workspace) -> bytes:
    return b64u_decode((await server_info(workspace))["server_id"], ID_BYTES)


async def register(
    workspace: Workspace,
    role: str,
    invite: str | None,
    kdf_cost: KdfCost = PROTOCOL_KDF_COST,
) -> str:
    """Create an account and log this device in; returns the secret to show once."""
    identity = IdentityKeyPair.generate()
    signed_for = await server_id(workspace)
    for attempt in range(REGISTER_ATTEMPTS):
        secret = generate_secret()
        keys = await asyncio.to_thread(derive_keys, secret, kdf_cost)
        body: dict[str, Any] = {
            "role": role,
            "handle": secret.handle,
            "login_key": b64u_encode(keys.login_key),
            "identity_key": b64u_encode(identity.public),
            "sig": b64u_encode(
                sign(identity.seed, CTX_REGISTER, registration_data(signed_for, secret.handle))
            ),
        }
        if invite is not None:
            body["invite"] = invite
        try:
            answer = await workspace.http.post("/api/accounts", body)
            break
        except ServerError as exc:
            if exc.code != "handle_taken" or attempt == REGISTER_ATTEMPTS - 1:
                raise
    account = field(answer, "account", str)
    await _open_account(workspace, secret, keys.login_key, keys.vault_key)
    if workspace.account != account:
        raise BadResponseError("The server logged in to another account than it created.")
    workspace.stored_identity = identity
    workspace.handle, workspace.role = secret.handle, role
    batch = workspace.vault.batch()
    batch.put(records.identity_item(role, account, secret.handle, identity.seed))
    prekeys_value, upload = upkeep.initial(identity.seed)
    batch.put(prekeys_value)
    await workspace.commit(batch)
    await workspace.http.put("/api/prekeys", upload)
    return secret.formatted()


async def login(
    workspace: Workspace, secret_text: str, kdf_cost: KdfCost = PROTOCOL_KDF_COST
) -> None:
    """Log in with the account secret alone and load the whole vault."""
    try:
        secret = normalise_secret(secret_text)
    except MalformedError as exc:
        raise InvalidSecretError(exc.message) from None
    keys = await asyncio.to_thread(derive_keys, secret, kdf_cost)
    await _open_account(workspace, secret, keys.login_key, keys.vault_key)
    identity = workspace.vault.find("identity")
    if identity is None or identity.value.get("account") != workspace.account:
        raise VaultCorruptError()
    workspace.stored_identity = IdentityKeyPair.from_seed(
        b64u_decode(identity.value["seed"], ED25519_SEED_BYTES)
    )
    workspace.role = str(identity.value.get("role", ""))
    await upkeep.maintain_prekeys(workspace)


async def _open_account(
    workspace: Workspace, secret: AccountSecret, login_key: bytes, vault_key: bytes
) -> None:
    workspace.handle = secret.handle
    workspace.stored_vault = Vault(vault_key)
    profile = workspace.profile
    if profile is not None:
        cache = profile.vault_cache(workspace.server_url, workspace.handle)
        if cache is not None:
            workspace.stored_vault.import_cache(cache)

    async def log_in() -> None:
        workspace.http.token = None
        answer = await workspace.http.post(
            "/api/login",
            {"handle": secret.handle, "login_key": b64u_encode(login_key), "kind": "cli"},
        )
        workspace.http.token = field(answer, "token", str)
        workspace.account = field(answer, "account", str)
        _save_login(workspace, vault_key, answer.get("expires"))

    workspace.http.on_unauthorized = log_in
    if not (_resume_login(workspace, vault_key) and await _sync_if_authorized(workspace)):
        await log_in()
        await workspace.sync()


async def _sync_if_authorized(workspace: Workspace) -> bool:
    """Sync with a resumed token; False when the server no longer accepts it."""
    relogin, workspace.http.on_unauthorized = workspace.http.on_unauthorized, None
    try:
        await workspace.sync()
        return True
    except ServerError as exc:
        # A token another device signed out is replaced like an expired one:
        # this command was given the secret, so it signs in afresh.
        if exc.code not in ("unauthorized", "signed_out"):
            raise
        return False
    finally:
        workspace.http.on_unauthorized = relogin


def _resume_login(workspace: Workspace, vault_key: bytes) -> bool:
    """Reuse the token of an earlier login kept (encrypted) in the profile."""
    if workspace.profile is None:
        return False
    saved = workspace.profile.saved_login(workspace.server_url, workspace.handle, vault_key)
    if saved is None or saved.expires < time.time() + TOKEN_MARGIN:
        return False
    workspace.http.token, workspace.account = saved.token, saved.account
    return True


def _save_login(workspace: Workspace, vault_key: bytes, expires: Any) -> None:
    token = workspace.http.token
    if workspace.profile is None or not isinstance(expires, int) or token is None:
        return
    workspace.profile.save_login(
        workspace.server_url,
        workspace.handle,
        vault_key,
        SavedLogin(token, workspace.account, expires),
    )


async def connect(
    workspace: Workspace, on_prekeys_low: Callable[[int], Coroutine[Any, Any, None]]
) -> None:
    """Open the authenticated websocket; undelivered envelopes start to arrive."""
    if workspace.open_channel is not None and not workspace.open_channel.closed:
        return
    seed = workspace.identity.seed
    signed_for = await server_id(workspace)
    account_id = b64u_decode(workspace.account, ID_BYTES)

    def sign_challenge(nonce: bytes) -> bytes:
        return sign(seed, CTX_WEBSOCKET_AUTH, websocket_auth_data(signed_for, nonce, account_id))

    async def open_channel() -> Channel:
        if workspace.http.token is None:
            raise NotLoggedInError("Log in first (Client.login).")
        return await Channel.open(
            workspace.server_url,
            signed_for,
            account_id,
            workspace.http.token,
            sign_challenge,
            timeout=workspace.timeout,
            on_prekeys_low=on_prekeys_low,
        )

    try:
        channel = await open_channel()
    except ServerError as exc:
        # The session's token expired since the last request: log in again,
        # as an HTTP request would, and authenticate once more.
        if exc.code != "unauthorized" or workspace.http.on_unauthorized is None:
            raise
        await workspace.http.on_unauthorized()
        channel = await open_channel()
    # A closed channel is replaced only now, so that after a failed
    # reconnection the client still reports the disconnection.
    await workspace.close_channel()
    workspace.open_channel = channel


async def delete_account(workspace: Workspace) -> None:
    """Delete the account and everything the server holds for it."""
    await workspace.http.delete("/api/account")
    await workspace.close_channel()
    workspace.http.token = None
    workspace.stored_vault = None
    workspace.stored_identity = None


async def close(workspace: Workspace) -> None:
    """Close the websocket and keep the encrypted vault cache in the profile."""
    await workspace.close_channel()
    vault = workspace.stored_vault
    if workspace.profile is not None and vault is not None and workspace.handle:
        workspace.profile.save_vault_cache(
            workspace.server_url, workspace.handle, vault.export_cache()
        )


async def sessions(workspace: Workspace) -> list[dict[str, Any]]:
    """The account's signed-in sessions (docs/API.md, "Sessions"), this one marked `this`."""
    answer = await workspace.http.get("/api/sessions")
    listed = field(answer, "sessions", list)
    for session in listed:
        if not isinstance(session, dict) or not isinstance(session.get("id"), str):
            raise BadResponseError("The server's session list is not of the documented shape.")
    return listed


async def sign_out_others(workspace: Workspace) -> int:
    """Sign out every other session of the account; how many there were."""
    answer = await workspace.http.post("/api/sessions/sign-out-others")
    return int(field(answer, "signed_out", int))


async def logout(workspace: Workspace) -> None:
    if workspace.http.token is not None:
        await workspace.http.post("/api/logout")
        workspace.http.token = None
    if workspace.profile is not None:
        workspace.profile.forget_login()
    await close(workspace)
