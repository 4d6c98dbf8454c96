"""The processes a benchmark runs and watches: the real server, the bare relay, load generators.

Each runs as its own subprocess on 127.0.0.1 with port 0; its address is read
from the line it prints once it listens, so no port is ever guessed. Memory
and CPU time come from /proc, so nothing is sampled from inside the process
being measured.

Thousands of websockets need thousands of file descriptors on both ends:
`raise_open_files_limit` lifts this process's soft limit up to the hard limit,
and every child started afterwards inherits it.
"""

import os
import re
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
_URL_LINE = re.compile(r"serving on (http://[^\s]+?)/?\s")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def raise_open_files_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit; returns the (soft, hard) now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def machine_cpu_ticks() -> tuple[int, int, int]:
    """All CPUs' clock ticks so far from /proc/stat: (total, idle, stolen).

    Stolen ticks are those the hypervisor gave to other machines while this
    one had work to run; idle counts waiting for the disk as idle.
    """
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    total = sum(fields[:8])
    return total, fields[3] + fields[4], fields[7]


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/statm."""
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * _PAGE_BYTES


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of every thread of a process so far."""
    with open(f"/proc/{pid}/stat") as handle:
        # The command name may contain spaces; the fields after its ')' do not.
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` now: PostgreSQL's backends under its postmaster."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def event_loop_cpu_seconds(pid: int) -> float:
    """CPU time of the process's main thread: where asyncio runs, for the server and the relay."""
    return cpu_seconds_of_task(pid, pid)


def cpu_seconds_of_task(pid: int, tid: int) -> float:
    with open(f"/proc/{pid}/task/{tid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without any QUIETLINE_ setting, so only the bench's own apply."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETLINE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Process:
    """A subprocess that prints `... serving on http://host:port/` when it listens."""

    command: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=child_environment)
    popen: subprocess.Popen[bytes] | None = None
    url: str = ""
    started_at: float = 0.0
    listening_at: float = 0.0

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws"

    def start(self) -> "Process":
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.started_at = time.monotonic()
            self.popen = subprocess.Popen(
                self.command, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = self.started_at + START_TIMEOUT
        while time.monotonic() < deadline:
            found = _URL_LINE.search(self.log_text()[offset:])
            if found:
                self.listening_at = time.monotonic()
                self.url = found.group(1)
                return self
            if self.popen.poll() is not None:
                break
            time.sleep(0.002)
        self.stop()
        raise RuntimeError(f"{self.command[2]} did not start; its log:\n{self.log_text()[offset:]}")

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# Rate limits are policy, not capacity: a benchmark's few hundred connections
# stand in for many more people, so per-connection and per-account limits are
# lifted. Every other setting keeps its default (docs/SERVER.md).
BENCH_SERVER_SETTINGS: dict[str, Any] = {
    "ws_rate": 100_000,
    "ws_burst": 100_000,
    "login_rate": 100_000,
    "login_burst": 100_000,
    "api_rate": 100_000,
    "api_burst": 100_000,
    "log_level": "warning",
}


def server(data_dir: Path, **settings: Any) -> Process:
    """The real server (`python -m server`) on `data_dir`, not yet started."""
    values = {**BENCH_SERVER_SETTINGS, **settings}
    env = child_environment({"QUIETLINE_" + k.upper(): str(v) for k, v in values.items()})
    command = [sys.executable, "-m", "server", "--data", str(data_dir), "--port", "0"]
    return Process(command, data_dir.parent / f"{data_dir.name}.log", env)


def bare_relay(log_path: Path) -> Process:
    """The storage-free baseline relay of bench/bare_relay.py, not yet started."""
    return Process([sys.executable, "-m", "bench.bare_relay", "--port", "0"], log_path)
