"""What a load-generator job may ask for, and how long it may take.

The load generator opens thousands of connections and sends thousands of
messages a second, so every job is checked before anything starts: it may
talk only to a loopback address, use a bounded number of devices, offer a
bounded rate, and run for at most `MAX_JOB_SECONDS`. `time_limit` is the
longest a valid job can legitimately take (its warm-ups and measured
intervals, plus allowances for connecting and draining); the load generator
stops itself when it is reached, and `bench.context.run_loadgen` kills the
process shortly after, should it not.
"""

import ipaddress
import math
from typing import Any
from urllib.parse import urlsplit

KINDS = ("throughput", "latency", "connections", "soak", "group")
MAX_DEVICES = 10_000
MIN_RATE = 0.001
MAX_RATE = 20_000.0  # messages per second offered
MAX_POOL = 1_000  # envelopes encrypted ahead for each device
MAX_WINDOW = 1_000  # sends in flight per device
MAX_ROUNDS = 10
MAX_SECONDS = 24 * 3600.0  # any one warm-up, interval or soak
MAX_JOB_SECONDS = MAX_SECONDS + 3600.0  # a whole job, allowances included
MAX_PROBES = 1_000
MAX_MESSAGES = 100_000  # messages one `group` job sends
# Allowances on top of the planned intervals. The load generator gives up
# draining at DRAIN_S (BACKLOG_DRAIN_S after an overloaded rate), and closing
# at DRAIN_S. Connecting (5,000 devices took 8 s here) and each connections
# step (a few seconds of probes) get several times what they take.
CONNECT_S = 60.0
CONNECT_S_PER_DEVICE = 0.05
DRAIN_S = 20.0
BACKLOG_DRAIN_S = 150.0
STEP_S = 60.0
# A `group` job sends a fixed number of messages; it may take this long per message at worst.
MIN_GROUP_RATE = 10.0


class JobError(ValueError):
    """A job the load generator refuses to run; the message says which field and why."""


def _loopback(job: dict[str, Any], field: str) -> None:
    if field not in job:
        return
    host = urlsplit(str(job[field])).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise JobError(
            f"{field} {job[field]!r}: the load generator talks only to a loopback address "
            "(127.0.0.1 or ::1), never to a name or another machine"
        )


def _bounded(field: str, value: Any, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise JobError(f"{field} must be a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _list(job: dict[str, Any], field: str, low: float, high: float) -> list[float]:
    values = job.get(field, [])
    if not isinstance(values, list):
        raise JobError(f"{field} must be a list of numbers")
    return [_bounded(field, value, low, high) for value in values]


def _devices(job: dict[str, Any]) -> float:
    if job["kind"] == "connections":
        steps = _list(job, "steps", 1, MAX_DEVICES)
        if not steps:
            raise JobError("steps must list at least one number of connections")
        return max(steps)
    return _bounded("devices", job.get("devices"), 1, MAX_DEVICES)


def _offers(job: dict[str, Any]) -> int:
    """How many open-loop intervals a latency job runs."""
    rounds = job.get("rounds", {})
    if not isinstance(rounds, dict):
        raise JobError("rounds must map a rate to its number of rounds")
    per_rate = [
        int(_bounded("rounds", rounds.get(str(rate), 1), 1, MAX_ROUNDS))
        for rate in job.get("rates", [])
    ]
    return sum(per_rate) + len(job.get("search_rates", []))


def check(job: dict[str, Any]) -> None:
    """Raise JobError unless `job` is one the load generator may run."""
    if not isinstance(job, dict) or job.get("kind") not in KINDS:
        raise JobError(f"kind must be one of {', '.join(KINDS)}")
    if "ws_url" not in job:
        raise JobError("ws_url is missing")
    for field in ("ws_url", "url"):
        _loopback(job, field)
    # Several relay processes sharing one PostgreSQL database: devices spread over them.
    more = job.get("ws_urls", [])
    if not isinstance(more, list):
        raise JobError("ws_urls must be a list of addresses")
    for url in more:
        _loopback({"ws_urls": url}, "ws_urls")
    _devices(job)
    for field in ("rates", "search_rates"):
        _list(job, field, MIN_RATE, MAX_RATE)
    _offers(job)
    bounds = {
        "rate": (MIN_RATE, MAX_RATE),
        "warmup_s": (0, MAX_SECONDS),
        "duration_s": (0, MAX_SECONDS),
        "settle_s": (0, MAX_SECONDS),
        "probes": (1, MAX_PROBES),
        "pool": (1, MAX_POOL),
        "window": (1, MAX_WINDOW),
        "messages": (1, MAX_MESSAGES),
    }
    for field, (low, high) in bounds.items():
        if field in job:
            _bounded(field, job[field], low, high)
    limit = time_limit(job)
    if limit > MAX_JOB_SECONDS:
        raise JobError(
            f"the job could run for {limit:.0f} s; "
            f"at most {MAX_JOB_SECONDS:.0f} s are allowed: fewer rounds or shorter intervals"
        )


def time_limit(job: dict[str, Any]) -> float:
    """Seconds a checked job may run before the load generator stops itself."""
    devices = _devices(job)
    interval = job.get("warmup_s", 0) + job.get("duration_s", 0)
    limit = CONNECT_S + CONNECT_S_PER_DEVICE * devices + 2 * DRAIN_S
    if job["kind"] == "latency":
        limit += _offers(job) * (interval + BACKLOG_DRAIN_S)
    elif job["kind"] == "connections":
        limit += (len(job["steps"]) + 1) * (job.get("settle_s", 0) + STEP_S)
    elif job["kind"] == "group":
        limit += BACKLOG_DRAIN_S + job.get("messages", 0) / MIN_GROUP_RATE
    else:
        limit += interval
    return limit
