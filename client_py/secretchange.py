"""Changing the account secret (docs/PROTOCOL.md section 9.1): the twin of
client_web/app/secretchange.js.

The new secret's keys are derived here, every live vault item is
re-encrypted under the new vault key and staged on the server with the
version it was made from, and the server switches the whole vault, the
handle and the login key in one transaction. Until that commit the old
secret opens everything; after it the new one does. An interrupted change is
resumed by running it again with the same new secret (what was staged is
kept), or cancelled.

The device's websocket is closed first: its token dies in the switch, and
nothing it would receive meanwhile could be written under the old key after
it anyway. After the switch the device holds the new token, handle and
vault key, and nothing under the old key.
"""

import asyncio
from typing import Any

from client_py.account import server_info
from client_py.api import field
from client_py.errors import InvalidSecretError, ServerError
from client_py.profile_dir import SavedLogin
from client_py.vaultstore import Vault, encode_item
from client_py.workspace import Workspace
from crypto.constants import ID_BYTES
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import MalformedError
from crypto.vault import (
    PROTOCOL_KDF_COST,
    AccountKeys,
    AccountSecret,
    KdfCost,
    derive_keys,
    encrypt_item,
    normalise_secret,
    rekey_item,
)

# Each refusal means another device wrote while this one staged; after this
# many the person is asked to try again when the account is quieter.
COMMIT_ATTEMPTS = 5
STATUS_PATH = "/api/secret-change"


def parse_secret(text: str) -> AccountSecret:
    try:
        return normalise_secret(text)
    except MalformedError as exc:
        raise InvalidSecretError(exc.message) from None


async def pending(workspace: Workspace) -> bool:
    """Whether a change of the secret waits for its switch (it was interrupted)."""
    answer = await workspace.http.get(STATUS_PATH)
    return bool(field(answer, "pending", bool))


async def cancel(workspace: Workspace) -> None:
    """Roll back an interrupted change: the old secret stays the account's."""
    await workspace.http.delete(STATUS_PATH)


async def _current_keys(workspace: Workspace, current: str, cost: KdfCost) -> AccountKeys:
    secret = parse_secret(current)
    keys = await asyncio.to_thread(derive_keys, secret, cost)
    if secret.handle != workspace.handle or keys.vault_key != workspace.vault.vault_key:
        raise InvalidSecretError("That is not this account's current secret; nothing was changed.")
    return keys


def _staged_blob(
    workspace: Workspace, new_key: bytes, new_handle: str, item_id: str, version: int, blob: str
) -> str:
    raw_id = b64u_decode(item_id, ID_BYTES)
    item = workspace.vault.items[item_id]
    if item.value.get("kind") == "identity":
        value = {**item.value, "handle": new_handle}
        return b64u_encode(encrypt_item(new_key, raw_id, version + 1, encode_item(value)))
    old_key = workspace.vault.vault_key
    return b64u_encode(rekey_item(old_key, new_key, raw_id, version, b64u_decode(blob)))


async def _stage_missing(
    workspace: Workspace, new_key: bytes, new_handle: str, staged: dict[str, int]
) -> None:
    """Stage every live item not yet staged from its current version."""
    await workspace.sync()
    batch_size = int((await server_info(workspace))["limits"]["max_vault_writes"])
    missing: list[dict[str, Any]] = [
        {
            "id": item_id,
            "base": version,
            "blob": _staged_blob(workspace, new_key, new_handle, item_id, version, blob),
        }
        for item_id, (version, blob) in workspace.vault.blobs().items()
        if staged.get(item_id) != version
    ]
    for start in range(0, len(missing), batch_size):
        chunk = missing[start : start + batch_size]
        await workspace.http.post("/api/secret-change/items", {"items": chunk})
        staged.update({entry["id"]: entry["base"] for entry in chunk})


async def change(
    workspace: Workspace,
    current: str,
    new: AccountSecret,
    cost: KdfCost = PROTOCOL_KDF_COST,
    *,
    finish: bool = False,
) -> int:
    """Switch the account to the secret `new`; returns how many other sessions ended.

    Run again with the same `new` after an interruption to resume; with
    `finish`, the server refuses (`no_secret_change`) unless `new` is the
    secret of the change that waits, so that a mistyped one is never switched to.
    """
    old_keys = await _current_keys(workspace, current, cost)
    new_keys = await asyncio.to_thread(derive_keys, new, cost)
    await workspace.close_channel()
    started = await workspace.http.post(
        STATUS_PATH,
        {
            "login_key": b64u_encode(old_keys.login_key),
            "handle": new.handle,
            "new_login_key": b64u_encode(new_keys.login_key),
            "resume": finish,
        },
    )
    staged = {
        str(entry["id"]): int(entry["base"])
        for entry in field(started, "staged", list)
        if isinstance(entry, dict)
    }
    async with workspace.lock:
        for attempt in range(COMMIT_ATTEMPTS):
            await _stage_missing(workspace, new_keys.vault_key, new.handle, staged)
            try:
                done = await workspace.http.post(
                    "/api/secret-change/commit", {"login_key": b64u_encode(old_keys.login_key)}
                )
                break
            except ServerError as exc:
                if exc.code != "secret_change_incomplete" or attempt == COMMIT_ATTEMPTS - 1:
                    raise
        await _switch(workspace, new, new_keys, done)
    return int(field(done, "signed_out", int))


async def _switch(
    workspace: Workspace, new: AccountSecret, keys: AccountKeys, answer: dict[str, Any]
) -> None:
    """Hold the new token, handle and vault key; keep nothing under the old key."""
    profile, old_handle = workspace.profile, workspace.handle
    workspace.http.token = field(answer, "token", str)
    workspace.handle = new.handle
    workspace.stored_vault = Vault(keys.vault_key)

    async def log_in() -> None:
        workspace.http.token = None
        logged = await workspace.http.post(
            "/api/login",
            {"handle": new.handle, "login_key": b64u_encode(keys.login_key), "kind": "cli"},
        )
        workspace.http.token = field(logged, "token", str)

    workspace.http.on_unauthorized = log_in
    if profile is not None:
        profile.forget_login()
        profile.forget_vault_cache(workspace.server_url, old_handle)
        profile.save_settings(workspace.server_url, new.handle)
        expires = answer.get("expires")
        if isinstance(expires, int):
            profile.save_login(
                workspace.server_url,
                new.handle,
                keys.vault_key,
                SavedLogin(workspace.http.token, workspace.account, expires),
            )
    await workspace.sync()
