"""One PNG per benchmark, drawn with matplotlib (the `bench` optional dependencies).

Without matplotlib the results and the summary are still written; only the
pictures are missing, and `draw` says so by returning None.
"""

from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _relay(ax: Any, r: dict[str, Any]) -> None:
    labels = [f"{run['kind']}\n{i // 2 + 1}" for i, run in enumerate(r["runs"])]
    colours = ["tab:blue" if run["kind"] == "durable" else "tab:grey" for run in r["runs"]]
    ax.bar(labels, [run["delivered_per_s"] for run in r["runs"]], color=colours)
    ax.set_ylabel("messages per second")
    ax.set_title(f"Durable vs bare relay: ratio of medians {r['ratio'] * 100:.0f}%")


def _latency(ax: Any, r: dict[str, Any]) -> None:
    rows = sorted(
        (x for x in r["fixed"] + r["search"] if x["latency"].get("count")),
        key=lambda x: x["offered_per_s"],
    )
    rates = [x["offered_per_s"] for x in rows]
    for key, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("max_ms", "max")):
        ax.plot(rates, [x["latency"][key] for x in rows], marker="o", label=label)
    bare = [x for x in r.get("baseline", []) if x["latency"].get("count")]
    ax.plot(
        [x["offered_per_s"] for x in bare],
        [x["latency"]["p99_ms"] for x in bare],
        marker="o",
        linestyle="--",
        color="tab:grey",
        label="p99, bare relay",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered messages per second")
    ax.set_ylabel("send to receipt, ms")
    ax.set_title(f"Delivery latency, {r['devices']} connected devices")
    ax.legend()


def _connections(ax: Any, r: dict[str, Any]) -> None:
    xs = [0] + [s["connections"] for s in r["steps"]]
    ys = [r["baseline_rss_bytes"] / MIB] + [s["rss_bytes"] / MIB for s in r["steps"]]
    ax.plot(xs, ys, marker="o")
    for s in r["steps"]:
        ax.annotate(
            f"{s['bytes_per_connection'] / 1024:.1f} KiB each",
            (s["connections"], s["rss_bytes"] / MIB),
            textcoords="offset points",
            xytext=(-60, 8),
        )
    ax.set_xlabel("idle authenticated websockets")
    ax.set_ylabel("server RSS, MiB")
    ax.set_title("Server memory with idle connections")


def _crypto(ax: Any, r: dict[str, Any]) -> None:
    labels, ratchet, aead = [], [], []
    for x in r["python"]["results"]:
        labels.append(f"Python\n{x['padded_bytes']} B")
        ratchet.append((x["ratchet_encrypt_s"] + x["ratchet_decrypt_s"]) * 1e6)
        aead.append((x["aead_encrypt_s"] + x["aead_decrypt_s"]) * 1e6)
    for x in r["node"].get("results", []):
        labels.append(f"Node\n{x['padded_bytes']} B")
        ratchet.append(x["ratchet_same_chain_us"])
        aead.append(x["raw_aead_us"])
    positions = range(len(labels))
    ax.bar([p - 0.2 for p in positions], ratchet, width=0.4, label="ratchet encrypt + decrypt")
    ax.bar([p + 0.2 for p in positions], aead, width=0.4, label="raw AEAD encrypt + decrypt")
    ax.set_xticks(list(positions), labels)
    ax.set_ylabel("µs per message")
    ax.set_title("Ratchet vs raw XChaCha20-Poly1305")
    ax.legend()


def _startup(ax: Any, r: dict[str, Any]) -> None:
    labels = [
        "start, empty db",
        "start, large db",
        "GET /api/info",
        "login",
        "login, wrong key",
        "login, unknown handle",
        "Argon2id alone",
    ]
    values = [
        r["first_answer_empty_s"] * 1000,
        r["first_answer_large_s"] * 1000,
        r["info_baseline"]["p50_ms"],
        r["login_known_handle"]["p50_ms"],
        r["login_wrong_key"]["p50_ms"],
        r["login_unknown_handle"]["p50_ms"],
        r["argon2id_verify_in_process"]["p50_ms"],
    ]
    ax.barh(
        labels,
        values,
        color=[
            "tab:grey",
            "tab:blue",
            "tab:grey",
            "tab:blue",
            "tab:blue",
            "tab:blue",
            "tab:orange",
        ],
    )
    ax.set_xscale("log")
    ax.set_xlabel("ms (median)")
    ax.set_title("Start-up and login")


def _soak(ax: Any, r: dict[str, Any]) -> None:
    ax.plot([s["t_s"] / 60 for s in r["samples"]], [s["rss_bytes"] / MIB for s in r["samples"]])
    ax.set_xlabel("minutes")
    ax.set_ylabel("server RSS, MiB")
    ax.set_ylim(bottom=0)
    ax.set_title(
        f"Server memory during the soak (slope after warm-up {r['slope_mib_per_min']:.3f} MiB/min)"
    )


def _scaling(ax: Any, r: dict[str, Any]) -> None:
    names = list(r["setups"])
    rates = [r["setups"][n]["messages_per_s"] for n in names]
    ax.bar(names, rates, color="#4472c4")
    ax.set_ylabel("messages per second (durable)")
    ax.set_title(r["title"], fontsize=10)
    for x, name in enumerate(names):
        p99 = r["setups"][name]["p99_ms"]
        ax.annotate(f"p99 {p99:.0f} ms", (x, rates[x]), ha="center", va="bottom", fontsize=8)


def _groups(ax: Any, r: dict[str, Any]) -> None:
    sizes = [row["members"] for row in r["sizes"]]
    ax.plot(
        sizes,
        [row["cpu_ratio_to_one_to_one"] for row in r["sizes"]],
        marker="o",
        label="server CPU per message",
    )
    ax.plot(
        sizes,
        [row["bytes_ratio_to_one_to_one"] for row in r["sizes"]],
        marker="o",
        label="bytes stored per message",
    )
    ax.axhline(1.0, color="tab:grey", linestyle="--", label="one-to-one message")
    ax.set_xlabel("members")
    ax.set_ylabel("times a one-to-one message")
    ax.set_title("A group message against a one-to-one message, same run")
    ax.legend()


DRAW = {
    "relay": _relay,
    "latency": _latency,
    "connections": _connections,
    "crypto": _crypto,
    "startup": _startup,
    "scaling": _scaling,
    "soak": _soak,
    "groups": _groups,
}


def draw(results_dir: Path, result: dict[str, Any]) -> str | None:
    """Draw the result's plot; the PNG's name, or None without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        DRAW[result["name"]](ax, result)
        fig.tight_layout()
        name = f"{result['name']}.png"
        fig.savefig(results_dir / name)
    finally:
        plt.close(fig)
    return name
