"""The server's settings: every one has a default, an environment variable and a flag.

A setting named `max_inbox` is read, first match wins, from the flag
`--max-inbox`, the environment variable `QUIETLINE_MAX_INBOX`, the key
`max_inbox` of the TOML configuration file, and finally the default below.
The configuration file is `--config` / `QUIETLINE_CONFIG`, or
`<data>/quietline.toml` when that exists. docs/SERVER.md lists them all.
"""

import dataclasses
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crypto.constants import (
    IDLE_LOCK_DEFAULT_MINUTES,
    IDLE_LOCK_MAX_MINUTES,
    IDLE_LOCK_MIN_MINUTES,
    PROFILE_LIST_ITEM_CHARS,
    WS_CHALLENGE_TTL,
)

ENV_PREFIX = "QUIETLINE_"
# The practice's own lists of terms for profiles and the directory's filters.
VOCABULARIES = ("specialties", "languages")
MAX_VOCABULARY = 200
CONFIG_FILE_NAME = "quietline.toml"
MIB = 1024 * 1024


class ConfigError(Exception):
    """A setting has a value the server cannot use; the message names it and says why."""


def _setting(
    default: Any,
    help_text: str,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    secret: bool = False,
) -> Any:
    """`secret` settings are never printed (`quietline admin config` shows that one is set)."""
    return field(
        default=default,
        metadata={"help": help_text, "minimum": minimum, "maximum": maximum, "secret": secret},
    )


