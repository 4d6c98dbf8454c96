"""Memory over a long run: the server's RSS must level off, not climb.

`python -m bench --soak` (or `make soak`, 10 minutes unless SOAK_MINUTES says
otherwise) runs the real server under a steady open-loop load: 200 devices,
200 messages per second, and every few seconds some devices disconnect and
connect again and a few HTTP requests are made, because the connection
lifecycle is where per-connection state would leak. The RSS is sampled from
/proc throughout.

Flat means: after the first fifth of the run (warm-up: caches, allocator
pools and SQLite's page cache fill), the least-squares slope of RSS over the
rest of the run stays under `MAX_SLOPE_MIB_PER_MIN`, and the last sample is
within `MAX_GROWTH` of the first sample after warm-up.
"""

from typing import Any

from bench import processes, seed
from bench.context import Context, progress, run_loadgen
from bench.stats import slope
from bench.targets import at_most

DEVICES = 200
RATE = 200
MAX_SLOPE_MIB_PER_MIN = 0.5
MAX_GROWTH = 0.10
MIB = 1024 * 1024


def run(ctx: Context) -> dict[str, Any]:
    work = ctx.scratch("soak")
    data = work / "data"
    seed.write_devices(work / "devices.json", seed.add_pairs(seed.new_database(data), DEVICES // 2))
    duration = ctx.soak_minutes * 60
    progress(f"soak: {ctx.soak_minutes:g} minutes at {RATE} messages per second")
    with processes.server(data).start() as server:
        result = run_loadgen(
            {
                "kind": "soak",
                "url": server.url,
                "ws_url": server.ws_url,
                "devices_file": str(work / "devices.json"),
                "devices": DEVICES,
                "pool": 32,
                "rate": RATE,
                "duration_s": duration,
                "sample_s": max(1.0, duration / 200),
                "churn": 10,
                "churn_every_s": 5.0,
                "server_pid": server.pid,
            }
        )
        final_rss = processes.rss_bytes(server.pid)
    samples = result["samples"]
    settled = [s for s in samples if s["t_s"] >= duration / 5]
    minutes = [s["t_s"] / 60 for s in settled]
    mib = [s["rss_bytes"] / MIB for s in settled]
    rate = slope(minutes, mib)
    growth = (mib[-1] - mib[0]) / mib[0] if mib else 0.0
    return {
        "name": "soak",
        "title": f"Memory over a {ctx.soak_minutes:g}-minute soak",
        "rate_per_s": RATE,
        "final_rss_bytes": final_rss,
        "slope_mib_per_min": rate,
        "growth_after_warmup": growth,
        **result,
        "targets": [
            at_most("RSS slope after warm-up", rate, MAX_SLOPE_MIB_PER_MIN, "MiB/min"),
            at_most("RSS growth after warm-up", growth * 100, MAX_GROWTH * 100, "%"),
        ],
    }
