"""Results on disk: one JSON file per benchmark, plots, and bench/results/SUMMARY.md.

The summary is rebuilt from every JSON file in the results directory, so a
`--only` run or a soak run updates its own sections and leaves the others.
Each section carries its own date and mode: numbers from different sections
come from different runs and are not to be compared with each other; each
benchmark's baseline ran beside it.
"""

import json
from pathlib import Path
from typing import Any

from bench import plots

ORDER = (
    "relay",
    "latency",
    "connections",
    "crypto",
    "startup",
    "groups",
    "scaling",
    "soak",
)
KIB = 1024
MIB = 1024 * 1024


def write(results_dir: Path, result: dict[str, Any]) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{result['name']}.json").write_text(json.dumps(result, indent=1) + "\n")
    result["plot"] = plots.draw(results_dir, result)
    (results_dir / f"{result['name']}.json").write_text(json.dumps(result, indent=1) + "\n")


def _load(results_dir: Path) -> list[dict[str, Any]]:
    found = {p.stem: json.loads(p.read_text()) for p in results_dir.glob("*.json")}
    return [found[name] for name in ORDER if name in found]


def _targets(result: dict[str, Any]) -> list[str]:
    lines = []
    for t in result.get("targets", []):
        measured = "not measured" if t["measured"] is None else f"{t['measured']:.3g} {t['unit']}"
        mark = "met" if t["met"] else "**not met**"
        lines.append(f"| {t['name']} | {t['goal']} | {measured} | {mark}: {t['margin']} |")
    if not lines:
        return []
    return ["| target | goal | measured | verdict |", "|---|---|---|---|", *lines, ""]