@dataclass(frozen=True)
class Settings:
    host: str = _setting("127.0.0.1", "address to listen on")
    port: int = _setting(8000, "TCP port to listen on (0 picks a free one)", 0)
    data: str = _setting("data", "directory holding the database and quietline.toml")
    database: str = _setting(
        "",
        "where the data is kept: empty for SQLite in the data directory, or a "
        "postgresql:// URL that several relay processes may share",
        secret=True,
    )
    client_dir: str = _setting(
        "", "directory of the web client (default: client_web/ of the source)"
    )
    log_level: str = _setting("info", "log level: debug, info, warning or error")

    neutral_title: str = _setting("Notes", "page title the web client shows, chosen to look dull")
    exit_url: str = _setting(
        "https://www.wikipedia.org/", "where quick exit sends the browser (never fetched here)"
    )
    idle_lock_minutes: int = _setting(
        IDLE_LOCK_DEFAULT_MINUTES,
        "minutes of inactivity before the web client locks",
        IDLE_LOCK_MIN_MINUTES,
        IDLE_LOCK_MAX_MINUTES,
    )
    crisis_text: str = _setting("", "crisis information shown by the web client (may be empty)")
    specialties: str = _setting(
        "",
        "the practice's specialties, separated by commas: what therapists choose from and "
        "clients filter by (empty: free text only)",
    )
    languages: str = _setting(
        "", "the practice's languages, separated by commas, used as specialties are"
    )
    title_marker: bool = _setting(
        True, "a client's tab title gains a count of new messages while the app is open"
    )

    max_request_bytes: int = _setting(8 * MIB, "largest HTTP request body", 1024)
    max_frame_bytes: int = _setting(MIB, "largest websocket frame", 96 * 1024)
    max_vault_writes: int = _setting(256, "most vault writes in one request or frame", 1)
    max_vault_bytes: int = _setting(
        256 * MIB, "most bytes of vault blobs per therapist account", MIB
    )
    max_client_vault_bytes: int = _setting(
        64 * MIB, "most bytes of vault blobs per client account", MIB
    )
    max_vault_items: int = _setting(
        200_000, "most vault items (tombstones included) per account", 16
    )
    max_one_time_prekeys: int = _setting(500, "most one-time prekeys stored per account", 1)
    one_time_prekeys_per_requester: int = _setting(
        3, "one-time prekeys one account may take of another; later bundles have none", 1
    )
    one_time_prekey_refill: float = _setting(
        86_400.0, "seconds until a requester may take one more of the same account's", 1.0
    )
    max_prekeys_per_upload: int = _setting(100, "most one-time prekeys in one upload", 1)
    max_inbox: int = _setting(10_000, "most undelivered envelopes per recipient", 1)
    max_pending_per_sender: int = _setting(
        500, "most undelivered envelopes from one sender to one recipient", 1
    )
    max_pending_bytes: int = _setting(
        16 * MIB, "most bytes of undelivered envelopes one account has sent, to anyone", 256 * 1024
    )
    min_free_disk_mib: int = _setting(
        1024,
        "free space kept on the data directory's disk: below it sign-ups, new envelopes "
        "and vault growth are refused (0: no guard)",
        0,
    )
    max_connections: int = _setting(5_000, "most authenticated websocket connections in total", 1)
    max_unauthenticated: int = _setting(
        1_000, "most websocket connections not yet authenticated; the oldest gives way", 1
    )
    max_connections_per_account: int = _setting(
        10, "most live websocket connections (devices, tabs) per account; one more is refused", 1
    )
    ws_rate: float = _setting(100.0, "websocket frames per second per connection", 0.1)
    ws_burst: int = _setting(400, "websocket frames a connection may send at once", 1)
    send_queue_frames: int = _setting(
        512, "frames queued for a slow connection before closing it", 4
    )
    send_queue_bytes: int = _setting(
        8 * MIB, "bytes queued for a slow connection before closing it", 256 * 1024
    )
    auth_timeout: float = _setting(
        10.0, "seconds an unauthenticated websocket may stay open", 0.1, WS_CHALLENGE_TTL
    )
    header_timeout: float = _setting(
        10.0, "seconds a client may take over an HTTP request's headers", 0.1
    )
    body_timeout: float = _setting(
        60.0, "seconds a client may take over an HTTP request's body, after its headers", 0.1
    )
    ws_ping_interval: float = _setting(20.0, "seconds between websocket keepalive pings", 0.1)
    ws_ping_timeout: float = _setting(
        20.0, "seconds to wait for a ping's answer before closing the connection", 0.1
    )
    envelope_ttl_days: float = _setting(30.0, "days an undelivered envelope is kept", 0.01)
    client_inactive_days: int = _setting(
        0, "days without a login or connection before a client account is deleted (0: never)", 0
    )
    purge_interval: float = _setting(3600.0, "seconds between retention purges", 1.0)
    register_rate: float = _setting(
        1.0, "account registrations per second, all clients together", 0.01
    )
    register_burst: int = _setting(30, "registrations allowed at once", 1)
    login_rate: float = _setting(10.0, "logins per second, all clients together", 0.01)
    login_burst: int = _setting(60, "logins allowed at once", 1)
    api_rate: float = _setting(50.0, "authenticated HTTP requests per second per account", 0.1)
    api_burst: int = _setting(200, "authenticated HTTP requests per account at once", 1)
    argon2_concurrency: int = _setting(2, "password hashes computed at the same time", 1)

    # Therapists' notifications (server/notifier.py, docs/SELF_HOSTING.md "Mail and push").
    smtp_host: str = _setting("", "the practice's mail server for notifications (empty: no mail)")
    smtp_port: int = _setting(587, "the mail server's port", 1, 65535)
    smtp_security: str = _setting("starttls", "starttls, tls (implicit, port 465) or none")
    smtp_user: str = _setting("", "user name for the mail server (empty: no login)")
    smtp_password: str = _setting("", "password for the mail server", secret=True)
    smtp_from: str = _setting("", "sender address of notification mail")
    notify_subject: str = _setting("Something new at the practice", "subject of a notification")
    notify_text: str = _setting(
        "There is something new for you at the practice. Sign in to read it.",
        "the whole text of a notification (mail body and push body)",
    )
    notify_interval: float = _setting(
        900.0, "seconds: at most one notification per therapist and channel in this time", 0.1
    )
    notify_delay: float = _setting(
        120.0, "seconds: a notification waits a random time up to this before it goes", 0.0
    )
    notify_retry: float = _setting(
        30.0, "seconds before the first retry of a failed delivery; doubles up to an hour", 0.1
    )
    notify_timeout: float = _setting(
        10.0, "seconds a mail server or push address may take to connect or answer", 0.1
    )
    notify_allow_http_loopback: bool = _setting(
        False, "accept http:// push addresses on this machine (for testing only)"
    )

    def data_dir(self) -> Path:
        return Path(self.data)

    def database_path(self) -> Path:
        return self.data_dir() / "quietline.sqlite3"

    def client_path(self) -> Path:
        if self.client_dir:
            return Path(self.client_dir)
        return Path(__file__).resolve().parent.parent / "client_web"

    def vocabulary(self, name: str) -> list[str]:
        """The practice's list for `specialties` or `languages`, in its order, without repeats."""
        found: list[str] = []
        for term in getattr(self, name).split(","):
            term = " ".join(term.split())
            if term and term.casefold() not in {known.casefold() for known in found}:
                found.append(term)
        return found

    def ws_max_size(self) -> int:
        """uvicorn's hard limit: a little above ours, so that we answer `too_large` ourselves."""
        return self.max_frame_bytes + 64 * 1024


