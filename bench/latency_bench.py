"""Delivery latency at fixed offered loads with 1,000 connected devices.

500 client-therapist pairs are connected to the real server; messages are
offered open-loop (on a fixed schedule, whatever the answers) at 100, 1,000
and 5,000 per second, spread round-robin over all devices, each to its
partner. Latency is from just before a `send` frame is written to the
moment its partner's connection yields the `envelope` frame, in one process
and on one monotonic clock; it includes the commit to disk, and the load
generator's own delays (reported as schedule lag).

Then the highest sustained rate is searched downwards from the durable
throughput the relay benchmark measured: the first rate at which at least 98%
of the messages are delivered within the run, the offered rate is actually
achieved, no error is answered and p99 stays within `SUSTAINED_P99_MS`.

At 1,000 per second, the rate with a target this machine can reach, the
load is offered in three rounds (one in quick mode) and p99 is taken over
all their messages together: a single 8-second run's p99 rests on its 80
slowest messages, which come from a few stalls that may or may not fall in
it. Each round's own figures are kept beside the pooled ones, and so is how
busy the whole machine was and how much of its CPU time the hypervisor gave
to other machines ("stolen").

The baseline runs in the same benchmark: the same devices offer the same
fixed loads to the bare relay of bench/bare_relay.py (the same frames, no
storage). Its latency is what this machine, the websocket stack and the load
generator cost without the database; the ratio of the two p99s is what
storage adds. Before both, lone commits of one envelope-sized row on the
same disk, with the server's connection settings, time what the disk alone
adds to every message.
"""

import os
import time
from pathlib import Path
from typing import Any

from bench import processes, seed
from bench.context import Context, progress, run_loadgen
from bench.stats import latency_summary
from bench.targets import at_most, unmeasured
from server import database

DEVICES = 1000
RATES = (100, 1000, 5000)
TARGETS_MS = {1000: 10.0, 5000: 50.0}
ROUNDS = {1000: 3}
STOLEN_WORTH_SAYING = 0.01
SUSTAINED_P99_MS = 250.0
SEARCH_FACTORS = (1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.15, 0.1)
DEFAULT_CEILING = 3000.0
LONE_COMMITS = 400
LONE_COMMIT_GAP_S = 0.002


def _row(rows: list[dict[str, Any]], rate: float) -> dict[str, Any] | None:
    return next((r for r in rows if r["offered_per_s"] == rate and r["latency"].get("count")), None)


def _p99_ratios(fixed: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> dict[str, float]:
    """p99 of the real server over p99 of the bare relay, per offered rate."""
    ratios = {}
    for rate in RATES:
        durable, bare = _row(fixed, rate), _row(baseline, rate)
        if durable is not None and bare is not None:
            ratios[str(rate)] = durable["latency"]["p99_ms"] / bare["latency"]["p99_ms"]
    return ratios


def _baseline_reason(rate: int, goal: float, bare: dict[str, Any] | None) -> str:
    if bare is None:
        return ""
    p99 = bare["latency"]["p99_ms"]
    if p99 > goal:
        return (
            f"At {rate}/s even the bare relay, with no storage at all, had p99 {p99:.0f} ms "
            f"(server busy {bare['server_busy']:.2f} cores): on this machine the websocket "
            "stack and the load generator alone miss the target."
        )
    return (
        f"At {rate}/s the bare relay, with the same load generator, had p99 {p99:.1f} ms: "
        "so the difference comes from storage."
    )


def _rounds_reason(row: dict[str, Any]) -> str:
    rounds = row.get("rounds")
    if not rounds:
        return ""
    p99s = ", ".join(f"{r['latency'].get('p99_ms', float('nan')):.1f}" for r in rounds)
    stolen = max(r["machine_stolen"] for r in rounds)
    reason = (
        f"The {len(rounds)} rounds at {row['offered_per_s']:.0f}/s had p99 {p99s} ms on the "
        "same code: a round's p99 rests on the few stalls that happen to fall in it."
    )
    if stolen >= STOLEN_WORTH_SAYING:
        reason += (
            f" The hypervisor gave up to {stolen:.1%} of this machine's CPU time to other "
            "machines in a round, in slices that stall the server while it has work queued."
        )
    return reason


def _why(
    fixed: list[dict[str, Any]],
    baseline: list[dict[str, Any]],
    targets: list[dict[str, Any]],
    capacity: float | None,
    commits: dict[str, Any],
) -> str:
    reasons = []
    for target, (rate, goal) in zip(targets, TARGETS_MS.items(), strict=True):
        if target["met"]:
            continue
        bare = _row(baseline, rate)
        reasons.append(_baseline_reason(rate, goal, bare))
        row = next(r for r in fixed if r["offered_per_s"] == rate)
        if capacity is not None and rate > 0.9 * capacity:
            reasons.append(
                f"The real server's offered load is above what it can process here "
                f"({capacity:.0f}/s with a core to itself, from the CPU per message of the "
                "relay benchmark): a backlog builds, and latency grows with the run's length."
            )
            continue
        bare_busy = (
            "" if bare is None else f", against {bare['server_loop_busy']:.0%} for the bare relay"
        )
        reasons.append(_rounds_reason(row))
        reasons.append(
            f"The real server's event loop was busy {row['server_loop_busy']:.0%} of the time"
            f"{bare_busy}: the SQLite statements and the hand-offs to the writer thread. Any "
            "stall of a few milliseconds (a slow fsync, CPU time the hypervisor gives elsewhere, "
            "a thread waiting to be scheduled) builds a queue "
            "that drains only at the loop's spare capacity, so p99 is set by the run's few "
            f"worst stalls, magnified about 1 / (1 - busy) times. A lone commit on this disk "
            f"took p50 {commits['p50_ms']:.1f} ms and at worst {commits['max_ms']:.1f} ms in "
            "this run; under load some take ten (bench/README.md, 'Findings')."
        )
    return " ".join(r for r in reasons if r)


def _lone_commits(path: Path) -> dict[str, Any]:
    """Commit times of one 1 KB row per transaction, WAL and synchronous=FULL, one at a time."""
    conn = database.connect(path)
    try:
        database.enable_wal(conn)
        conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB)")
        times = []
        for _ in range(LONE_COMMITS):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO rows (body) VALUES (?)", (os.urandom(1024),))
            start = time.perf_counter()
            conn.execute("COMMIT")
            times.append(time.perf_counter() - start)
            time.sleep(LONE_COMMIT_GAP_S)
    finally:
        conn.close()
    return latency_summary(times)


