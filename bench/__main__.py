"""`python -m bench`: run the benchmarks and write bench/results/.

    python -m bench                 every benchmark (about 15 minutes on 2 cores)
    python -m bench --quick         shorter runs and a smaller database (about 2 minutes)
    python -m bench --only relay,latency
    python -m bench --soak --soak-minutes 10

Each benchmark starts its own processes on 127.0.0.1 and stops them; the
scratch directory (databases, logs) is removed at the end unless --keep.
"""

import argparse
import datetime
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    connections_bench,
    crypto_compare,
    groups_bench,
    jobs,
    latency_bench,
    relay_bench,
    report,
    scaling_bench,
    soak_bench,
    startup_bench,
)
from bench.context import Context, loadavg, machine, progress

BENCHMARKS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "relay": relay_bench.run,
    "latency": latency_bench.run,
    "connections": connections_bench.run,
    "crypto": crypto_compare.run,
    "startup": startup_bench.run,
    "scaling": scaling_bench.run,
    "groups": groups_bench.run,
}
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (about 2 minutes)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of {','.join(BENCHMARKS)}"
    )
    parser.add_argument("--soak", action="store_true", help="run only the memory soak")
    parser.add_argument("--soak-minutes", type=float, default=10.0, help="soak length (default 10)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where results are written")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if not 0 < args.soak_minutes <= jobs.MAX_SECONDS / 60:
        parser.error(f"--soak-minutes must be more than 0 and at most {jobs.MAX_SECONDS / 60:g}")
    args.names = ["soak"] if args.soak else (names or list(BENCHMARKS))
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="quietline-bench-"))
    ctx = Context(quick=args.quick, work=work, soak_minutes=args.soak_minutes)
    runners = {**BENCHMARKS, "soak": soak_bench.run}
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    failed = []
    try:
        for name in args.names:
            progress(f"{name} ...")
            before = machine()
            clock = time.monotonic()
            try:
                result = runners[name](ctx)
            except Exception as error:
                progress(f"{name} failed: {error}")
                failed.append(name)
                continue
            result["run"] = {
                "started": started,
                "quick": args.quick,
                "machine": before,
                "loadavg_after": loadavg(),
                "seconds": time.monotonic() - clock,
            }
            report.write(args.results, result)
            progress(f"{name} done in {result['run']['seconds']:.0f} s")
    finally:
        if args.keep:
            progress(f"scratch kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    path = report.summary(args.results)
    progress(f"summary: {path}")
    if failed:
        progress(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
