"""Groups: server CPU and bytes stored per group message at 5, 20 and 50 members.

The baseline is a one-to-one message in the same run, on the same server:
rounds alternate (one-to-one, 5, 20, 50 members, then again), and each
reports the server's CPU time (all threads, from /proc) per message sent,
from the first send until every recipient has acknowledged everything.
A group message is stored once and fanned out to every member's connection,
so its CPU grows with the members (one delivery and one acknowledgement
each) while its storage should not: the bytes stored per message are
measured with SQLite's `dbstat` (every b-tree page of every table and index)
before and after a batch that nobody acknowledges, for a group of each size
and for one-to-one envelopes. A design storing one copy per member would
show bytes growing with the members.

Members are real accounts (bench/seed.py) whose member keys are registered
through the API with prekeys they sign, and admitted by a roster the
moderator signs; each member account has one connected device that
acknowledges every item, the sender's own included (it is a member too).
"""

import http.client
import json
import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import processes, seed
from bench.context import Context, loadavg, progress, run_loadgen
from bench.stats import median
from crypto import keys, signatures
from crypto.constants import CTX_PROFILE, MEMBER_ADMITTED
from crypto.encoding import b64u_encode
from crypto.group_roster import Roster, RosterEntry, sign_roster
from crypto.keys import IdentityKeyPair

SIZES = (5, 20, 50)
# Limits are policy, not capacity: a bench sender may leave more waiting than
# a person would, while slow readers catch up.
SETTINGS = {"max_pending_per_sender": 1_000_000, "max_inbox": 1_000_000}