def _job(ctx: Context, process: processes.Process, devices_file: Path) -> dict[str, Any]:
    return {
        "kind": "latency",
        "ws_url": process.ws_url,
        "devices_file": str(devices_file),
        "devices": DEVICES,
        "pool": 16,
        "rates": list(RATES),
        "rounds": {str(rate): ctx.pick(1, count) for rate, count in ROUNDS.items()},
        "search_rates": [],
        "warmup_s": ctx.pick(1, 2),
        "duration_s": ctx.pick(3, 8),
        "sustainable_p99_ms": SUSTAINED_P99_MS,
        "server_pid": process.pid,
    }


def run(ctx: Context) -> dict[str, Any]:
    work = ctx.scratch("latency")
    data = work / "data"
    devices_file = work / "devices.json"
    seed.write_devices(devices_file, seed.add_pairs(seed.new_database(data), DEVICES // 2))
    commits = _lone_commits(work / "lone-commits.db")
    progress(f"lone commits on this disk: {commits}")
    with processes.bare_relay(work / "bare.log").start() as bare:
        baseline = run_loadgen(_job(ctx, bare, devices_file))["fixed"]
    for r in baseline:
        progress(f"bare relay latency at {r['offered_per_s']}/s: {r['latency']}")
    ceiling = ctx.found.get("durable_messages_per_s", DEFAULT_CEILING)
    with processes.server(data).start() as server:
        job = _job(ctx, server, devices_file)
        job["search_rates"] = [round(ceiling * f) for f in SEARCH_FACTORS]
        result = run_loadgen(job)
    targets = []
    for rate, goal in TARGETS_MS.items():
        found = next((r for r in result["fixed"] if r["offered_per_s"] == rate), None)
        if found is None or not found["latency"].get("count"):
            targets.append(
                unmeasured(f"p99 at {rate} msg/s", f"<= {goal} ms", "nothing was delivered")
            )
        else:
            p99 = found["latency"]["p99_ms"]
            targets.append(at_most(f"p99 at {rate} msg/s, {DEVICES} devices", p99, goal, "ms"))
    for r in result["fixed"]:
        progress(f"latency at {r['offered_per_s']}/s: {r['latency']}")
    highest = result["highest_sustained"]
    capacity = ctx.found.get("durable_capacity_per_s")
    return {
        "why": _why(result["fixed"], baseline, targets, capacity, commits),
        "name": "latency",
        "title": f"Delivery latency, {DEVICES} connected devices",
        "search_ceiling_per_s": ceiling,
        "sustained_p99_ms": SUSTAINED_P99_MS,
        **result,
        "highest_sustained_per_s": None if highest is None else highest["offered_per_s"],
        "baseline": baseline,
        "lone_commit": commits,
        "p99_ratio": _p99_ratios(result["fixed"], baseline),
        "targets": targets,
    }
