"""`quietline admin ...`: the practice administrator's commands.

They work on the data directory directly, beside a running server: SQLite
serialises their writes with the server's, and the server reads what they
change (intake mode, invites, revocations) from the database. Add a command
by writing a function `(args, settings) -> exit status` (wrap it in
`_with_database` to receive an open, migrated database as a third argument)
and an `AdminCommand` entry in `COMMANDS`; `server.cli` builds the parser
from that list. Nothing here prints content, handles or whole identifiers.
"""

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from crypto.encoding import terminal_text
from server import (
    backup,
    datalock,
    delivery,
    engines,
    invites,
    notification_targets,
    postgres,
    postgres_backup,
    postgres_move,
    retention,
    revocation,
    settings_store,
    web_hash,
)
from server.admin_errors import (
    AdminError,
    AmbiguousAccountError,
    DataInUseError,
    MailFailedError,
    MailNotConfiguredError,
    MoveFailedError,
    NoWebClientError,
    UnknownAccountError,
)
from server.config import (
    CONFIG_FILE_NAME,
    SETTING_FIELDS,
    Settings,
    env_name,
    load_settings_and_sources,
)
from server.errors import InvalidAddressError
from server.hints import admin_command
from server.serve import prepare_database
from server.storage import Connection

# Accounts are shown to the administrator as the start of their id in hex:
# easy to read aloud and type, and never mistaken for an option.
ACCOUNT_PREFIX_CHARS = 8
MIN_PREFIX_CHARS = 4

Command = Callable[[argparse.Namespace, Settings], int]
DatabaseCommand = Callable[[argparse.Namespace, Settings, Connection], int]


@dataclass(frozen=True)
class AdminCommand:
    name: str
    help: str
    run: Command
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


@contextlib.contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    # As the server's writer begins, so that an admin command's write takes
    # its turn with every relay process's (server/postgres.py).
    if conn.engine == "postgresql":
        postgres.begin_write(conn)
    else:
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _with_database(command: DatabaseCommand) -> Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        prepare_database(settings)
        conn = engines.open_storage(settings).connect()
        try:
            return command(args, settings, conn)
        finally:
            conn.close()

    return run


def _day(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day))


def _invite(kind: str) -> DatabaseCommand:
    def run(args: argparse.Namespace, settings: Settings, conn: Connection) -> int:
        with transaction(conn):
            code = invites.create(conn, kind)
        print(code)
        print(
            f"Give this one-time {kind} invite code to its recipient over a safe channel; "
            "it is shown only now.",
            file=sys.stderr,
        )
        return 0

    return run


def _intake(args: argparse.Namespace, settings: Settings, conn: Connection) -> int:
    with transaction(conn):
        settings_store.put(conn, settings_store.INTAKE, args.mode.encode("ascii"))
    print(f"Client intake is now {args.mode}.")
    return 0


def _intake_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mode", choices=settings_store.INTAKE_MODES, help="new intake mode")


def _display_name(profile: bytes | None) -> str:
    if profile is None:
        return "(no profile yet)"
    try:
        name = json.loads(profile)["display_name"]
    except (ValueError, KeyError, TypeError):
        return "(unreadable profile)"
    # A therapist chose this text: no control sequence reaches the admin's screen.
    return terminal_text(str(name), keep="")


def _list_therapists(args: argparse.Namespace, settings: Settings, conn: Connection) -> int:
    rows = conn.execute(
        "SELECT a.id, a.created, a.revoked, p.profile FROM accounts a "
        "LEFT JOIN profiles p ON p.account = a.id WHERE a.role = 'therapist' "
        "ORDER BY a.created, a.id"
    ).fetchall()
    if not rows:
        print(
            f"No therapist yet: run `{admin_command(settings, 'invite-therapist')}` "
            "to create an invite code."
        )
        return 0
    print(f"{'ACCOUNT':<10}{'CREATED':<12}{'STATUS':<22}NAME")
    for account, created, revoked, profile in rows:
        status = "active" if revoked is None else f"revoked {_day(revoked)}"
        prefix = bytes(account).hex()[:ACCOUNT_PREFIX_CHARS]
        name = _display_name(None if profile is None else bytes(profile))
        print(f"{prefix:<10}{_day(created):<12}{status:<22}{name}")
    return 0


def _find_therapist(conn: Connection, settings: Settings, prefix: str) -> bytes:
    listing = admin_command(settings, "list-therapists")
    if len(prefix) < MIN_PREFIX_CHARS:
        raise UnknownAccountError(
            f"Give at least {MIN_PREFIX_CHARS} characters of the account, as `{listing}` shows it."
        )
    wanted = prefix.lower()
    matches = [
        bytes(row[0])
        for row in conn.execute("SELECT id FROM accounts WHERE role = 'therapist'")
        if bytes(row[0]).hex().startswith(wanted)
    ]
    if not matches:
        raise UnknownAccountError(f"No therapist account starts with {prefix!r}; see `{listing}`.")
    if len(matches) > 1:
        raise AmbiguousAccountError(
            f"{len(matches)} therapist accounts start with {prefix!r}; give more characters."
        )
    return matches[0]


