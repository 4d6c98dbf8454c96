"""The real server as a separate process, for tests: `python -m server` on port 0.

`RunningServer` starts `python -m server` in a data directory with port 0 and
reads the address it prints, so no port is ever guessed; its stdout and
stderr go to a log file next to the data directory, which tests can search.
`kill()` sends SIGKILL; `start()` starts it again on the same data directory
and port. The fixtures that use it are in tests/conftest.py.

`small_disk_server` runs one on a file system of its own, a tmpfs of a few
MiB (mounting needs root, as the test suite runs here and in CI), so that a
full disk is a real full disk: `fill_disk` fills it, deleting the filler
frees it again. The log file stays outside, on the ordinary disk.
"""

import contextlib
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from postgres_cluster import postgres_dump

from server.database import SqliteStorage
from server.postgres import PostgresStorage
from server.storage import Storage

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
_URL_LINE = re.compile(r"Quietline is serving on (http://[^\s]+)/")

# Generous limits, so that a test suite registering many accounts is not throttled.
TEST_SETTINGS: dict[str, Any] = {
    "register_rate": 1000,
    "register_burst": 1000,
    "login_rate": 1000,
    "login_burst": 1000,
    "api_rate": 10000,
    "api_burst": 10000,
    "ws_rate": 10000,
    "ws_burst": 10000,
}


def require_web_packages() -> None:
    """Fail with what to do when the web client's npm packages are missing.

    The server serves libsodium from client_web/node_modules (server/static.py,
    VENDOR). `make deps`, which `make test` runs first, installs them with npm
    ci; a bare `pytest` on a fresh clone does not, and then says so here.
    """
    from server.static import VENDOR

    missing = [path for path in VENDOR.values() if not (REPO_ROOT / "client_web" / path).is_file()]
    assert not missing, (
        "client_web/node_modules is missing (" + ", ".join(missing) + "): run `make deps`, "
        "or `cd client_web && npm ci`, before these tests."
    )


class RunningServer:
    """One `python -m server` process and its data directory."""

    def __init__(
        self,
        data_dir: Path,
        settings: dict[str, Any],
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.settings = settings
        self.preexec = preexec
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def database(self) -> Path:
        """The SQLite file; a server on PostgreSQL has none (see `storage`)."""
        assert self.backend == "sqlite", "this server keeps its data in PostgreSQL"
        return self.data_dir / "quietline.sqlite3"

    @property
    def backend(self) -> str:
        return "postgresql" if self.settings.get("database") else "sqlite"

    def storage(self) -> Storage:
        """The server's store, as the server itself opens it."""
        if self.backend == "postgresql":
            return PostgresStorage(self.settings["database"])
        return SqliteStorage(self.data_dir / "quietline.sqlite3")

    def rows(self, sql: str, parameters: Any = ()) -> list[Any]:
        """Rows of a query, read from the store directly, the way an intruder would."""
        conn = self.storage().connect(readonly=True)
        try:
            return [tuple(row) for row in conn.execute(sql, parameters).fetchall()]
        finally:
            conn.close()

    def execute(self, sql: str, parameters: Any = ()) -> None:
        """One statement in its own committed transaction, beside the running server."""
        conn = self.storage().connect()
        try:
            conn.execute("BEGIN")
            conn.execute(sql, parameters)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`quietline admin ...` on this server's data, as an administrator would run it."""
        return run_admin(self.data_dir, *args, database=self.settings.get("database", ""))

    def stored_bytes(self) -> dict[str, bytes]:
        """Everything the store holds, as bytes someone who took it would search."""
        if self.backend == "postgresql":
            return {"pg_dump": postgres_dump(self.settings["database"])}
        stored = {"database": self.database.read_bytes()}
        wal = self.database.with_name(self.database.name + "-wal")
        if wal.exists():
            stored["wal"] = wal.read_bytes()
        return stored

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETLINE_")}
        for name, value in self.settings.items():
            env["QUIETLINE_" + name.upper()] = str(value)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> "RunningServer":
        """Start (or start again, on the same port, so clients keep their address)."""
        port = str(self.port) if self.url else "0"
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server", "--data", str(self.data_dir), "--port", port],
                cwd=REPO_ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self.preexec,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = _URL_LINE.search(self.log_text()[offset:])
            if found:
                self.url = found.group(1)
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not start; its log:\n{self.log_text()[offset:]}")

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or clean up anything."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())


def run_admin(data_dir: Path, *args: str, database: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m server admin ...` on a data directory, as an administrator would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETLINE_")}
    if database:
        env["QUIETLINE_DATABASE"] = database
    return subprocess.run(
        [sys.executable, "-m", "server", "admin", "--data", str(data_dir), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextlib.contextmanager
def small_disk_server(tmp_path: Path, size_mib: int, **settings: Any) -> Iterator[RunningServer]:
    """A started server whose data directory is a tmpfs of `size_mib` MiB."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(mount)],
        check=True,
    )
    running = RunningServer(mount, {**TEST_SETTINGS, **settings})
    try:
        yield running.start()
    finally:
        running.stop()
        subprocess.run(["umount", str(mount)], check=True)


def fill_disk(directory: Path) -> Path:
    """Write a file in `directory` until its file system is full; returns the file."""
    filler = directory / "filler"
    chunk = b"\xff" * (64 * 1024)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                os.write(fd, chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    return filler
                chunk = chunk[: len(chunk) // 2]
    finally:
        os.close(fd)
