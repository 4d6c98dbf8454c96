"""Load-generator jobs are bounded before they start: loopback only, counts, rates, time."""

import copy
from typing import Any

import pytest

from bench import jobs

THROUGHPUT: dict[str, Any] = {
    "kind": "throughput",
    "ws_url": "ws://127.0.0.1:8000/ws",
    "devices_file": "devices.json",
    "devices": 200,
    "window": 8,
    "warmup_s": 2,
    "duration_s": 10,
    "pool": 32,
    "server_pid": 1,
}
LATENCY: dict[str, Any] = {
    "kind": "latency",
    "ws_url": "ws://127.0.0.1:8000/ws",
    "devices_file": "devices.json",
    "devices": 1000,
    "pool": 16,
    "rates": [100, 1000, 5000],
    "rounds": {"1000": 3},
    "search_rates": [2958, 2514],
    "warmup_s": 2,
    "duration_s": 8,
    "sustainable_p99_ms": 250,
    "server_pid": 1,
}
CONNECTIONS: dict[str, Any] = {
    "kind": "connections",
    "url": "http://127.0.0.1:8000",
    "ws_url": "ws://127.0.0.1:8000/ws",
    "devices_file": "devices.json",
    "steps": [1000, 5000],
    "settle_s": 3,
    "probes": 50,
    "server_pid": 1,
}
SOAK: dict[str, Any] = {
    "kind": "soak",
    "url": "http://127.0.0.1:8000",
    "ws_url": "ws://127.0.0.1:8000/ws",
    "devices_file": "devices.json",
    "devices": 200,
    "pool": 32,
    "rate": 200,
    "duration_s": 600,
    "sample_s": 3,
    "churn": 10,
    "churn_every_s": 5,
    "server_pid": 1,
}
EVERY_KIND = [THROUGHPUT, LATENCY, CONNECTIONS, SOAK]


def changed(job: dict[str, Any], **fields: Any) -> dict[str, Any]:
    new = copy.deepcopy(job)
    new.update(fields)
    return new


@pytest.mark.parametrize("job", EVERY_KIND, ids=lambda job: job["kind"])
def test_the_benchmarks_jobs_are_accepted(job: dict[str, Any]) -> None:
    jobs.check(job)


@pytest.mark.parametrize(
    "url",
    [
        "ws://192.0.2.10:8000/ws",
        "ws://10.0.0.1/ws",
        "ws://example.org/ws",
        "ws://localhost:8000/ws",
        "ws:///ws",
        "not a url",
    ],
)
def test_anything_but_a_loopback_address_is_refused(url: str) -> None:
    with pytest.raises(jobs.JobError, match="loopback"):
        jobs.check(changed(THROUGHPUT, ws_url=url))
    with pytest.raises(jobs.JobError, match=r"^url .*loopback"):
        jobs.check(changed(SOAK, url=url.replace("ws:", "http:")))


@pytest.mark.parametrize("url", ["ws://127.0.0.1:1/ws", "ws://127.8.9.10:1/ws", "ws://[::1]:1/ws"])
def test_every_loopback_address_is_accepted(url: str) -> None:
    jobs.check(changed(THROUGHPUT, ws_url=url))


@pytest.mark.parametrize(
    ("job", "field", "value"),
    [
        (THROUGHPUT, "devices", 0),
        (THROUGHPUT, "devices", jobs.MAX_DEVICES + 1),
        (THROUGHPUT, "devices", "200"),
        (THROUGHPUT, "devices", True),
        (THROUGHPUT, "window", jobs.MAX_WINDOW + 1),
        (THROUGHPUT, "pool", 0),
        (THROUGHPUT, "duration_s", jobs.MAX_SECONDS + 1),
        (THROUGHPUT, "warmup_s", -1),
        (THROUGHPUT, "duration_s", float("inf")),
        (LATENCY, "rates", [100, jobs.MAX_RATE * 2]),
        (LATENCY, "rates", [0]),
        (LATENCY, "rates", 1000),
        (LATENCY, "search_rates", [float("nan")]),
        (LATENCY, "rounds", {"1000": jobs.MAX_ROUNDS + 1}),
        (LATENCY, "rounds", [3]),
        (CONNECTIONS, "steps", []),
        (CONNECTIONS, "steps", [1000, jobs.MAX_DEVICES + 1]),
        (CONNECTIONS, "probes", jobs.MAX_PROBES + 1),
        (SOAK, "rate", jobs.MAX_RATE + 1),
        (SOAK, "duration_s", jobs.MAX_SECONDS * 2),
    ],
)
def test_counts_rates_and_times_out_of_bounds_are_refused(
    job: dict[str, Any], field: str, value: Any
) -> None:
    with pytest.raises(jobs.JobError, match=field):
        jobs.check(changed(job, **{field: value}))


def test_a_job_without_a_kind_or_an_address_is_refused() -> None:
    with pytest.raises(jobs.JobError, match="kind"):
        jobs.check(changed(THROUGHPUT, kind="flood"))
    with pytest.raises(jobs.JobError, match="kind"):
        jobs.check([THROUGHPUT])  # type: ignore[arg-type]
    missing = changed(THROUGHPUT)
    del missing["ws_url"]
    with pytest.raises(jobs.JobError, match="ws_url"):
        jobs.check(missing)
    without_devices = changed(THROUGHPUT)
    del without_devices["devices"]
    with pytest.raises(jobs.JobError, match="devices"):
        jobs.check(without_devices)


def test_the_time_limit_covers_every_planned_interval() -> None:
    assert jobs.time_limit(THROUGHPUT) >= 2 + 10
    assert jobs.time_limit(SOAK) >= 600
    # Five fixed-rate rounds (three at 1000/s) and two search rates of 10 s
    # each, and each may leave a backlog to drain.
    assert jobs.time_limit(LATENCY) >= 7 * (10 + jobs.BACKLOG_DRAIN_S)
    assert jobs.time_limit(CONNECTIONS) >= 3 * 3
    longer = changed(SOAK, duration_s=3600)
    assert jobs.time_limit(longer) - jobs.time_limit(SOAK) == 3000


def test_a_job_that_could_run_longer_than_allowed_is_refused() -> None:
    every_part_allowed = changed(
        LATENCY,
        devices=jobs.MAX_DEVICES,
        rates=[jobs.MAX_RATE] * 3,
        rounds={str(jobs.MAX_RATE): jobs.MAX_ROUNDS},
        warmup_s=jobs.MAX_SECONDS,
        duration_s=jobs.MAX_SECONDS,
    )
    with pytest.raises(jobs.JobError, match="could run for"):
        jobs.check(every_part_allowed)
    day_long_soak = changed(SOAK, devices=jobs.MAX_DEVICES, duration_s=jobs.MAX_SECONDS)
    jobs.check(day_long_soak)
    assert jobs.time_limit(day_long_soak) <= jobs.MAX_JOB_SECONDS
