"""The load generator: `python -m bench.loadgen` reads one JSON job on stdin, prints one result.

It runs in its own process so that its CPU time is its own and the server's
is the server's. Every job is bounded: `bench.jobs` refuses one that names
an address other than loopback, too many devices, too high a rate or too long
an interval (exit status 2), and the job stops itself at its time limit
(exit status 3). Progress goes to stderr.

Jobs (`kind`):

- `throughput`: every device keeps `window` sends in flight to its partner
  and acknowledges what it receives; counts over a measured interval after
  a warm-up.
- `latency`: open-loop sends at fixed offered rates, spread round-robin over
  all devices; send-to-receipt times per rate; then, if asked, the highest
  offered rate that is still sustained.
- `connections`: idle authenticated websockets held open in steps, the
  server's RSS at each step, and probe round trips while they are held.
- `soak`: a steady rate with reconnecting devices for a long time, sampling
  the server's RSS.
- `group`: one sender writes a fixed number of group messages (or, as the
  baseline, one-to-one envelopes) with a window in flight, and every
  recipient acknowledges each (bench/group_load.py); the server's CPU time
  over the whole exchange.
"""

import asyncio
import gc
import http.client
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bench import jobs, processes
from bench.envelope_pool import encoded_pool
from bench.group_load import Recipient, send_frames
from bench.seed import Device, read_devices
from bench.stats import latency_summary, median
from bench.wsclient import Peer, open_device, pair_up

T = TypeVar("T")
CONNECT_CONCURRENCY = 64
DRAIN_TIMEOUT = jobs.DRAIN_S
MAX_BACKLOG_DRAIN = jobs.BACKLOG_DRAIN_S
BACKLOG_DRAIN_RATE = 500.0  # messages per second a backlog is assumed to clear at, at worst
RSS_SAMPLES = 5


def log(message: str) -> None:
    print(f"loadgen: {message}", file=sys.stderr, flush=True)


async def bounded_gather(
    items: list[T], limit: int, work: Callable[[T], Awaitable[Any]]
) -> list[Any]:
    slots = asyncio.Semaphore(limit)

    async def one(item: T) -> Any:
        async with slots:
            return await work(item)

    return await asyncio.gather(*(one(item) for item in items))


def freeze_collector() -> None:
    """Leave what is set up so far out of the garbage collector's full passes.

    With a thousand connections open, a full collection paused this process
    for tens of milliseconds, and the pause was counted as the server's
    latency (bench/README.md, "Findings"). The process is short-lived: what
    is frozen here is never collected, a bounded cost.
    """
    gc.collect()
    gc.freeze()


def ws_urls(job: dict[str, Any]) -> list[str]:
    """Every relay process of the job: `ws_urls` when several share one database."""
    return job.get("ws_urls") or [job["ws_url"]]


def server_pids(job: dict[str, Any]) -> list[int]:
    return job.get("server_pids") or [job["server_pid"]]


async def connect_peers(urls: list[str], devices: list[Device], pool_size: int) -> list[Peer]:
    """Devices connected round-robin over `urls`: partners (0 and 1, 2 and 3, ...) on
    different processes when there are several, so that every message crosses over."""
    log(f"encrypting {pool_size} envelopes for each of {len(devices)} devices")
    pools = [encoded_pool(pool_size) for _ in devices]
    log(f"connecting {len(devices)} devices")

    async def one(index: int) -> Peer:
        ws, _ready = await open_device(urls[index % len(urls)], devices[index])
        return Peer(devices[index], ws, pools[index])

    peers = await bounded_gather(list(range(len(devices))), CONNECT_CONCURRENCY, one)
    pair_up(peers)
    freeze_collector()
    return peers


async def close_all(peers: list[Any]) -> None:
    async def one(peer: Any) -> None:
        ws = peer.ws if isinstance(peer, Peer) else peer
        await ws.close()

    try:
        await asyncio.wait_for(bounded_gather(peers, 256, one), DRAIN_TIMEOUT)
    except TimeoutError:
        log("some connections did not close in time")


def totals(peers: list[Peer]) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    for peer in peers:
        errors.update(peer.errors)
    return {
        "sends": sum(p.sends for p in peers),
        "sent": sum(p.sent for p in peers),
        "delivered": sum(p.delivered for p in peers),
        "acked": sum(p.acked for p in peers),
        "errors": dict(errors),
        "closed_connections": sum(p.closed for p in peers),
    }


