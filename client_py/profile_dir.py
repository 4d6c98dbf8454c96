"""The CLI's profile directory: where to find the server, and an encrypted cache.

A profile holds `settings.json` (the server address and the account's handle,
so that the next command knows where to log in), `vault.json`, a copy of the
vault blobs exactly as the server stores them (encrypted under the vault key,
which is derived from the secret and never written anywhere), so that a
command syncs only what changed since the last one, and `login.json`, the
bearer token of the last login encrypted under the same key, so that a series
of commands does not log in again each time (the server limits logins per
handle). Nothing in the directory can be read without the account secret;
deleting it loses nothing, since the server's vault is the source of truth.
"""

import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client_py.errors import BadInputError
from crypto.constants import ID_BYTES
from crypto.encoding import b64u_decode, b64u_encode
from crypto.errors import ProtocolError
from crypto.vault import decrypt_item, encrypt_item

SETTINGS_FILE = "settings.json"
VAULT_CACHE_FILE = "vault.json"
LOGIN_FILE = "login.json"


@dataclass(frozen=True)
class SavedLogin:
    token: str
    account: str
    expires: int


def default_profile_dir() -> Path:
    configured = os.environ.get("QUIETLINE_PROFILE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "quietline"


class Profile:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _read(self, name: str) -> dict[str, Any] | None:
        path = self.directory / name
        try:
            value = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BadInputError(
                f"The profile file {path} cannot be read ({exc}); delete it and log in again."
            ) from None
        return value if isinstance(value, dict) else None

    def _write(self, name: str, value: dict[str, Any]) -> None:
        # Written to a temporary file and renamed, so a crash leaves the old
        # file or the new one, never half of one.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(value, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.directory / name)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def settings(self) -> dict[str, Any]:
        return self._read(SETTINGS_FILE) or {}

    def save_settings(self, server: str, handle: str) -> None:
        self._write(SETTINGS_FILE, {"server": server, "handle": handle})

    def vault_cache(self, server: str, handle: str) -> dict[str, Any] | None:
        """The cached blobs, if they belong to this account on this server."""
        cache = self._read(VAULT_CACHE_FILE)
        if cache is None or cache.get("server") != server or cache.get("handle") != handle:
            return None
        return cache

    def save_vault_cache(self, server: str, handle: str, cache: dict[str, Any]) -> None:
        self._write(VAULT_CACHE_FILE, {**cache, "server": server, "handle": handle})

    def forget_vault_cache(self, server: str, handle: str) -> None:
        """Drop the cache of this account (after a change of its secret, nothing opens it)."""
        if self.vault_cache(server, handle) is not None:
            (self.directory / VAULT_CACHE_FILE).unlink(missing_ok=True)

    def saved_login(self, server: str, handle: str, vault_key: bytes) -> SavedLogin | None:
        """The last login of this account, if it opens under `vault_key`."""
        saved = self._read(LOGIN_FILE)
        if saved is None or saved.get("server") != server or saved.get("handle") != handle:
            return None
        try:
            data = decrypt_item(
                vault_key, b64u_decode(saved["id"], ID_BYTES), 1, b64u_decode(saved["blob"])
            )
            login = json.loads(data)
            return SavedLogin(str(login["token"]), str(login["account"]), int(login["expires"]))
        except (ProtocolError, KeyError, TypeError, ValueError):
            return None

    def save_login(self, server: str, handle: str, vault_key: bytes, login: SavedLogin) -> None:
        """Keep a login encrypted like a vault item, under a random id of its own."""
        local_id = secrets.token_bytes(ID_BYTES)
        data = json.dumps(
            {"token": login.token, "account": login.account, "expires": login.expires}
        )
        blob = encrypt_item(vault_key, local_id, 1, data.encode("utf-8"))
        self._write(
            LOGIN_FILE,
            {
                "id": b64u_encode(local_id),
                "blob": b64u_encode(blob),
                "server": server,
                "handle": handle,
            },
        )

    def forget_login(self) -> None:
        (self.directory / LOGIN_FILE).unlink(missing_ok=True)

    def clear(self) -> None:
        for name in (SETTINGS_FILE, VAULT_CACHE_FILE, LOGIN_FILE):
            (self.directory / name).unlink(missing_ok=True)