def _revoke_therapist(args: argparse.Namespace, settings: Settings, conn: Connection) -> int:
    with transaction(conn):
        account = _find_therapist(conn, settings, args.account)
        changed = revocation.revoke(conn, account)
    prefix = account.hex()[:ACCOUNT_PREFIX_CHARS]
    if not changed:
        print(f"Therapist {prefix} was revoked already.")
        return 0
    print(
        f"Revoked therapist {prefix}: their sessions end within "
        f"{revocation.POLL_SECONDS:g} seconds, their profile left the directory, "
        "and messages sent to them are refused with recipient_gone."
    )
    return 0


def _revoke_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "account", help="the account as `list-therapists` shows it (at least 4 characters)"
    )


def _database_bytes(settings: Settings, conn: Connection) -> int:
    if conn.engine == "postgresql":
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
    path = settings.database_path()
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _stats(args: argparse.Namespace, settings: Settings, conn: Connection) -> int:
    conn.execute("BEGIN")
    try:
        roles = dict(
            conn.execute(
                "SELECT role || CASE WHEN revoked IS NULL THEN '' ELSE ' (revoked)' END, COUNT(*) "
                "FROM accounts GROUP BY 1"
            ).fetchall()
        )
        pairs = conn.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT sender, recipient FROM envelopes) AS pairs"
        ).fetchone()[0]
        pending = conn.execute("SELECT COUNT(*) FROM envelopes").fetchone()[0]
        unused = dict(conn.execute("SELECT kind, COUNT(*) FROM invites GROUP BY kind").fetchall())
        group_counts = conn.execute(
            "SELECT (SELECT COUNT(*) FROM groups), "
            "(SELECT COUNT(*) FROM groups WHERE listing IS NULL), "
            "(SELECT COUNT(*) FROM group_members), (SELECT COUNT(*) FROM group_messages)"
        ).fetchone()
        size = _database_bytes(settings, conn)
    finally:
        conn.execute("ROLLBACK")
    print(f"client accounts: {roles.get('client', 0)}")
    print(f"therapist accounts: {roles.get('therapist', 0)}")
    print(f"revoked therapist accounts: {roles.get('therapist (revoked)', 0)}")
    print(f"threads with undelivered messages: {pairs}")
    print(f"undelivered envelopes: {pending}")
    print(f"groups: {group_counts[0]} ({group_counts[1]} private)")
    print(f"group memberships: {group_counts[2]}")
    print(f"stored group items: {group_counts[3]}")
    print(f"unused therapist invites: {unused.get('therapist', 0)}")
    print(f"unused client invites: {unused.get('client', 0)}")
    print(f"database size: {size} bytes")
    return 0


def _backup(args: argparse.Namespace, settings: Settings, conn: Connection) -> int:
    target = Path(args.path)
    if conn.engine == "postgresql":
        dumped = postgres_backup.backup(settings.database, target, force=args.force)
        print(
            f"Backed up to {target} ({dumped.size} bytes, schema {dumped.version}, pg_dump's "
            "custom format). It holds the installation's keys: store it as safely as the "
            "server itself."
        )
        return 0
    checked = backup.backup(settings.database_path(), target, force=args.force)
    print(
        f"Backed up to {target} ({checked.size} bytes, schema {checked.version}, "
        "integrity check ok). It holds the installation's keys: store it as safely "
        "as the server itself."
    )
    return 0


def _backup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="new file to write the backup to")
    parser.add_argument("--force", action="store_true", help="replace the file if it exists")


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    if postgres.is_url(settings.database):
        restored = postgres_backup.restore(Path(args.path), settings.database, force=args.force)
        print(
            f"Restored {args.path} into {postgres.without_password(settings.database)} "
            f"(schema {restored.version})."
        )
        return 0
    aside = backup.restore(Path(args.path), settings.data_dir(), force=args.force)
    print(f"Restored {args.path} into {settings.database_path()} (integrity check ok).")
    if aside is not None:
        print(f"The database it replaced is kept as {aside}; delete it when all is well.")
    return 0


def _restore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a backup made by `quietline admin backup`")
    parser.add_argument(
        "--force", action="store_true", help="replace the data directory's existing database"
    )


def _move_to_postgresql(args: argparse.Namespace, settings: Settings) -> int:
    if not postgres.is_url(args.url):
        raise MoveFailedError("Give the target as a postgresql:// URL.")
    path = settings.database_path()
    if not path.is_file():
        raise MoveFailedError(f"There is no SQLite database at {path} to move.")
    try:
        lock = datalock.acquire(settings.data_dir())
    except datalock.DataDirInUseError as error:
        raise DataInUseError(str(error)) from None
    try:
        prepare_database(Settings(data=settings.data))
        moved = postgres_move.move(path, args.url)
    finally:
        lock.close()
    rows = sum(moved.tables.values())
    print(
        f"Moved {rows} rows in {len(moved.tables)} tables from {path} to "
        f"{postgres.without_password(args.url)}; every table's count matches."
    )
    print(
        "Now set database to that URL (quietline.toml or QUIETLINE_DATABASE) and start the "
        f"server. {path} is left as it was; keep it until all is well."
    )
    return 0


