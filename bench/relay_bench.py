"""Relay throughput: durable messages per second through the real server, against a bare relay.

Both run in the same benchmark, in alternating rounds (durable, bare,
durable, bare, ...), because the machine is shared and its load changes: the
ratio of medians is the result, not the absolute numbers. Each round is a
fresh process: the real server on a fresh SQLite file (WAL, synchronous=FULL,
the server's defaults) or the bare relay of bench/bare_relay.py.

Every device keeps a window of sends in flight to its partner and
acknowledges every envelope it receives, so a message's whole life is
measured: `send`, commit, `sent`, delivery, `ack`, delete, `acked`. Envelopes
are 1 KB, encrypted before the clock starts.

Besides messages per second, the CPU time per message of each server process
(all its threads, from /proc) and of its event-loop thread is reported. CPU
per message depends much less on what else the machine is doing, and both
servers are bound by one core of Python work (the durable server's threads
share one interpreter lock), so bare CPU / durable CPU per message is the
second verdict: the throughput ratio each would reach with a core to itself.
"""

from typing import Any

from bench import processes, seed
from bench.context import Context, loadavg, progress, run_loadgen
from bench.stats import median
from bench.targets import at_least

TARGET_RATIO = 0.5


def _round(ctx: Context, kind: str, index: int, devices_file: str, devices: int) -> dict[str, Any]:
    work = ctx.scratch(f"relay-{kind}-{index}")
    if kind == "durable":
        data = work / "data"
        all_devices = seed.add_pairs(seed.new_database(data), devices // 2)
        seed.write_devices(work / "devices.json", all_devices)
        devices_file = str(work / "devices.json")
        process = processes.server(data)
    else:
        process = processes.bare_relay(work / "bare.log")
    with process.start():
        job = {
            "kind": "throughput",
            "ws_url": process.ws_url,
            "devices_file": devices_file,
            "devices": devices,
            "window": ctx.pick(8, 8),
            "warmup_s": ctx.pick(2, 3),
            "duration_s": ctx.pick(4, 10),
            "pool": 32,
            "server_pid": process.pid,
        }
        result = run_loadgen(job)
    result["kind"] = kind
    result["loadavg_after"] = loadavg()
    progress(f"{kind} round {index}: {result['delivered_per_s']:.0f} messages/s")
    return result


def _why(runs: list[dict[str, Any]], ratio: float, cpu_ratio: float) -> str:
    if min(ratio, cpu_ratio) >= TARGET_RATIO:
        return ""
    durable = [r for r in runs if r["kind"] == "durable"]
    busy = median([r["server_cpu_s"] / r["wall_s"] for r in durable])
    loop = median([r["server_loop_cpu_s"] / r["wall_s"] for r in durable])
    return (
        f"The durable server used {busy:.2f} cores, {loop:.2f} of them on its event loop. "
        "A batch of sends and acks runs its SQLite statements on the event loop (handing the "
        "interpreter lock to a writer thread around every statement cost more), so the loop "
        "carries the storage work as well as the frames; only COMMIT waits for the disk in the "
        "writer thread. The bare relay has the same frame handling and no storage. "
        "bench/README.md, 'Findings', has the profile and what is left to gain."
    )


def run(ctx: Context) -> dict[str, Any]:
    devices = 200
    rounds = ctx.pick(1, 3)
    bare_devices = ctx.scratch("relay-bare-devices") / "devices.json"
    # The bare relay checks no signatures and knows no accounts: any ids do.
    seed.write_devices(
        bare_devices, seed.add_pairs(seed.new_database(bare_devices.parent / "data"), devices // 2)
    )
    runs = []
    for index in range(rounds):
        runs.append(_round(ctx, "durable", index, "", devices))
        runs.append(_round(ctx, "bare", index, str(bare_devices), devices))
    durable = [r for r in runs if r["kind"] == "durable"]
    bare = [r for r in runs if r["kind"] == "bare"]
    durable_rate = median([r["delivered_per_s"] for r in durable])
    bare_rate = median([r["delivered_per_s"] for r in bare])
    durable_cpu = median([r["server_cpu_us_per_message"] for r in durable])
    bare_cpu = median([r["server_cpu_us_per_message"] for r in bare])
    durable_loop = median([r["server_loop_cpu_us_per_message"] for r in durable])
    bare_loop = median([r["server_loop_cpu_us_per_message"] for r in bare])
    ratio = durable_rate / bare_rate
    cpu_ratio = bare_cpu / durable_cpu
    ctx.found["durable_messages_per_s"] = durable_rate
    ctx.found["durable_capacity_per_s"] = 1e6 / durable_cpu
    return {
        "why": _why(runs, ratio, cpu_ratio),
        "name": "relay",
        "title": "Relay throughput, durable vs bare",
        "devices": devices,
        "envelope_bytes": 1082,
        "runs": runs,
        "durable_messages_per_s": durable_rate,
        "bare_messages_per_s": bare_rate,
        "ratio": ratio,
        "durable_server_cpu_us_per_message": durable_cpu,
        "bare_server_cpu_us_per_message": bare_cpu,
        "cpu_ratio": cpu_ratio,
        "durable_loop_cpu_us_per_message": durable_loop,
        "bare_loop_cpu_us_per_message": bare_loop,
        "durable_capacity_per_s": 1e6 / durable_cpu,
        "bare_capacity_per_s": 1e6 / bare_cpu,
        "targets": [
            at_least("measured throughput, durable / bare", ratio * 100, TARGET_RATIO * 100, "%"),
            at_least("CPU per message, bare / durable", cpu_ratio * 100, TARGET_RATIO * 100, "%"),
        ],
    }