class CpuClock:
    """CPU seconds of the server processes, the database's and this process over an interval.

    `database_pid` is PostgreSQL's postmaster: its backends (one per
    connection, alive for the whole run) are counted with it.
    """

    def __init__(self, pids: list[int], database_pid: int | None = None) -> None:
        self.server_pids = pids
        self.database_pid = database_pid
        self.start()

    def _database_cpu(self) -> float:
        total = 0.0
        for pid in self.database_pids:
            try:
                total += processes.cpu_seconds(pid)
            except OSError:
                continue
        return total

    def start(self) -> None:
        self.wall = time.monotonic()
        self.database_pids = (
            []
            if self.database_pid is None
            else [self.database_pid, *processes.children(self.database_pid)]
        )
        self.database = self._database_cpu()
        self.server = sum(processes.cpu_seconds(pid) for pid in self.server_pids)
        self.loop = sum(processes.event_loop_cpu_seconds(pid) for pid in self.server_pids)
        self.own = time.process_time()
        self.machine = processes.machine_cpu_ticks()

    def read(self) -> dict[str, float]:
        wall = time.monotonic() - self.wall
        total, idle, stolen = (
            now - then
            for now, then in zip(processes.machine_cpu_ticks(), self.machine, strict=True)
        )
        return {
            "wall_s": wall,
            "server_cpu_s": sum(processes.cpu_seconds(p) for p in self.server_pids) - self.server,
            "server_loop_cpu_s": sum(processes.event_loop_cpu_seconds(p) for p in self.server_pids)
            - self.loop,
            "database_cpu_s": self._database_cpu() - self.database,
            "loadgen_cpu_s": time.process_time() - self.own,
            "machine_busy": (total - idle - stolen) / total if total else 0.0,
            "machine_stolen": stolen / total if total else 0.0,
        }


