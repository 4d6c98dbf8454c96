"""The server's command line: `quietline serve` and `quietline admin <command>`.

Every setting of server.config is a flag of `serve` (and an environment
variable); the admin commands take `--data` and `--config` to find the same
database the server uses.
"""

import argparse
import os
import sys

from server import admin, serve
from server.config import (
    SETTING_FIELDS,
    ConfigError,
    env_name,
    flag_name,
    load_settings,
    parse_bool,
)
from server.storage import DRIVER_ERRORS

# What the admin command needs to find the data: the directory, and the
# database when it is not SQLite in that directory.
ADMIN_FLAGS = ("data", "database")


def _add_setting_flags(
    parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None
) -> None:
    for item in SETTING_FIELDS:
        if names is not None and item.name not in names:
            continue
        parser.add_argument(
            flag_name(item.name),
            dest=item.name,
            type=parse_bool if item.type is bool else item.type,
            default=None,
            metavar=item.name.split("_")[-1].upper(),
            help=f"{item.metadata['help']} (env {env_name(item.name)}, default {item.default!r})",
        )
    parser.add_argument(
        "--config",
        default=None,
        help=f"TOML configuration file (env {env_name('config')}, default <data>/quietline.toml)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quietline", description="Quietline: end-to-end encrypted counselling messages."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    serve_parser = commands.add_parser("serve", help="run the server")
    _add_setting_flags(serve_parser)
    admin_parser = commands.add_parser("admin", help="administer the practice's server")
    _add_setting_flags(admin_parser, ADMIN_FLAGS)
    admin_commands = admin_parser.add_subparsers(
        dest="admin_command", required=True, metavar="command"
    )
    for command in admin.COMMANDS:
        command_parser = admin_commands.add_parser(command.name, help=command.help)
        # `--data` and `--database` may come after the command too; given in
        # neither place they are left unset.
        for name in ADMIN_FLAGS:
            command_parser.add_argument(
                flag_name(name), dest=name, default=argparse.SUPPRESS, help=argparse.SUPPRESS
            )
        command.add_arguments(command_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "serve")
    args = build_parser().parse_args(args_list)
    flags = {item.name: getattr(args, item.name, None) for item in SETTING_FIELDS}
    # The database, its WAL and anything else written under the data
    # directory are for the account running the server only.
    os.umask(0o077)
    try:
        settings = load_settings(flags, os.environ, args.config)
        if args.command == "serve":
            return serve.run(settings)
        return admin.run(args, settings)
    except ConfigError as error:
        print(f"quietline: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"quietline: the data directory cannot be used: {error}", file=sys.stderr)
        return 1
    except DRIVER_ERRORS as error:
        print(f"quietline: the database cannot be used: {error}", file=sys.stderr)
        return 1
