"""The load generator runs a job against a real relay, stops by itself, and refuses what it must."""

import asyncio
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench import jobs, loadgen, processes, seed
from bench.context import loadgen_process


def run_process(job: Any) -> subprocess.CompletedProcess[str]:
    return loadgen_process(json.dumps(job), 120)


def test_a_short_throughput_job_runs_against_the_bare_relay_and_ends(tmp_path: Path) -> None:
    devices = seed.add_pairs(seed.new_database(tmp_path / "data"), 2)
    seed.write_devices(tmp_path / "devices.json", devices)
    with processes.bare_relay(tmp_path / "bare.log").start() as relay:
        job = {
            "kind": "throughput",
            "ws_url": relay.ws_url,
            "devices_file": str(tmp_path / "devices.json"),
            "devices": 4,
            "window": 2,
            "warmup_s": 0.2,
            "duration_s": 1.0,
            "pool": 4,
            "server_pid": relay.pid,
        }
        started = time.monotonic()
        done = run_process(job)
        took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["devices"] == 4
    assert result["delivered_per_s"] > 0
    totals = result["totals"]
    assert totals["errors"] == {}
    assert totals["sent"] == totals["sends"] == totals["delivered"] == totals["acked"]
    assert took < jobs.time_limit(job)


@pytest.mark.parametrize(
    ("job", "says"),
    [
        ({"kind": "throughput", "ws_url": "ws://192.0.2.10:9/ws", "devices": 4}, "loopback"),
        ({"kind": "flood", "ws_url": "ws://127.0.0.1:9/ws"}, "kind"),
        ("not a job", "kind"),
    ],
)
def test_a_refused_job_exits_2_at_once_and_says_why(job: Any, says: str) -> None:
    done = run_process(job)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "refused" in done.stderr
    assert says in done.stderr


def test_input_that_is_not_json_is_refused() -> None:
    done = loadgen_process("{kind: throughput", 60)
    assert done.returncode == 2
    assert "refused" in done.stderr


def test_a_job_stops_itself_at_its_time_limit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def never_ends(job: dict[str, Any]) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    job = {"kind": "soak", "ws_url": "ws://127.0.0.1:9/ws", "devices": 1, "rate": 1}
    monkeypatch.setitem(loadgen.JOBS, "soak", never_ends)
    monkeypatch.setattr(jobs, "time_limit", lambda job: 0.2)
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(job)))
    started = time.monotonic()
    assert loadgen.main() == 3
    assert time.monotonic() - started < 10
    assert "stopped: the job ran for its limit" in capsys.readouterr().err


def test_a_timeout_inside_the_job_is_its_own_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    async def probe_times_out(job: dict[str, Any]) -> dict[str, Any]:
        raise TimeoutError("the probe got no answer")

    monkeypatch.setitem(loadgen.JOBS, "soak", probe_times_out)
    with pytest.raises(TimeoutError, match="probe"):
        asyncio.run(loadgen.run({"kind": "soak", "ws_url": "ws://127.0.0.1:9/ws", "devices": 1}))