SETTING_FIELDS: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(Settings)

# The settings that keep one person from denying service to others: each is a
# row of docs/SECURITY.md, "Limits", with what the abuser and everyone else see.
LIMITS: tuple[str, ...] = (
    "max_request_bytes",
    "max_frame_bytes",
    "header_timeout",
    "body_timeout",
    "max_vault_writes",
    "max_vault_bytes",
    "max_client_vault_bytes",
    "max_vault_items",
    "max_one_time_prekeys",
    "max_prekeys_per_upload",
    "one_time_prekeys_per_requester",
    "one_time_prekey_refill",
    "max_inbox",
    "max_pending_per_sender",
    "max_pending_bytes",
    "envelope_ttl_days",
    "min_free_disk_mib",
    "max_connections",
    "max_unauthenticated",
    "auth_timeout",
    "max_connections_per_account",
    "ws_rate",
    "ws_burst",
    "send_queue_frames",
    "send_queue_bytes",
    "ws_ping_interval",
    "ws_ping_timeout",
    "register_rate",
    "register_burst",
    "login_rate",
    "login_burst",
    "api_rate",
    "api_burst",
    "argon2_concurrency",
    "notify_interval",
)


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")


def parse_bool(text: str) -> bool:
    """A yes/no setting as text (environment, command line): true/false, yes/no, on/off, 1/0."""
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(text)


def _convert(name: str, kind: Any, raw: Any, source: str) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            try:
                return parse_bool(raw)
            except ValueError:
                pass
        raise ConfigError(f"{name} from {source} must be true or false, not {raw!r}.")
    try:
        if kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            return int(raw)
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} from {source} must be a number, not {raw!r}.") from None
    if not isinstance(raw, str):
        raise ConfigError(f"{name} from {source} must be text, not {raw!r}.")
    return raw


# Settings an earlier version had, with what to do about each: a practice's
# file that still sets one is refused with this, rather than as unknown, so
# an upgrade that meets it says what changed.
RETIRED_SETTINGS = {
    "login_attempts_per_handle": "one handle's wrong logins no longer hold its owner out",
    "login_attempt_refill": "one handle's wrong logins no longer hold its owner out",
}


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(
            f"The configuration file {path} cannot be read: {exc.strerror}."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The configuration file {path} is not valid TOML: {exc}.") from None
    retired = sorted(set(values) & RETIRED_SETTINGS.keys())
    if retired:
        reasons = "; ".join(f"{name}: {RETIRED_SETTINGS[name]}" for name in retired)
        raise ConfigError(
            f"The configuration file {path} sets {', '.join(retired)}, which this version "
            f"no longer has ({reasons}). Delete those lines; see docs/SELF_HOSTING.md, "
            "section 7."
        )
    known = {f.name for f in SETTING_FIELDS}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"The configuration file {path} has unknown settings: {', '.join(unknown)}; "
            "see docs/SERVER.md for the list."
        )
    return values