def _move_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="an empty PostgreSQL database, as a postgresql:// URL")


def _purge(args: argparse.Namespace, settings: Settings, conn: Connection) -> int:
    with transaction(conn):
        purged = retention.purge(conn, settings.envelope_ttl_days, settings.client_inactive_days)
    print(
        f"Removed {purged.envelopes} expired envelopes (with their de-duplication records), "
        f"{purged.group_items} expired group items, {purged.tokens} expired tokens and "
        f"{purged.clients} inactive client accounts."
    )
    return 0


def _config(args: argparse.Namespace, settings: Settings) -> int:
    flags = {item.name: getattr(args, item.name, None) for item in SETTING_FIELDS}
    _, sources = load_settings_and_sources(flags, os.environ, args.config)
    path_text = args.config or os.environ.get(env_name("config"))
    path = Path(path_text) if path_text else settings.data_dir() / CONFIG_FILE_NAME
    print(f"# configuration file: {path}{'' if path.exists() else ' (none)'}")
    for item in SETTING_FIELDS:
        value = json.dumps(getattr(settings, item.name))
        if item.metadata["secret"] and getattr(settings, item.name):
            value = '"(set, not shown)"'
        print(f"{item.name} = {value}  # {sources[item.name]}")
    return 0


def _web_hash(args: argparse.Namespace, settings: Settings) -> int:
    root = settings.client_path()
    if not (root / "index.html").is_file():
        raise NoWebClientError(
            f"There is no web client at {root}; set client_dir (--client-dir) to it."
        )
    text = web_hash.listing(root)
    sys.stdout.write(text)
    print(f"{web_hash.combined(text)}  combined")
    return 0


def _web_hash_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client-dir",
        dest="client_dir",
        default=None,
        help=f"the web client's directory (env {env_name('client_dir')})",
    )


def _test_mail(args: argparse.Namespace, settings: Settings) -> int:
    if not delivery.mail_configured(settings):
        raise MailNotConfiguredError(
            "No mail server is set: set smtp_host, smtp_from and the other smtp_ settings "
            '(docs/SELF_HOSTING.md, "Mail and push").'
        )
    try:
        address = notification_targets.check_email(args.address)
    except InvalidAddressError as error:
        raise MailFailedError(error.message) from None
    try:
        delivery.send_mail(settings, address)
    except delivery.DeliveryError as error:
        raise MailFailedError(
            f"The test mail was not sent: {error}. Check the smtp_ settings and the mail server."
        ) from None
    print(
        f"Sent a test notification through {settings.smtp_host}:{settings.smtp_port}; "
        "it reads exactly as therapists will see it."
    )
    return 0


def _test_mail_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", help="a mail address to send the test notification to")


COMMANDS: list[AdminCommand] = [
    AdminCommand(
        "invite-therapist",
        "print a one-time invite code for a therapist",
        _with_database(_invite("therapist")),
    ),
    AdminCommand(
        "invite-client",
        "print a one-time invite code for a client (needed when intake is invite-only)",
        _with_database(_invite("client")),
    ),
    AdminCommand(
        "intake",
        "let clients sign up freely (open) or by invite only",
        _with_database(_intake),
        _intake_arguments,
    ),
    AdminCommand(
        "list-therapists",
        "list therapist accounts: id prefix, created, revoked, display name",
        _with_database(_list_therapists),
    ),
    AdminCommand(
        "revoke-therapist",
        "end a therapist's access: sessions, directory entry and new messages",
        _with_database(_revoke_therapist),
        _revoke_arguments,
    ),
    AdminCommand("stats", "print counts (never content or identifiers)", _with_database(_stats)),
    AdminCommand(
        "backup",
        "write a consistent copy of the database while the server runs",
        _with_database(_backup),
        _backup_arguments,
    ),
    AdminCommand(
        "restore",
        "put a backup in place in the data directory (the server must be stopped)",
        _restore,
        _restore_arguments,
    ),
    AdminCommand("purge", "apply the retention policy now", _with_database(_purge)),
    AdminCommand(
        "move-to-postgresql",
        "copy the SQLite database into an empty PostgreSQL database (the server must be stopped)",
        _move_to_postgresql,
        _move_arguments,
    ),
    AdminCommand("config", "print every setting, its value and where it came from", _config),
    AdminCommand(
        "test-mail",
        "send a notification mail through the configured mail server, as a test",
        _test_mail,
        _test_mail_arguments,
    ),
    AdminCommand(
        "web-hash",
        "print SHA-256 of every web client file served, and a combined hash",
        _web_hash,
        _web_hash_arguments,
    ),
]


def run(args: argparse.Namespace, settings: Settings) -> int:
    command = next(c for c in COMMANDS if c.name == args.admin_command)
    try:
        return command.run(args, settings)
    except AdminError as error:
        print(f"quietline: {error.message} ({error.code})", file=sys.stderr)
        return 1