def _relay(r: dict[str, Any]) -> list[str]:
    lines = [
        f"{r['devices']} devices in pairs, each keeping a window of sends in flight and "
        f"acknowledging every delivery; {r['envelope_bytes']}-byte envelopes.",
        "",
        "| | messages/s (median) | CPU per message | of which on the event loop "
        "| messages/s with one core to itself |",
        "|---|---|---|---|---|",
        f"| durable: the real server, SQLite WAL, synchronous=FULL "
        f"| {r['durable_messages_per_s']:.0f} | {r['durable_server_cpu_us_per_message']:.0f} µs "
        f"| {r['durable_loop_cpu_us_per_message']:.0f} µs | {r['durable_capacity_per_s']:.0f} |",
        f"| bare relay, no storage | {r['bare_messages_per_s']:.0f} "
        f"| {r['bare_server_cpu_us_per_message']:.0f} µs "
        f"| {r['bare_loop_cpu_us_per_message']:.0f} µs | {r['bare_capacity_per_s']:.0f} |",
        f"| durable / bare | **{r['ratio'] * 100:.0f}%** | | | **{r['cpu_ratio'] * 100:.0f}%** |",
        "",
        "Rounds, in the order they ran (busy: CPU seconds per wall second):",
        "",
        "| round | messages/s | server busy | its event loop busy | load generator busy "
        "| CPU stolen | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        wall = run["wall_s"]
        stolen = f"{run['machine_stolen']:.1%}" if "machine_stolen" in run else "-"
        lines.append(
            f"| {run['kind']} | {run['delivered_per_s']:.0f} | {run['server_cpu_s'] / wall:.2f} "
            f"| {run['server_loop_cpu_s'] / wall:.2f} | {run['loadgen_cpu_s'] / wall:.2f} "
            f"| {stolen} | {run['totals']['errors'] or 'none'} |"
        )
    return lines


def _latency_row(r: dict[str, Any]) -> str:
    lat = r["latency"]
    head = f"| {r['offered_per_s']:.0f} | {r['achieved_offer_per_s']:.0f} "
    busy = f"| {r['server_busy']:.2f} / {r['server_loop_busy']:.2f} | {r['loadgen_busy']:.2f} "
    if "machine_busy" in r:
        busy += f"| {r['machine_busy']:.2f} / {r['machine_stolen']:.1%} "
    else:
        busy += "| - "
    errors = f"| {r['errors'] or 'none'} |"
    if not lat.get("count"):
        return head + "| - | - | - | 0% " + busy + errors
    return (
        head
        + f"| {lat['p50_ms']:.1f} | {lat['p99_ms']:.1f} | {lat['max_ms']:.1f} "
        + f"| {r['delivered_fraction'] * 100:.0f}% "
        + busy
        + errors
    )


def _rounds(rows: list[dict[str, Any]]) -> list[str]:
    """A line per rate offered in several rounds: each round's own p99 and stolen time."""
    lines = []
    for row in rows:
        rounds = row.get("rounds")
        if not rounds:
            continue
        each = ", ".join(
            f"{x['latency'].get('p99_ms', float('nan')):.1f} ms ({x['machine_stolen']:.1%} stolen)"
            for x in rounds
        )
        lines += [
            f"At {row['offered_per_s']:.0f}/s, {len(rounds)} rounds pooled in the row above; "
            f"p99 of each round: {each}.",
            "",
        ]
    return lines


def _latency(r: dict[str, Any]) -> list[str]:
    head = [
        "| offered msg/s | achieved | p50 ms | p99 ms | max ms | delivered in run "
        "| server / event loop busy | load generator busy | machine busy / stolen | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines = []
    if r.get("lone_commit"):
        c = r["lone_commit"]
        lines += [
            "Lone commits on the same disk (one 1 KB row each, WAL, synchronous=FULL), "
            f"same run: p50 {c['p50_ms']:.2f} ms, p99 {c['p99_ms']:.2f} ms, "
            f"max {c['max_ms']:.2f} ms.",
            "",
        ]
    lines += ["Fixed loads, the real server:", "", *head]
    lines += [*(_latency_row(x) for x in r["fixed"]), "", *_rounds(r["fixed"])]
    if r.get("baseline"):
        ratios = ", ".join(
            f"{float(rate):.0f}/s: **{ratio:.1f}x**" for rate, ratio in r["p99_ratio"].items()
        )
        lines += [
            "The same loads against the bare relay (same frames, no storage), in the same run:",
            "",
            *head,
            *(_latency_row(x) for x in r["baseline"]),
            "",
            *_rounds(r["baseline"]),
            f"p99 of the real server over p99 of the bare relay: {ratios}.",
            "",
        ]
    lines += [
        "Search for the highest sustained rate, downwards from "
        f"{r['search_ceiling_per_s']:.0f}/s (sustained: >= 98% delivered, no errors, "
        f"p99 <= {r['sustained_p99_ms']:.0f} ms):",
        "",
        *head,
        *(_latency_row(x) for x in r["search"]),
        "",
        "Highest sustained: "
        f"**{r['highest_sustained_per_s'] or 'none of the rates tried'}** messages/s.",
    ]
    return lines


def _connections(r: dict[str, Any]) -> list[str]:
    lines = [
        f"Baseline RSS {r['baseline_rss_bytes'] / MIB:.1f} MiB; "
        f"open-files limit (soft, hard) {r['open_files_limit']}.",
        "",
        "| idle connections | RSS MiB | per connection | /api/health p50 / p99 ms "
        "| ws ping p50 / p99 ms | opening them took |",
        "|---|---|---|---|---|---|",
    ]
    for s in r["steps"]:
        h, w = s["http_health"], s["ws_ping"]
        lines.append(
            f"| {s['connections']} | {s['rss_bytes'] / MIB:.1f} "
            f"| {s['bytes_per_connection'] / KIB:.1f} KiB "
            f"| {h['p50_ms']:.1f} / {h['p99_ms']:.1f} | {w['p50_ms']:.1f} / {w['p99_ms']:.1f} "
            f"| {s['connect_s']:.1f} s |"
        )
    return lines


def _crypto(r: dict[str, Any]) -> list[str]:
    lines = [
        "Python (bench/crypto_bench.py), per message:",
        "",
        "| padded bytes | ratchet encrypt | ratchet decrypt | AEAD encrypt | AEAD decrypt "
        "| ratio encrypt / decrypt |",
        "|---|---|---|---|---|---|",
    ]
    for x in r["python"]["results"]:
        lines.append(
            f"| {x['padded_bytes']} | {x['ratchet_encrypt_s'] * 1e6:.1f} µs "
            f"| {x['ratchet_decrypt_s'] * 1e6:.1f} µs | {x['aead_encrypt_s'] * 1e6:.1f} µs "
            f"| {x['aead_decrypt_s'] * 1e6:.1f} µs "
            f"| {x['encrypt_ratio']:.1f} / {x['decrypt_ratio']:.1f} |"
        )
    lines += ["", "Node (bench/crypto_bench.mjs), encrypt + decrypt per message:", ""]
    node = r["node"]
    if "error" in node:
        return [*lines, f"Not measured: {node['error']}"]
    lines += [
        f"{node.get('runtime')}, libsodium {node.get('libsodium')}.",
        "",
        "| padded bytes | raw AEAD | ratchet, same chain | ratchet, DH step every message "
        "| ratios |",
        "|---|---|---|---|---|",
    ]
    for x in node["results"]:
        lines.append(
            f"| {x['padded_bytes']} | {x['raw_aead_us']} µs | {x['ratchet_same_chain_us']} µs "
            f"| {x['ratchet_every_message_dh_step_us']} µs "
            f"| {x['ratio_same_chain']} / {x['ratio_every_message_dh_step']} |"
        )
    return lines


def _ms(summary: dict[str, Any]) -> str:
    return f"{summary['p50_ms']:.1f} / {summary['p99_ms']:.1f}"


def _startup(r: dict[str, Any]) -> list[str]:
    empty, large = r["starts"]["empty"][-1], r["starts"]["large"][-1]
    return [
        f"Large database: {r['accounts']} accounts, {r['envelopes']} envelopes, "
        f"{r['database_bytes'] / MIB:.0f} MiB, built in {r['build_s']:.0f} s with direct SQL.",
        "",
        "| | first answer (median) | RSS after it |",
        "|---|---|---|",
        f"| empty database (baseline) | {r['first_answer_empty_s'] * 1000:.0f} ms "
        f"| {empty['rss_bytes'] / MIB:.0f} MiB |",
        f"| large database | {r['first_answer_large_s'] * 1000:.0f} ms "
        f"| {large['rss_bytes'] / MIB:.0f} MiB |",
        "",
        "| request | p50 / p99 ms |",
        "|---|---|",
        f"| `GET /api/info` (baseline) | {_ms(r['info_baseline'])} |",
        f"| `POST /api/login`, known handle | {_ms(r['login_known_handle'])} |",
        f"| `POST /api/login`, known handle, wrong key (refused) | {_ms(r['login_wrong_key'])} |",
        f"| `POST /api/login`, unknown handle (refused) | {_ms(r['login_unknown_handle'])} |",
        f"| Argon2id verification alone, in process | {_ms(r['argon2id_verify_in_process'])} |",
        "",
        "A refused login must not tell whether the handle exists (docs/PROTOCOL.md section 9): "
        f"unknown handle / wrong key = {r['unknown_over_wrong_key']:.2f} (medians). "
        f"A login costs {r['login_over_info']:.0f}x the baseline request. "
        f"{r['concurrent_clients']} clients logging in at once complete "
        f"{r['concurrent_logins_per_s']:.0f} logins/s.",
    ]


def _soak(r: dict[str, Any]) -> list[str]:
    first = r["samples"][0]["rss_bytes"]
    return [
        f"{r['devices']} devices, {r['rate_per_s']} messages/s, {r['reconnects']} reconnects; "
        f"RSS {first / MIB:.1f} MiB at the start, {r['final_rss_bytes'] / MIB:.1f} MiB at the "
        f"end; slope after warm-up {r['slope_mib_per_min']:.3f} MiB/min, growth "
        f"{r['growth_after_warmup'] * 100:.1f}%.",
        f"Messages: {r['totals']['sends']} sent, {r['totals']['delivered']} delivered, "
        f"answers and anomalies {r['totals']['errors'] or 'none'}. A device that reconnects "
        "before its acknowledgement commits gets the envelope again (at-least-once delivery, "
        "as documented), counted as unmatched, and its second acknowledgement is answered "
        "not_found.",
    ]


def _scaling(r: dict[str, Any]) -> list[str]:
    lines = [
        f"{r['devices']} devices in pairs (split across the processes when there are two), "
        "durable on both engines. Throughput: each device keeps 8 sends in flight. "
        f"Latency: {r['fixed_rate']:.0f} messages/s offered open loop.",
        "",
        "| setup | messages/s (median) | relay CPU per message | PostgreSQL CPU per message "
        "| server CPU per message | p50 | p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in r["setups"].items():
        lines.append(
            f"| {name} | {s['messages_per_s']:.0f} | {s['relay_cpu_us_per_message']:.0f} µs "
            f"| {s['database_cpu_us_per_message']:.0f} µs "
            f"| {s['server_cpu_us_per_message']:.0f} µs "
            f"| {s['p50_ms']:.1f} ms | {s['p99_ms']:.1f} ms |"
        )
    lines += [
        "",
        "Rounds, in the order they ran (busy: CPU seconds per wall second):",
        "",
        "| setup | messages/s | relays busy | PostgreSQL busy | machine busy | p99 | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        lines.append(
            f"| {run['setup']} | {run['messages_per_s']:.0f} | {run['relay_busy']:.2f} "
            f"| {run['database_busy']:.2f} | {run['machine_busy']:.0%} "
            f"| {run['latency'].get('p99_ms', float('nan')):.1f} ms "
            f"| {run['errors'] or run['fixed_errors'] or 'none'} |"
        )
    return lines


def _groups(r: dict[str, Any]) -> list[str]:
    lines = [
        f"One sender, every member's one device acknowledging each item; "
        f"{r['messages_per_round']} messages per round, rounds alternating one-to-one, "
        f"{', '.join(str(row['members']) for row in r['sizes'])} members. Group messages are "
        f"{r['message_bytes']['group']} bytes, one-to-one envelopes "
        f"{r['message_bytes']['one_to_one']}. Bytes stored: every b-tree page (`dbstat`) "
        f"before and after {r['stored_per_batch']} messages nobody acknowledged.",
        "",
        "| | server CPU per message (median) | per delivery | x one-to-one "
        "| bytes stored per message | x one-to-one |",
        "|---|---|---|---|---|---|",
        f"| one-to-one | {r['one_to_one_cpu_us_per_message']:.0f} µs | | 1.00 "
        f"| {r['one_to_one_bytes_per_message']:.0f} | 1.00 |",
    ]
    for row in r["sizes"]:
        lines.append(
            f"| {row['members']} members | {row['server_cpu_us_per_message']:.0f} µs "
            f"| {row['server_cpu_us_per_delivery']:.0f} µs "
            f"| {row['cpu_ratio_to_one_to_one']:.2f} | {row['bytes_per_message']:.0f} "
            f"| {row['bytes_ratio_to_one_to_one']:.2f} |"
        )
    lines += [
        "",
        "Rounds, in the order they ran:",
        "",
        "| round | members | CPU per message | server busy | load generator busy | errors |",
        "|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        wall = run["wall_s"]
        lines.append(
            f"| {run['mode']} | {run['members']} | {run['server_cpu_us_per_message']:.0f} µs "
            f"| {run['server_cpu_s'] / wall:.2f} | {run['loadgen_cpu_s'] / wall:.2f} "
            f"| {run['errors'] or 'none'} |"
        )
    return lines


SECTIONS = {
    "relay": _relay,
    "latency": _latency,
    "connections": _connections,
    "crypto": _crypto,
    "startup": _startup,
    "scaling": _scaling,
    "soak": _soak,
    "groups": _groups,
}


def summary(results_dir: Path) -> Path:
    out = [
        "# Benchmark results",
        "",
        "Written by `python -m bench` (`make bench`, `make soak`); bench/README.md says how each "
        "number is made. The machine is shared and its load varies: each section compares only "
        "with the baseline measured beside it in the same run, and sections from different runs "
        "are not comparable with each other.",
        "",
    ]
    for r in _load(results_dir):
        meta = r.get("run", {})
        machine = meta.get("machine", {})
        out += [
            f"## {r['title']}",
            "",
            f"Run {meta.get('started', '?')}, {'quick' if meta.get('quick') else 'full'} mode, "
            f"{machine.get('cores', '?')} cores, load average before {machine.get('loadavg')} "
            f"and after {meta.get('loadavg_after')}, niceness {machine.get('niceness')}.",
            "",
            *_targets(r),
            *SECTIONS[r["name"]](r),
            "",
        ]
        if r.get("why"):
            out += ["**Why:** " + r["why"], ""]
        if r.get("plot"):
            out += [f"![{r['title']}]({r['plot']})", ""]
    path = results_dir / "SUMMARY.md"
    path.write_text("\n".join(out))
    return path
