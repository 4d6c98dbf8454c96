"""What every benchmark gets: the run's mode, a scratch directory, and helpers to run jobs."""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import jobs, processes

# After its time limit the load generator stops itself; this is for when it cannot.
KILL_AFTER_LIMIT_S = 30.0


@dataclass
class Context:
    quick: bool
    work: Path
    soak_minutes: float = 10.0
    found: dict[str, Any] = field(default_factory=dict)  # results later benchmarks may use

    def pick(self, quick: Any, full: Any) -> Any:
        return quick if self.quick else full

    def scratch(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def loadgen_process(job_text: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m bench.loadgen` with `job_text` on its stdin, killed after `timeout` s."""
    return subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=job_text,
        capture_output=True,
        text=True,
        cwd=processes.REPO_ROOT,
        env=processes.child_environment(),
        timeout=timeout,
        check=False,
    )


def run_loadgen(job: dict[str, Any]) -> dict[str, Any]:
    """Run one load-generator job in its own process and return its result."""
    jobs.check(job)
    started = time.monotonic()
    done = loadgen_process(json.dumps(job), jobs.time_limit(job) + KILL_AFTER_LIMIT_S)
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed ({job['kind']}):\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout)
    result["loadgen_wall_s"] = time.monotonic() - started
    return result


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    soft, hard = processes.raise_open_files_limit()
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "open_files_limit": [soft, hard],
        "loadavg": loadavg(),
        "niceness": os.nice(0),
    }
