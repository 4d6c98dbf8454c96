"""Storage engines and relay processes: SQLite with one, PostgreSQL with one and with two.

Three setups of the real server, in one run, on the same machine:

- `sqlite-1`: one process on SQLite (WAL, synchronous=FULL), the default;
- `pg-1`: one process on PostgreSQL;
- `pg-2`: two processes on the same PostgreSQL database, every device pair
  split across them, so that every message is stored by one process and
  delivered live by the other, woken by LISTEN/NOTIFY (docs/SERVER.md,
  "Wake-ups").

PostgreSQL runs as a throw-away cluster with its own defaults (`fsync=on`,
`synchronous_commit=on`: a commit is on disk before `sent`, as with SQLite's
synchronous=FULL), from Debian's package, on the same disk. Each setup gets
a fresh database with the same seeded accounts: the SQLite one is made by the
server's own code, and the PostgreSQL ones are moved from it by
`server/postgres_move.py`, the code behind `quietline admin
move-to-postgresql`.

For each setup: throughput with every device keeping a window of sends in
flight (as bench/relay_bench.py), with CPU per message of the relay
processes and of PostgreSQL's processes; then delivery latency at a fixed
offered rate below every setup's throughput (open loop, as
bench/latency_bench.py), p50/p99. Rounds alternate between the setups, since
the machine is shared. bench/README.md, "Storage engines and processes",
explains what limits the scaling on two cores and what it predicts for more.
"""

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import processes, seed
from bench.context import Context, loadavg, progress, run_loadgen
from bench.stats import median
from server import postgres_move

# The throw-away cluster the tests use, started here in durable mode.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "server"))
from postgres_cluster import Cluster

SETUPS = (("sqlite-1", "sqlite", 1), ("pg-1", "postgresql", 1), ("pg-2", "postgresql", 2))
DEVICES = 200
# Below what every setup sustains on the 2-core machine, so that p99 compares
# delivery, not a growing backlog.
FIXED_RATE = 200.0


def _start(
    ctx: Context, stack: ExitStack, cluster: Cluster, name: str, engine: str, count: int, index: int
) -> tuple[list[processes.Process], str, int | None]:
    """The setup's relay processes, started on a freshly seeded store; and its devices file."""
    work = ctx.scratch(f"scaling-{name}-{index}")
    sqlite_data = work / "seed"
    database_file = seed.new_database(sqlite_data)
    devices = seed.add_pairs(database_file, DEVICES // 2)
    seed.write_devices(work / "devices.json", devices)
    settings: dict[str, Any] = {}
    database_pid = None
    if engine == "postgresql":
        url = cluster.create_database()
        postgres_move.move(database_file, url)
        settings["database"] = url
        database_pid = cluster.postmaster_pid
    relays = []
    for number in range(count):
        data = sqlite_data if engine == "sqlite" else work / f"relay{number}"
        relay = processes.server(data, **settings)
        stack.enter_context(relay.start())
        relays.append(relay)
    return relays, str(work / "devices.json"), database_pid


def _job(
    kind: str, relays: list[processes.Process], devices_file: str, database_pid: int | None
) -> dict[str, Any]:
    job: dict[str, Any] = {
        "kind": kind,
        "ws_url": relays[0].ws_url,
        "ws_urls": [r.ws_url for r in relays],
        "server_pid": relays[0].pid,
        "server_pids": [r.pid for r in relays],
        "devices_file": devices_file,
        "devices": DEVICES,
        "pool": 32,
    }
    if database_pid is not None:
        job["database_pid"] = database_pid
    return job


def _round(
    ctx: Context, cluster: Cluster, setup: tuple[str, str, int], index: int
) -> dict[str, Any]:
    name, engine, count = setup
    with ExitStack() as stack:
        relays, devices_file, database_pid = _start(ctx, stack, cluster, name, engine, count, index)
        throughput = run_loadgen(
            {
                **_job("throughput", relays, devices_file, database_pid),
                "window": 8,
                "warmup_s": ctx.pick(2, 3),
                "duration_s": ctx.pick(4, 10),
            }
        )
        latency = run_loadgen(
            {
                **_job("latency", relays, devices_file, database_pid),
                "rates": [FIXED_RATE],
                "warmup_s": ctx.pick(1, 2),
                "duration_s": ctx.pick(4, 8),
            }
        )
    fixed = latency["fixed"][0]
    result = {
        "setup": name,
        "processes": count,
        "messages_per_s": throughput["delivered_per_s"],
        "relay_cpu_us_per_message": throughput["server_cpu_us_per_message"],
        "database_cpu_us_per_message": throughput["database_cpu_us_per_message"],
        "relay_busy": throughput["server_cpu_s"] / throughput["wall_s"],
        "database_busy": throughput["database_cpu_s"] / throughput["wall_s"],
        "machine_busy": throughput["machine_busy"],
        "errors": throughput["totals"]["errors"],
        "fixed_rate": fixed["offered_per_s"],
        "achieved_rate": fixed["achieved_offer_per_s"],
        "delivered_fraction": fixed["delivered_fraction"],
        "latency": fixed["latency"],
        "fixed_errors": fixed["errors"],
        "loadavg_after": loadavg(),
    }
    progress(
        f"{name} round {index}: {result['messages_per_s']:.0f} messages/s, "
        f"p99 {fixed['latency'].get('p99_ms', float('nan')):.1f} ms at {FIXED_RATE:.0f}/s"
    )
    return result


def run(ctx: Context) -> dict[str, Any]:
    rounds = ctx.pick(1, 3)
    cluster = Cluster(durable=True).start()
    try:
        runs = [_round(ctx, cluster, setup, index) for index in range(rounds) for setup in SETUPS]
    finally:
        cluster.stop()
    summary = {}
    for name, _, count in SETUPS:
        mine = [r for r in runs if r["setup"] == name]
        relay_cpu = median([r["relay_cpu_us_per_message"] for r in mine])
        database_cpu = median([r["database_cpu_us_per_message"] for r in mine])
        summary[name] = {
            "processes": count,
            "messages_per_s": median([r["messages_per_s"] for r in mine]),
            "relay_cpu_us_per_message": relay_cpu,
            "database_cpu_us_per_message": database_cpu,
            "server_cpu_us_per_message": relay_cpu + database_cpu,
            "p50_ms": median([r["latency"].get("p50_ms", float("nan")) for r in mine]),
            "p99_ms": median([r["latency"].get("p99_ms", float("nan")) for r in mine]),
        }
    return {
        "name": "scaling",
        "title": "Storage engines and relay processes: SQLite-1, PostgreSQL-1, PostgreSQL-2",
        "devices": DEVICES,
        "fixed_rate": FIXED_RATE,
        "runs": runs,
        "setups": summary,
        "targets": [],
    }
