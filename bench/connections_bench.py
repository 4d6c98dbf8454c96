"""Memory per idle authenticated websocket, and whether the server still answers promptly.

The real server is started with the default settings except
`max_connections`, raised above the largest step so that the probes fit.
After a warm-up (50 connections opened and closed, so that code paths and
allocator pools exist before the baseline), the server's RSS is read from
/proc; then authenticated connections are opened and held idle in steps,
and at each step the RSS is read again (median of five reads) and two probes
are timed: `GET /api/health` on a keep-alive HTTP connection, and `ping` to
`pong` on a freshly authenticated websocket.

Each side needs a file descriptor per connection: the bench raises its soft
RLIMIT_NOFILE to the hard limit, and the server and load generator inherit it.
"""

from typing import Any

from bench import processes, seed
from bench.context import Context, progress, run_loadgen
from bench.targets import at_most

TARGET_BYTES = 64 * 1024
TARGET_P99_MS = 100.0


def run(ctx: Context) -> dict[str, Any]:
    steps = ctx.pick([1000, 2000], [1000, 5000])
    work = ctx.scratch("connections")
    data = work / "data"
    # Two probe devices, 50 for the warm-up (reused), the rest held.
    devices = seed.add_pairs(seed.new_database(data), (max(steps) + 2) // 2 + 1)
    seed.write_devices(work / "devices.json", devices)
    limit = processes.raise_open_files_limit()
    with processes.server(data, max_connections=max(steps) + 100).start() as server:
        result = run_loadgen(
            {
                "kind": "connections",
                "url": server.url,
                "ws_url": server.ws_url,
                "devices_file": str(work / "devices.json"),
                "steps": steps,
                "probes": ctx.pick(100, 300),
                "settle_s": ctx.pick(1, 3),
                "server_pid": server.pid,
            }
        )
    targets = []
    for step in result["steps"]:
        n = step["connections"]
        progress(f"{n} connections: {step['bytes_per_connection'] / 1024:.1f} KiB each")
        targets.append(
            at_most(
                f"memory per idle connection at {n}",
                step["bytes_per_connection"] / 1024,
                TARGET_BYTES / 1024,
                "KiB",
            )
        )
        worst = max(step["http_health"]["p99_ms"], step["ws_ping"]["p99_ms"])
        targets.append(at_most(f"probe p99 with {n} connections held", worst, TARGET_P99_MS, "ms"))
    return {
        "name": "connections",
        "title": "Idle connections: memory and responsiveness",
        "open_files_limit": list(limit),
        **result,
        "targets": targets,
    }