async def drain(peers: list[Peer], timeout: float = DRAIN_TIMEOUT) -> None:
    """Wait until every send is answered and every delivery acknowledged, or the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = totals(peers)
        failed = sum(t["errors"].values())
        if t["sent"] + failed >= t["sends"] and t["acked"] >= t["delivered"] >= t["sent"]:
            return
        await asyncio.sleep(0.05)
    log("drain deadline passed")


async def throughput(job: dict[str, Any]) -> dict[str, Any]:
    devices = read_devices(job["devices_file"])[: job["devices"]]
    peers = await connect_peers(ws_urls(job), devices, job["pool"])
    readers = [asyncio.create_task(p.read()) for p in peers]
    running = True

    async def keep_sending(peer: Peer) -> None:
        peer.window = asyncio.Semaphore(job["window"])
        while running:
            await peer.window.acquire()
            if not running or peer.closed:
                return
            await peer.send_next()

    senders = [asyncio.create_task(keep_sending(p)) for p in peers]
    await asyncio.sleep(job["warmup_s"])
    before, clock = totals(peers), CpuClock(server_pids(job), job.get("database_pid"))
    await asyncio.sleep(job["duration_s"])
    after, cpu = totals(peers), clock.read()
    running = False
    for peer in peers:
        assert peer.window is not None
        peer.window.release()
    await asyncio.gather(*senders, return_exceptions=True)
    await drain(peers)
    final = totals(peers)
    await close_all(peers)
    await asyncio.gather(*readers, return_exceptions=True)
    window = cpu["wall_s"]
    delivered = after["delivered"] - before["delivered"]
    return {
        "devices": len(peers),
        "window": job["window"],
        **cpu,
        "sent_per_s": (after["sent"] - before["sent"]) / window,
        "delivered_per_s": delivered / window,
        "acked_per_s": (after["acked"] - before["acked"]) / window,
        "server_cpu_us_per_message": cpu["server_cpu_s"] / max(delivered, 1) * 1e6,
        "server_loop_cpu_us_per_message": cpu["server_loop_cpu_s"] / max(delivered, 1) * 1e6,
        "database_cpu_us_per_message": cpu["database_cpu_s"] / max(delivered, 1) * 1e6,
        "loadgen_cpu_us_per_message": cpu["loadgen_cpu_s"] / max(delivered, 1) * 1e6,
        "totals": final,
    }


async def offer(
    peers: list[Peer],
    rate: float,
    warmup_s: float,
    duration_s: float,
    server_pid: int | list[int],
    keep: list[float] | None = None,
    database_pid: int | None = None,
) -> dict[str, Any]:
    """Open loop: send at `rate` per second regardless of answers; time what is received.

    The latencies measured are also appended to `keep`, when given.
    """
    pids = server_pid if isinstance(server_pid, list) else [server_pid]
    clock = CpuClock(pids, database_pid)
    start = time.monotonic()
    record_after = start + warmup_s
    for peer in peers:
        peer.latencies = []
        peer.record_after = record_after
        peer.recorded_sends = 0
    before = totals(peers)
    total = int(rate * (warmup_s + duration_s))
    sent = 0
    lag = 0.0
    while sent < total:
        now = time.monotonic()
        due = min(total, int((now - start) * rate) + 1)
        if due > sent:
            lag = max(lag, now - (start + sent / rate))
        while sent < due:
            await peers[sent % len(peers)].send_next()
            sent += 1
        await asyncio.sleep(max(0.0, start + sent / rate - time.monotonic()))
    elapsed = time.monotonic() - start
    cpu = clock.read()
    # An overloaded rate leaves a backlog; it must clear before the next rate.
    await drain(peers, min(MAX_BACKLOG_DRAIN, DRAIN_TIMEOUT + total / BACKLOG_DRAIN_RATE))
    after = totals(peers)
    latencies = [x for p in peers for x in p.latencies]
    if keep is not None:
        keep.extend(latencies)
    measured_sends = sum(p.recorded_sends for p in peers)
    return {
        "offered_per_s": rate,
        "achieved_offer_per_s": sent / elapsed,
        "max_schedule_lag_ms": lag * 1000,
        "server_busy": cpu["server_cpu_s"] / cpu["wall_s"],
        "server_loop_busy": cpu["server_loop_cpu_s"] / cpu["wall_s"],
        "database_busy": cpu["database_cpu_s"] / cpu["wall_s"],
        "loadgen_busy": cpu["loadgen_cpu_s"] / cpu["wall_s"],
        "machine_busy": cpu["machine_busy"],
        "machine_stolen": cpu["machine_stolen"],
        "measured_sends": measured_sends,
        "delivered_fraction": len(latencies) / max(measured_sends, 1),
        "latency": latency_summary(latencies),
        "errors": {k: v - before["errors"].get(k, 0) for k, v in after["errors"].items()},
    }


# Per-round figures that a pooled result gives as the median of its rounds.
PER_ROUND = (
    "achieved_offer_per_s",
    "server_busy",
    "server_loop_busy",
    "loadgen_busy",
    "machine_busy",
    "machine_stolen",
)


async def offer_rounds(
    peers: list[Peer],
    rate: float,
    rounds: int,
    warmup_s: float,
    duration_s: float,
    server_pid: int | list[int],
    database_pid: int | None = None,
) -> dict[str, Any]:
    """`offer` run `rounds` times; the latency is over all their messages together.

    One 8-second run's p99 rests on its 80 slowest messages, and on this
    shared machine those come from a few stalls that may or may not happen in
    a given run: pooling rounds makes the figure less a matter of luck, and
    each round's own summary shows how far they differed.
    """
    kept: list[float] = []
    runs = [
        await offer(peers, rate, warmup_s, duration_s, server_pid, kept, database_pid)
        for _ in range(rounds)
    ]
    if rounds == 1:
        return runs[0]
    errors: Counter[str] = Counter()
    for run in runs:
        errors.update(run["errors"])
    measured = sum(r["measured_sends"] for r in runs)
    return {
        **{key: median([r[key] for r in runs]) for key in PER_ROUND},
        "offered_per_s": rate,
        "max_schedule_lag_ms": max(r["max_schedule_lag_ms"] for r in runs),
        "measured_sends": measured,
        "delivered_fraction": len(kept) / max(measured, 1),
        "latency": latency_summary(kept),
        "errors": dict(errors),
        "rounds": [{"latency": r["latency"], **{key: r[key] for key in PER_ROUND}} for r in runs],
    }


def sustained(result: dict[str, Any], max_p99_ms: float) -> bool:
    latency = result["latency"]
    return (
        result["delivered_fraction"] >= 0.98
        and result["achieved_offer_per_s"] >= 0.97 * result["offered_per_s"]
        and latency.get("p99_ms", float("inf")) <= max_p99_ms
        and not result["errors"]
    )


async def latency(job: dict[str, Any]) -> dict[str, Any]:
    devices = read_devices(job["devices_file"])[: job["devices"]]
    peers = await connect_peers(ws_urls(job), devices, job["pool"])
    readers = [asyncio.create_task(p.read()) for p in peers]
    fixed = []
    for rate in job["rates"]:
        rounds = job.get("rounds", {}).get(str(rate), 1)
        log(f"offering {rate} messages per second, {rounds} round(s)")
        fixed.append(
            await offer_rounds(
                peers,
                rate,
                rounds,
                job["warmup_s"],
                job["duration_s"],
                server_pids(job),
                job.get("database_pid"),
            )
        )
    search = []
    highest = None
    for rate in job.get("search_rates", []):
        log(f"searching: offering {rate:.0f} messages per second")
        result = await offer(peers, rate, job["warmup_s"], job["duration_s"], job["server_pid"])
        search.append(result)
        if sustained(result, job["sustainable_p99_ms"]):
            highest = result
            break
    await close_all(peers)
    await asyncio.gather(*readers, return_exceptions=True)
    return {"devices": len(peers), "fixed": fixed, "search": search, "highest_sustained": highest}


def server_rss(pid: int) -> float:
    samples = []
    for _ in range(RSS_SAMPLES):
        samples.append(processes.rss_bytes(pid))
        time.sleep(0.1)
    return median(samples)


def http_probe(url: str, count: int) -> list[float]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    times = []
    try:
        for _ in range(count):
            start = time.monotonic()
            conn.request("GET", "/api/health")
            response = conn.getresponse()
            response.read()
            times.append(time.monotonic() - start)
            if response.status != 200:
                raise RuntimeError(f"/api/health answered {response.status}")
    finally:
        conn.close()
    return times


async def ws_probe(ws_url: str, device: Device, count: int) -> tuple[list[float], float]:
    """Ping round trips on a fresh connection, and how long that connection took to open."""
    start = time.monotonic()
    ws, _ready = await open_device(ws_url, device)
    opened = time.monotonic() - start
    times = []
    try:
        for _ in range(count):
            start = time.monotonic()
            await ws.send('{"type":"ping"}')
            while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "pong":
                pass
            times.append(time.monotonic() - start)
    finally:
        await ws.close()
    return times, opened


async def connections(job: dict[str, Any]) -> dict[str, Any]:
    pid = job["server_pid"]
    devices = read_devices(job["devices_file"])
    probe_devices, devices = devices[:2], devices[2:]
    held: list[Any] = []

    async def one(device: Device) -> Any:
        ws, _ready = await open_device(job["ws_url"], device)
        return ws

    # Warm up code paths and the allocator before the baseline is taken.
    await close_all(await bounded_gather(devices[:50], CONNECT_CONCURRENCY, one))
    await asyncio.sleep(job["settle_s"])
    base = server_rss(pid)
    steps = []
    for target in job["steps"]:
        log(f"holding {target} idle connections")
        start = time.monotonic()
        held += await bounded_gather(devices[len(held) : target], CONNECT_CONCURRENCY, one)
        connect_s = time.monotonic() - start
        freeze_collector()
        await asyncio.sleep(job["settle_s"])
        rss = server_rss(pid)
        http_times = await asyncio.to_thread(http_probe, job["url"], job["probes"])
        ws_times, ws_open = await ws_probe(job["ws_url"], probe_devices[0], job["probes"])
        steps.append(
            {
                "connections": len(held),
                "server_open_files": processes.open_files(pid),
                "connect_s": connect_s,
                "rss_bytes": rss,
                "rss_growth_bytes": rss - base,
                "bytes_per_connection": (rss - base) / len(held),
                "http_health": latency_summary(http_times),
                "ws_ping": latency_summary(ws_times),
                "ws_open_ms": ws_open * 1000,
            }
        )
    await close_all(held)
    return {"baseline_rss_bytes": base, "steps": steps}


async def soak(job: dict[str, Any]) -> dict[str, Any]:
    pid = job["server_pid"]
    devices = read_devices(job["devices_file"])[: job["devices"]]
    peers = await connect_peers(ws_urls(job), devices, job["pool"])
    readers = {id(p): asyncio.create_task(p.read()) for p in peers}
    rng = random.Random(job.get("seed", 1))
    samples: list[dict[str, float]] = []
    reconnects = 0
    start = time.monotonic()
    next_sample = next_churn = start
    rate, sent = job["rate"], 0
    while (now := time.monotonic()) < start + job["duration_s"]:
        if now >= next_sample:
            samples.append({"t_s": now - start, "rss_bytes": processes.rss_bytes(pid)})
            next_sample += job["sample_s"]
        if now >= next_churn:
            # Some devices leave and come back: the connection lifecycle is
            # where per-connection state would leak.
            for peer in rng.sample(peers, job["churn"]):
                await peer.ws.close()
                await readers.pop(id(peer))
                peer.ws, _ready = await open_device(job["ws_url"], peer.device)
                peer.closed = False
                readers[id(peer)] = asyncio.create_task(peer.read())
                reconnects += 1
            await asyncio.to_thread(http_probe, job["url"], 5)
            next_churn += job["churn_every_s"]
        due = int((now - start) * rate)
        while sent < due:
            await peers[sent % len(peers)].send_next()
            sent += 1
        await asyncio.sleep(0.005)
    await drain(peers)
    result = totals(peers)
    await close_all(peers)
    await asyncio.gather(*readers.values(), return_exceptions=True)
    return {"devices": len(peers), "reconnects": reconnects, "samples": samples, "totals": result}


async def group(job: dict[str, Any]) -> dict[str, Any]:
    acknowledge = bool(job["ack"])
    count = int(job["messages"])
    devices = read_devices(job["devices_file"])[: job["devices"]]
    if not acknowledge:
        devices = devices[:1]
    frames = send_frames(job, devices)
    log(f"{job['mode']}: connecting {len(devices)} devices")

    async def connect(device: Device) -> Recipient:
        ws, _ready = await open_device(job["ws_url"], device)
        return Recipient(ws, job.get("group", ""), acknowledge)

    peers: list[Recipient] = await bounded_gather(devices, CONNECT_CONCURRENCY, connect)
    readers = [asyncio.create_task(peer.read()) for peer in peers]
    freeze_collector()
    sender = peers[0]
    sender.window = asyncio.Semaphore(job["window"])
    # In group mode every account is a member and receives each message, the
    # sender's too; in pair mode only the partner does.
    recipients = peers if job["mode"] == "group" else peers[1:]
    clock = CpuClock(server_pids(job))
    for text in frames:
        await sender.window.acquire()
        await sender.ws.send(text)
    deadline = time.monotonic() + MAX_BACKLOG_DRAIN
    while time.monotonic() < deadline:
        failed = sum(sum(p.errors.values()) for p in peers)
        answered = sender.sent + failed >= count
        done = all(p.received >= count and p.acked >= count for p in recipients)
        if answered and (done or not acknowledge or failed):
            break
        await asyncio.sleep(0.02)
    cpu = clock.read()
    await close_all([peer.ws for peer in peers])
    await asyncio.gather(*readers, return_exceptions=True)
    errors: Counter[str] = Counter()
    for peer in peers:
        errors.update(peer.errors)
    deliveries = count * len(recipients) if acknowledge else 0
    return {
        "mode": job["mode"],
        "members": len(peers) if job["mode"] == "group" else 2,
        "messages": count,
        "deliveries": deliveries,
        "received": sum(p.received for p in recipients),
        **cpu,
        "server_cpu_us_per_message": cpu["server_cpu_s"] / count * 1e6,
        "server_cpu_us_per_delivery": cpu["server_cpu_s"] / max(deliveries, 1) * 1e6,
        "errors": dict(errors),
    }


JOBS: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "throughput": throughput,
    "latency": latency,
    "connections": connections,
    "soak": soak,
    "group": group,
}


async def run(job: dict[str, Any]) -> dict[str, Any] | None:
    """Run a checked job; None if it reached its time limit first."""
    try:
        async with asyncio.timeout(jobs.time_limit(job)) as limit:
            return await JOBS[job["kind"]](job)
    except TimeoutError:
        # A timeout inside the job (a probe's, a connection's) is the job's own failure.
        if limit.expired():
            return None
        raise


def main() -> int:
    try:
        job = json.loads(sys.stdin.read())
        jobs.check(job)
    except ValueError as error:  # not JSON, or a jobs.JobError
        log(f"refused: {error}")
        return 2
    processes.raise_open_files_limit()
    result = asyncio.run(run(job))
    if result is None:
        log(f"stopped: the job ran for its limit of {jobs.time_limit(job):.0f} s")
        return 3
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
