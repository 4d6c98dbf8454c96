"""`quietline admin ...`: the practice administrator's commands.

They work on the data directory directly, beside a running server: SQLite
serialises their writes with the server's, and the server reads settings such
as the intake mode from the database on every use. Add a command by writing
a function `(args, settings, conn) -> exit status` and an `AdminCommand`
entry in `COMMANDS`; `server.cli` builds the parser from that list.
"""

import argparse
import contextlib
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from server import database, invites, settings_store
from server.config import Settings
from server.serve import prepare_database


@dataclass(frozen=True)
class AdminCommand:
    name: str
    help: str
    run: Callable[[argparse.Namespace, Settings, sqlite3.Connection], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _invite(kind: str) -> Callable[[argparse.Namespace, Settings, sqlite3.Connection], int]:
    def run(args: argparse.Namespace, settings: Settings, conn: sqlite3.Connection) -> int:
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


def _intake(args: argparse.Namespace, settings: Settings, conn: sqlite3.Connection) -> int:
    with transaction(conn):
        settings_store.put(conn, settings_store.INTAKE, args.mode.encode("ascii"))
    print(f"Client intake is now {args.mode}.")
    return 0


def _intake_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mode", choices=settings_store.INTAKE_MODES, help="new intake mode")


COMMANDS: list[AdminCommand] = [
    AdminCommand(
        "invite-therapist", "print a one-time invite code for a therapist", _invite("therapist")
    ),
    AdminCommand(
        "invite-client",
        "print a one-time invite code for a client (needed when intake is invite-only)",
        _invite("client"),
    ),
    AdminCommand(
        "intake", "let clients sign up freely (open) or by invite only", _intake, _intake_arguments
    ),
]


def run(args: argparse.Namespace, settings: Settings) -> int:
    command = next(c for c in COMMANDS if c.name == args.admin_command)
    prepare_database(settings)
    conn = database.connect(settings.database_path())
    try:
        return command.run(args, settings, conn)
    finally:
        conn.close()
