"""A throw-away PostgreSQL server for tests: Debian's, in a temporary directory.

`initdb` refuses to run as root, as tests here and in CI do, so the cluster
belongs to the `postgres` account (created by Debian's package) when running
as root, and to the current user otherwise. It listens on a Unix socket in
its own directory only (no TCP port at all: nothing to collide with other
test runs), trusts local connections, and for tests trades durability for
speed with `fsync=off`: a test cluster is thrown away, and kill -9 tests kill
the relay, not PostgreSQL. The benchmarks (bench/scaling_bench.py) start one
with `durable=True`, PostgreSQL's own defaults, to compare with SQLite's
`synchronous=FULL` fairly. `Cluster.stop` stops it and removes the directory.

Each server a test starts gets a database of its own (`create_database`,
0.2 s), dropped when the test ends.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import psycopg

BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT = 60


def _owner() -> str | None:
    """The account the cluster runs as: `postgres` when we are root."""
    return "postgres" if os.geteuid() == 0 else None


def _as_owner(args: list[str]) -> list[str]:
    owner = _owner()
    return ["runuser", "-u", owner, "--", *args] if owner else args


class Cluster:
    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="quietline-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self._counter = 0

    def start(self) -> "Cluster":
        owner = _owner()
        self.socket_dir.mkdir()
        if owner:
            entry = pwd.getpwnam(owner)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(self.socket_dir, entry.pw_uid, entry.pw_gid)
        # The tests' clients (root or the current user) must reach the socket.
        self.root.chmod(0o755)
        self.socket_dir.chmod(0o777)
        subprocess.run(
            _as_owner(
                [
                    str(BIN / "initdb"),
                    *("-D", str(self.data), "-A", "trust", "-U", "postgres"),
                    *("--no-sync", "-E", "UTF8", "--locale=C"),
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.start_server()
        return self

    @property
    def postmaster_pid(self) -> int:
        """PostgreSQL's main process, whose children are its backends."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def url(self, database: str = "postgres") -> str:
        host = urllib.parse.quote(str(self.socket_dir), safe="")
        return f"postgresql://postgres@{host}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url(), autocommit=True)

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        self._counter += 1
        name = f"q{os.getpid()}_{self._counter}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop (fast: connections are cut) and start again after `down_seconds`."""
        self.stop_server()
        time.sleep(down_seconds)
        self.start_server()

    def stop_server(self) -> None:
        subprocess.run(
            _as_owner([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
            check=True,
            capture_output=True,
        )

    def start_server(self) -> None:
        options = f"-k {self.socket_dir} -c listen_addresses='' -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            _as_owner(
                [
                    str(BIN / "pg_ctl"),
                    *("-D", str(self.data), "-o", options, "-w", "-t", str(START_TIMEOUT)),
                    *("-l", str(self.root / "server.log"), "start"),
                ]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop_server()
        shutil.rmtree(self.root, ignore_errors=True)


def postgres_dump(url: str) -> bytes:
    """A plain-text pg_dump of the database, as an operator's backup would hold it."""
    return subprocess.run(
        [str(BIN / "pg_dump"), "--dbname", url], check=True, capture_output=True
    ).stdout


@contextlib.contextmanager
def small_tablespace(
    cluster: Cluster, url: str, tables: list[str], size_mib: int
) -> Iterator[None]:
    """Move `tables` of the database at `url` onto a tmpfs of `size_mib` MiB.

    A full disk for PostgreSQL, as server_process.small_disk_server makes one
    for SQLite: writes to those tables then fail as they would on a real full
    disk (SQLSTATE 53100). The tmpfs is mounted inside the cluster's own
    directory, which its owner can reach; mounting needs root, as the suite
    runs here and in CI. At the end the tables move back and it is unmounted.
    """
    cluster._counter += 1
    name = f"small_{cluster._counter}"
    mount = cluster.root / name
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(mount)],
        check=True,
    )
    owner = _owner()
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(mount, entry.pw_uid, entry.pw_gid)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLESPACE {name} LOCATION '{mount}'")
            try:
                for table in tables:
                    conn.execute(f"ALTER TABLE {table} SET TABLESPACE {name}")
                yield
            finally:
                for table in tables:
                    conn.execute(f"ALTER TABLE {table} SET TABLESPACE pg_default")
                conn.execute(f"DROP TABLESPACE {name}")
    finally:
        subprocess.run(["umount", str(mount)], check=True)
