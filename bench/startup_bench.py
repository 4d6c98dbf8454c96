"""Start-up on a large database, and what a login costs the server.

The large database (10,000 accounts, 1,000,000 stored 256-byte-bucket
envelopes) is built by bench/seed.py with direct SQL on the server's own
schema. Start-up is timed from launching `python -m server` to its first
answer to `GET /api/health`, alternately on that database and on an empty
one (the baseline), several times each.

A login is one Argon2id verification (argon2-cffi, the server's parameters)
plus a token written to the database. It is timed end to end over HTTP for a
known handle and for an unknown one (which must cost the same: the server
verifies against a dummy hash), against `GET /api/info` on the same server
as the baseline request, and the bare verification is timed in this process.
Then several clients log in at once, to see how many logins per second the
server completes (`argon2_concurrency` hashes at a time).
"""

import concurrent.futures
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import processes, seed
from bench.context import Context, progress
from bench.stats import latency_summary, median
from crypto.encoding import b64u_encode
from server.passwords import HASHER

LOGIN_SAMPLES = 40
CONCURRENT_CLIENTS = 8


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _first_answer(data: Path) -> dict[str, float]:
    process = processes.server(data)
    with process.start():
        _get(process.url + "/api/health")
        answered = time.monotonic()
        rss = processes.rss_bytes(process.pid)
    return {
        "listening_s": process.listening_at - process.started_at,
        "first_answer_s": answered - process.started_at,
        "rss_bytes": rss,
    }


def _elapsed(call: Any, *args: Any) -> float:
    start = time.monotonic()
    call(*args)
    return time.monotonic() - start


def _logins(url: str, devices: list[seed.Device], samples: int) -> dict[str, Any]:
    key = b64u_encode(seed.LOGIN_KEY)

    wrong_key = b64u_encode(bytes(32))

    def login(handle: str, expected: int, login_key: str = key) -> None:
        status = _post(url + "/api/login", {"handle": handle, "login_key": login_key})
        if status != expected:
            raise RuntimeError(f"login answered {status}, expected {expected}")

    # The kinds alternate, so that a change in the machine's load hits all alike.
    known, wrong, unknown, info = [], [], [], []
    for i in range(samples):
        known.append(_elapsed(login, devices[i].handle, 200))
        wrong.append(_elapsed(login, devices[i].handle, 401, wrong_key))
        unknown.append(_elapsed(login, seed.new_handle(), 401))
        info.append(_elapsed(_get, url + "/api/info"))
    stored = HASHER.hash(seed.LOGIN_KEY)
    verify = [_elapsed(HASHER.verify, stored, seed.LOGIN_KEY) for _ in range(samples)]

    duration = 5.0
    deadline = time.monotonic() + duration

    def keep_logging_in(worker: int) -> int:
        done = 0
        while time.monotonic() < deadline:
            login(devices[(worker * 997 + done) % len(devices)].handle, 200)
            done += 1
        return done

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
        total = sum(pool.map(keep_logging_in, range(CONCURRENT_CLIENTS)))
    elapsed = time.monotonic() - start
    return {
        "login_known_handle": latency_summary(known),
        "login_wrong_key": latency_summary(wrong),
        "login_unknown_handle": latency_summary(unknown),
        "info_baseline": latency_summary(info),
        "argon2id_verify_in_process": latency_summary(verify),
        "concurrent_clients": CONCURRENT_CLIENTS,
        "concurrent_logins_per_s": total / elapsed,
        "login_over_info": median(known) / median(info),
        "unknown_over_wrong_key": median(unknown) / median(wrong),
    }


def run(ctx: Context) -> dict[str, Any]:
    accounts = ctx.pick(1_000, 10_000)
    envelopes = ctx.pick(100_000, 1_000_000)
    starts = ctx.pick(2, 5)
    big, empty = ctx.scratch("startup") / "big", ctx.scratch("startup") / "empty"
    progress(f"building a database of {accounts} accounts and {envelopes} envelopes")
    started = time.monotonic()
    path = seed.new_database(big)
    devices = seed.add_pairs(path, accounts // 2)
    seed.add_envelopes(path, devices, envelopes)
    build_s = time.monotonic() - started
    seed.new_database(empty)
    size = sum(p.stat().st_size for p in big.iterdir() if p.is_file())
    runs: dict[str, list[dict[str, float]]] = {"empty": [], "large": []}
    for _ in range(starts):
        runs["empty"].append(_first_answer(empty))
        runs["large"].append(_first_answer(big))
    empty_s = median([r["first_answer_s"] for r in runs["empty"]])
    large_s = median([r["first_answer_s"] for r in runs["large"]])
    progress(
        f"first answer: {large_s:.2f} s on the large database, {empty_s:.2f} s on an empty one"
    )
    with processes.server(big).start() as server:
        logins = _logins(server.url, devices, LOGIN_SAMPLES)
    return {
        "name": "startup",
        "title": "Start-up and login",
        "accounts": accounts,
        "envelopes": envelopes,
        "database_bytes": size,
        "build_s": build_s,
        "starts": runs,
        "first_answer_empty_s": empty_s,
        "first_answer_large_s": large_s,
        "large_over_empty": large_s / empty_s,
        **logins,
        "targets": [],
    }