def _call(url: str, token: str, method: str, path: str, body: Any) -> dict[str, Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request(
            method,
            path,
            body=json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        answer = json.loads(response.read() or b"{}")
    finally:
        conn.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {answer}")
    return answer


def _prekeys(member: IdentityKeyPair) -> dict[str, Any]:
    def public(prekey: Any) -> dict[str, Any]:
        return {"id": prekey.id, "key": b64u_encode(prekey.public), "sig": b64u_encode(prekey.sig)}

    return {
        "signed_prekey": public(keys.make_signed_prekey(member.seed, 1)),
        "pq_prekey": public(keys.make_pq_prekey(member.seed, 2)),
    }


def make_group(url: str, moderator: seed.Device, members: list[seed.Device]) -> tuple[str, int]:
    """A group of `members` (the moderator's account is routed too); (group id, roster version)."""
    group_id = os.urandom(16)
    group_text = b64u_encode(group_id)
    moderator_key = IdentityKeyPair.from_seed(moderator.seed_bytes)
    profile = json.dumps({"display_name": "Bench"}).encode()
    _call(
        url,
        moderator.token,
        "PUT",
        "/api/profile",
        {
            "profile": b64u_encode(profile),
            "sig": b64u_encode(signatures.sign(moderator.seed_bytes, CTX_PROFILE, profile)),
        },
    )

    def roster(version: int, entries: list[RosterEntry]) -> str:
        made = Roster(group_id, version, 0, 50, (moderator_key.public,), tuple(entries))
        return b64u_encode(sign_roster(moderator.seed_bytes, made))

    listing = json.dumps({"group": group_text, "name": "Bench", "max_members": 50}).encode()
    _call(
        url,
        moderator.token,
        "POST",
        "/api/groups",
        {
            "roster": roster(1, []),
            "listing": b64u_encode(listing),
            "sig": b64u_encode(signatures.sign_group_listing(moderator.seed_bytes, listing)),
        },
    )
    entries = []
    for device in members:
        member_key = IdentityKeyPair.generate()
        path = f"/api/groups/{group_text}/keys/{b64u_encode(member_key.public)}"
        _call(url, device.token, "PUT", path, _prekeys(member_key))
        entries.append(RosterEntry(member_key.public, MEMBER_ADMITTED, 2, os.urandom(32)))
    entries.sort(key=lambda entry: entry.member_key)
    _call(
        url,
        moderator.token,
        "PUT",
        f"/api/groups/{group_text}/roster",
        {"roster": roster(2, entries)},
    )
    return group_text, 2


def stored_bytes(database: Path) -> int:
    """Bytes of every b-tree page in the database (tables and indexes), as the server sees it."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT SUM(pgsize) FROM dbstat").fetchone()[0]
    finally:
        conn.close()


def run(ctx: Context) -> dict[str, Any]:
    work = ctx.scratch("groups")
    data = work / "data"
    database = seed.new_database(data)
    pairs = seed.add_pairs(database, max(SIZES))
    clients = [d for d in pairs if d.role == "client"]
    moderator = next(d for d in pairs if d.account == clients[0].partner)
    rounds = ctx.pick(1, 3)
    messages = ctx.pick(200, 600)
    stored_count = ctx.pick(200, 400)
    window = 8
    runs: list[dict[str, Any]] = []
    storage: list[dict[str, Any]] = []
    with processes.server(data, **SETTINGS).start() as server:
        groups: dict[int, tuple[str, int, Path]] = {}
        for size in SIZES:
            # The moderator's account is one of the `size` members.
            members = clients[: size - 1]
            group_text, version = make_group(server.url, moderator, members)
            devices_file = work / f"group-{size}.json"
            seed.write_devices(devices_file, [*members, moderator])
            groups[size] = (group_text, version, devices_file)
        pair_file = work / "pair.json"
        seed.write_devices(pair_file, [clients[0], moderator])

        def job(
            mode: str, devices_file: Path, count: int, ack: bool, **extra: Any
        ) -> dict[str, Any]:
            return {
                "kind": "group",
                "mode": mode,
                "ws_url": server.ws_url,
                "devices_file": str(devices_file),
                "devices": max(SIZES),
                "messages": count,
                "window": window,
                "ack": ack,
                "server_pid": server.pid,
                **extra,
            }

        for index in range(rounds):
            result = run_loadgen(job("pair", pair_file, messages, True))
            result["loadavg_after"] = loadavg()
            runs.append(result)
            progress(f"one-to-one round {index}: {result['server_cpu_us_per_message']:.0f} µs")
            for size in SIZES:
                group_text, version, devices_file = groups[size]
                extra = {"group": group_text, "roster_version": version}
                result = run_loadgen(job("group", devices_file, messages, True, **extra))
                result["loadavg_after"] = loadavg()
                runs.append(result)
                progress(
                    f"{size} members round {index}: {result['server_cpu_us_per_message']:.0f} µs"
                )
        # Storage last: what nobody acknowledges stays, and would be delivered
        # to the members' devices in any later round.
        before = stored_bytes(database)
        run_loadgen(job("pair", pair_file, stored_count, False))
        after = stored_bytes(database)
        storage.append(
            {"members": 2, "mode": "pair", "bytes_per_message": (after - before) / stored_count}
        )
        for size in SIZES:
            group_text, version, devices_file = groups[size]
            before = after
            extra = {"group": group_text, "roster_version": version}
            run_loadgen(job("group", devices_file, stored_count, False, **extra))
            after = stored_bytes(database)
            storage.append(
                {
                    "members": size,
                    "mode": "group",
                    "bytes_per_message": (after - before) / stored_count,
                }
            )
    return summarise(runs, storage, messages, stored_count)


def summarise(
    runs: list[dict[str, Any]], storage: list[dict[str, Any]], messages: int, stored_count: int
) -> dict[str, Any]:
    pair_cpu = median([r["server_cpu_us_per_message"] for r in runs if r["mode"] == "pair"])
    pair_bytes = next(s["bytes_per_message"] for s in storage if s["mode"] == "pair")
    rows = []
    for size in SIZES:
        of_size = [r for r in runs if r["mode"] == "group" and r["members"] == size]
        cpu = median([r["server_cpu_us_per_message"] for r in of_size])
        per_delivery = median([r["server_cpu_us_per_delivery"] for r in of_size])
        stored = next(s["bytes_per_message"] for s in storage if s["members"] == size)
        rows.append(
            {
                "members": size,
                "server_cpu_us_per_message": cpu,
                "server_cpu_us_per_delivery": per_delivery,
                "cpu_ratio_to_one_to_one": cpu / pair_cpu,
                "bytes_per_message": stored,
                "bytes_ratio_to_one_to_one": stored / pair_bytes,
            }
        )
    return {
        "why": "",
        "name": "groups",
        "title": "Groups: server CPU and bytes stored per group message",
        "messages_per_round": messages,
        "stored_per_batch": stored_count,
        "message_bytes": {"group": 62 + 1024 + 16 + 64, "one_to_one": 1082},
        "one_to_one_cpu_us_per_message": pair_cpu,
        "one_to_one_bytes_per_message": pair_bytes,
        "sizes": rows,
        "runs": runs,
        "storage": storage,
        "targets": [],
    }
