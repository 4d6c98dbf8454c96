"""Ratchet encrypt+decrypt per message in Python and in Node, against raw XChaCha20-Poly1305.

The two crypto benchmarks exist beside this file: bench/crypto_bench.py
(`run(duration_s)`) and bench/crypto_bench.mjs (prints JSON; BENCH_MESSAGES
sets its sample size). Each measures the ratchet and the bare AEAD on the
same padded bytes in the same process; this runs both and keeps their output.
"""

import json
import shutil
import subprocess
from typing import Any

from bench import crypto_bench, processes
from bench.context import Context, progress

NODE_TIMEOUT = 300


def _node(messages: int) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        return {"error": "node is not installed; run `make deps` on a machine with Node 20"}
    done = subprocess.run(
        [node, "bench/crypto_bench.mjs"],
        cwd=processes.REPO_ROOT,
        env=processes.child_environment({"BENCH_MESSAGES": str(messages)}),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        return {"error": f"bench/crypto_bench.mjs failed: {done.stderr.strip()[-1000:]}"}
    return json.loads(done.stdout)


def run(ctx: Context) -> dict[str, Any]:
    progress("crypto: Python")
    python = crypto_bench.run(ctx.pick(2.0, 8.0))
    progress("crypto: Node")
    node = _node(ctx.pick(300, 2000))
    return {
        "name": "crypto",
        "title": "Ratchet vs raw AEAD per message",
        "python": python,
        "node": node,
        "targets": [],
    }
