"""Helpers for the Python client's tests: invites, accounts and the `quietline client` command.

Invites come from the server's own admin command (`python -m server admin
invite-therapist`), run against the test server's data directory exactly as
a practice administrator would run it. The CLI runs as a real subprocess.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client_py.client import Client
from crypto.vault import KdfCost

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
COMMAND_TIMEOUT = 60
# Argon2id at libsodium's lowest cost: the CLI tests' accounts need not resist
# guessing, and each command would otherwise pay the protocol's cost again.
# Set through the library's API (cli.main's `kdf_cost`), never a user option;
# tests that meet the browser (tests/interop) keep the protocol's cost.
TEST_KDF_COST = KdfCost(opslimit=1, memlimit=8 * 1024)
CHEAP_CLI = Path(__file__).resolve().with_name("cheap_kdf_cli.py")


def make_invite(data_dir: Path, kind: str = "therapist") -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETLINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "server", "admin", "--data", str(data_dir), f"invite-{kind}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1].strip()


async def new_therapist(server: Any, name: str = "Dr. Ana Ruiz") -> tuple[Client, str]:
    therapist, secret = await Client.register(
        server.url, "therapist", invite=make_invite(server.data_dir)
    )
    await therapist.publish_profile(
        {
            "display_name": name,
            "pronouns": "she/her",
            "specialties": ["trauma"],
            "languages": ["en"],
            "response_time": "within a day",
            "accepting": True,
        }
    )
    return therapist, secret


async def new_client(server: Any) -> tuple[Client, str]:
    return await Client.register(server.url, "client")


async def close_all(*clients: Client) -> None:
    for client in clients:
        await client.close()


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def cli_env(server_url: str, profile: Path, secret: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETLINE_")}
    env["QUIETLINE_SERVER"] = server_url
    env["QUIETLINE_PROFILE"] = str(profile)
    if secret is not None:
        env["QUIETLINE_SECRET"] = secret
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cli_command(*args: str, cheap_kdf: bool = False) -> list[str]:
    """The installed `quietline` command (the virtualenv's), else its module.

    With `cheap_kdf`, the same command run with TEST_KDF_COST (cheap_kdf_cli.py).
    """
    if cheap_kdf:
        return [sys.executable, str(CHEAP_CLI), *args]
    installed = Path(sys.executable).with_name("quietline")
    if installed.exists():
        return [str(installed), "client", *args]
    return [sys.executable, "-m", "quietline_cli", "client", *args]


def quietline(
    *args: str,
    server_url: str,
    profile: Path,
    secret: str | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cheap_kdf: bool = False,
) -> Run:
    """Run `quietline client ARGS` to completion; never raises on a non-zero exit."""
    done = subprocess.run(
        cli_command(*args, cheap_kdf=cheap_kdf),
        cwd=REPO_ROOT,
        env=env or cli_env(server_url, profile, secret),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)
