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
"""

from typing import Any

from bench import processes, seed
from bench.context import Context, progress, run_loadgen
from bench.targets import at_most, unmeasured

DEVICES = 1000
RATES = (100, 1000, 5000)
TARGETS_MS = {1000: 10.0, 5000: 50.0}
SUSTAINED_P99_MS = 250.0
SEARCH_FACTORS = (1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.15, 0.1)
DEFAULT_CEILING = 3000.0
BUSY = 0.9  # cores: where the server process stops getting faster


def _why(fixed: list[dict[str, Any]], targets: list[dict[str, Any]], capacity: float | None) -> str:
    reasons = []
    for target, rate in zip(targets, TARGETS_MS, strict=True):
        if target["met"]:
            continue
        row = next(r for r in fixed if r["offered_per_s"] == rate)
        if capacity is not None and rate > 0.9 * capacity:
            reasons.append(
                f"At {rate}/s the offered load is above what the server can process here "
                f"({capacity:.0f}/s with a core to itself, from the CPU per message of the "
                "relay benchmark): a backlog builds, and latency grows with the run's length."
            )
        elif row["server_busy"] >= BUSY:
            reasons.append(
                f"At {rate}/s the server process was busy {row['server_busy']:.2f} cores, at its "
                "limit: frames and SQLite statements share one event loop (one core of Python "
                "work), and with every message on its own connection nothing is batched per "
                "read or write, so queues form on the loop (bench/README.md, 'Findings')."
            )
        elif row["max_schedule_lag_ms"] > TARGETS_MS[rate]:
            reasons.append(
                f"At {rate}/s the load generator itself fell up to "
                f"{row['max_schedule_lag_ms']:.0f} ms behind its schedule: the machine was busy "
                "(see the load average), and the server waits for CPU the same way."
            )
        else:
            reasons.append(
                f"At {rate}/s the server was busy {row['server_busy']:.0%} of the time; every "
                "message waits for its commit's fsync (a few milliseconds on this disk), and "
                "for the commit before it when it arrives during one."
            )
    return " ".join(reasons)


def run(ctx: Context) -> dict[str, Any]:
    work = ctx.scratch("latency")
    data = work / "data"
    seed.write_devices(work / "devices.json", seed.add_pairs(seed.new_database(data), DEVICES // 2))
    ceiling = ctx.found.get("durable_messages_per_s", DEFAULT_CEILING)
    with processes.server(data).start() as server:
        job = {
            "kind": "latency",
            "ws_url": server.ws_url,
            "devices_file": str(work / "devices.json"),
            "devices": DEVICES,
            "pool": 16,
            "rates": list(RATES),
            "search_rates": [round(ceiling * f) for f in SEARCH_FACTORS],
            "warmup_s": ctx.pick(1, 2),
            "duration_s": ctx.pick(3, 8),
            "sustainable_p99_ms": SUSTAINED_P99_MS,
            "server_pid": server.pid,
        }
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
        "why": _why(result["fixed"], targets, capacity),
        "name": "latency",
        "title": f"Delivery latency, {DEVICES} connected devices",
        "search_ceiling_per_s": ceiling,
        "sustained_p99_ms": SUSTAINED_P99_MS,
        **result,
        "highest_sustained_per_s": None if highest is None else highest["offered_per_s"],
        "targets": targets,
    }
