"""Helpers of the admin tests: run `quietline admin` as a practice administrator would."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from server_harness import Account, make_account
from server_process import REPO_ROOT

from crypto import signatures
from crypto.constants import CTX_PROFILE
from crypto.encoding import b64u_encode


def admin(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m server admin --data DIR ...`; QUIETLINE_* variables only as given."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("QUIETLINE_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "server", "admin", "--data", str(data_dir), *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def invite(data_dir: Path, kind: str = "therapist") -> str:
    return ok(admin(data_dir, f"invite-{kind}")).strip()


def therapist_with_profile(running: Any, name: str) -> Account:
    therapist = make_account(running.url, "therapist", invite=invite(running.data_dir))
    profile = json.dumps({"display_name": name, "accepting": True}).encode()
    sig = signatures.sign(therapist.identity.seed, CTX_PROFILE, profile)
    reply = therapist.call(
        "PUT", "/api/profile", {"profile": b64u_encode(profile), "sig": b64u_encode(sig)}
    )
    assert reply.status == 200, reply.body
    assert therapist.call("PUT", "/api/prekeys", therapist.prekey_upload()).status == 200
    return therapist


def table_rows(database: Path) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table, read from a consistent snapshot."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        conn.execute("BEGIN")
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {name: set(conn.execute(f"SELECT * FROM {name}").fetchall()) for name in names}
    finally:
        conn.close()
