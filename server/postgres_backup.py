"""Online backup and restore of a PostgreSQL database, through pg_dump and pg_restore.

`backup` runs pg_dump in its custom format: one consistent snapshot of the
live database (pg_dump reads in one repeatable-read transaction), taken while
every relay process keeps reading and writing. The dump is written beside its
final name and renamed once pg_dump succeeded and pg_restore can list it.

`restore` refuses a database that already holds Quietline's tables unless
`force` is given, then runs pg_restore with `--clean` in a single
transaction: the database is either the backup's state or unchanged. The
relay processes must be stopped first (docs/SELF_HOSTING.md). Afterwards the
schema is brought to the latest version, as a server start would.

The password, if the URL has one, reaches the tools through their
environment (PGPASSWORD), never their command line, which other users of the
machine can read.
"""

import contextlib
import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from server import postgres_schema
from server.admin_errors import BackupExistsError, DatabaseExistsError, NotABackupError
from server.postgres import PostgresStorage

TOOL_TIMEOUT_SECONDS = 3600
# Where Debian and Ubuntu put the client tools of each PostgreSQL version,
# when the version-independent wrappers are not on PATH.
DEBIAN_TOOLS = "/usr/lib/postgresql/*/bin"


@dataclass(frozen=True)
class Dumped:
    version: int
    size: int


def tool(name: str) -> str:
    """The path of pg_dump or pg_restore: PATH first, then the newest Debian version."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"{DEBIAN_TOOLS}/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise FileNotFoundError(f"{name} is not installed: install PostgreSQL's client tools")
    return candidates[-1]


def _dbname_and_environment(url: str) -> tuple[str, dict[str, str]]:
    """A connection string without the password, and an environment carrying it."""
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    dbname = make_conninfo(**{key: str(value) for key, value in params.items()})
    return dbname, env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (fixed tools, no shell)
        args, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS, check=False
    )


def _version(url: str) -> int:
    conn = PostgresStorage(url).connect(readonly=True)
    try:
        versions = postgres_schema.applied_versions(conn)
    finally:
        conn.close()
    return max(versions, default=0)


def backup(url: str, target: Path, *, force: bool = False) -> Dumped:
    if target.exists() and not force:
        raise BackupExistsError(f"{target} exists already; give --force to replace it.")
    partial = target.with_name(target.name + ".partial")
    dbname, env = _dbname_and_environment(url)
    version = _version(url)
    done = _run([tool("pg_dump"), "--format=custom", f"--file={partial}", dbname], env)
    if done.returncode != 0:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise NotABackupError(f"pg_dump failed: {done.stderr.strip()}")
    listed = _run([tool("pg_restore"), "--list", str(partial)], env)
    if listed.returncode != 0 or "TABLE DATA" not in listed.stdout:
        partial.unlink()
        raise NotABackupError(f"the dump cannot be read back: {listed.stderr.strip()}")
    fd = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    partial.replace(target)
    return Dumped(version, target.stat().st_size)


def restore(source: Path, url: str, *, force: bool = False) -> Dumped:
    if not source.is_file():
        raise NotABackupError(f"{source} is not a file; give the path of a backup.")
    dbname, env = _dbname_and_environment(url)
    listed = _run([tool("pg_restore"), "--list", str(source)], env)
    if listed.returncode != 0 or "schema_migrations" not in listed.stdout:
        raise NotABackupError(
            f"{source} is not a backup of a Quietline PostgreSQL database (pg_restore --list "
            "does not show its tables)."
        )
    if _version(url) and not force:
        raise DatabaseExistsError(
            "The database holds Quietline data already; give --force to replace it with "
            "the backup (stop every relay process first)."
        )
    done = _run(
        [
            tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--no-owner",
            f"--dbname={dbname}",
            str(source),
        ],
        env,
    )
    if done.returncode != 0:
        raise NotABackupError(
            f"pg_restore failed; the database is unchanged: {done.stderr.strip()}"
        )
    PostgresStorage(url).prepare()
    return Dumped(_version(url), source.stat().st_size)