def _validate(settings: Settings) -> Settings:
    for item in SETTING_FIELDS:
        minimum, maximum = item.metadata["minimum"], item.metadata["maximum"]
        value = getattr(settings, item.name)
        if minimum is not None and value < minimum:
            raise ConfigError(f"{item.name} must be at least {minimum}, not {value}.")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{item.name} must be at most {maximum}, not {value}.")
    if settings.port > 65535:
        raise ConfigError(f"port must be at most 65535, not {settings.port}.")
    exit_url = urllib.parse.urlsplit(settings.exit_url)
    if exit_url.scheme not in ("https", "http") or not exit_url.netloc:
        raise ConfigError("exit_url must be an absolute http:// or https:// address.")
    if settings.log_level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError("log_level must be debug, info, warning or error.")
    if settings.database and not settings.database.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "database must be empty (SQLite in the data directory) or a postgresql:// URL."
        )
    if len(settings.neutral_title) > 80 or len(settings.crisis_text) > 4000:
        raise ConfigError("neutral_title is at most 80 and crisis_text at most 4000 characters.")
    for name in VOCABULARIES:
        terms = settings.vocabulary(name)
        if len(terms) > MAX_VOCABULARY or any(
            len(term) > PROFILE_LIST_ITEM_CHARS for term in terms
        ):
            raise ConfigError(
                f"{name} is at most {MAX_VOCABULARY} terms of at most "
                f"{PROFILE_LIST_ITEM_CHARS} characters each, separated by commas."
            )
    _validate_notifications(settings)
    return settings


SMTP_SECURITY = ("starttls", "tls", "none")


def _validate_notifications(settings: Settings) -> None:
    if settings.smtp_security not in SMTP_SECURITY:
        raise ConfigError("smtp_security must be starttls, tls or none.")
    if settings.smtp_host and "@" not in settings.smtp_from:
        raise ConfigError("smtp_from must be the sender's mail address when smtp_host is set.")
    if any(c in settings.smtp_from for c in "\r\n"):
        raise ConfigError("smtp_from must be one line.")
    if not settings.notify_subject.strip() or len(settings.notify_subject) > 200:
        raise ConfigError("notify_subject must be 1 to 200 characters.")
    if any(c in settings.notify_subject for c in "\r\n"):
        raise ConfigError("notify_subject must be one line.")
    if not settings.notify_text.strip() or len(settings.notify_text) > 2000:
        raise ConfigError("notify_text must be 1 to 2000 characters.")


SOURCES = ("default", "file", "env", "flag")


def load_settings_and_sources(
    flags: Mapping[str, Any], environ: Mapping[str, str], config_path: str | None = None
) -> tuple[Settings, dict[str, str]]:
    """The merged settings, and for each one where its value came from (one of `SOURCES`)."""
    values: dict[str, Any] = {}
    sources = {item.name: "default" for item in SETTING_FIELDS}
    for item in SETTING_FIELDS:
        if flags.get(item.name) is not None:
            values[item.name] = _convert(item.name, item.type, flags[item.name], "the command line")
            sources[item.name] = "flag"
        elif env_name(item.name) in environ:
            raw = environ[env_name(item.name)]
            values[item.name] = _convert(item.name, item.type, raw, env_name(item.name))
            sources[item.name] = "env"
    data = Path(values.get("data", Settings.data))
    path_text = config_path or environ.get(env_name("config"))
    path = Path(path_text) if path_text else data / CONFIG_FILE_NAME
    if path_text or path.exists():
        types = {f.name: f.type for f in SETTING_FIELDS}
        for name, raw in _read_config_file(path).items():
            if name not in values:
                values[name] = _convert(name, types[name], raw, str(path))
                sources[name] = "file"
    return _validate(Settings(**values)), sources


def load_settings(
    flags: Mapping[str, Any], environ: Mapping[str, str], config_path: str | None = None
) -> Settings:
    """Merge flag values (None when not given), the environment and the configuration file."""
    return load_settings_and_sources(flags, environ, config_path)[0]
