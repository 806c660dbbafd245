"""`python -m benchmarks.ingest`: measure ingest throughput, ours beside a naive peer, in one run.

Starts a private moto server, runs each scenario (a real collector server process, load from
a separate generator process), profiles the hot path in-process, prints a Markdown table and
ratios, and writes everything to --out as JSON. Every process it starts is stopped on the way
out, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import orjson
import psutil

from benchmarks.ingest import fixtures
from benchmarks.ingest.profile import profile_batched
from benchmarks.ingest.report import goal_check, render
from benchmarks.ingest.scenarios import SCENARIOS, LoadOptions, open_run, run_all
from benchmarks.ingest.stats import ratios

DEFAULT_OUT = Path("benchmarks/results/ingest.json")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short windows (whole run under a minute)")
    parser.add_argument("--seconds", type=float, help="measurement window per scenario [12; quick: 3]")
    parser.add_argument("--warmup", type=float, help="warm-up before each window [3; quick: 1]")
    parser.add_argument("--concurrency", type=int, default=16, help="connections (or writer threads) [16]")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes [2]")
    parser.add_argument("--events", type=int, help="distinct fixture events [10000; quick: 5000]")
    parser.add_argument("--fixtures", choices=("auto", "simulator", "builtin"), default="auto")
    parser.add_argument("--only", help="comma-separated scenario keys, e.g. a,b,e1 (default: all)")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process cProfile step")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results [{DEFAULT_OUT}]")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (3.0 if args.quick else 12.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    args.events = args.events or (5_000 if args.quick else 10_000)
    args.profile_seconds = 2.0 if args.quick else 5.0
    return args


def _terminate(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # run the `finally` blocks that stop our processes


class _Log:
    """Progress on stderr, stamped with the seconds since the run began."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.t0:5.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _log = _Log()
    signal.signal(signal.SIGTERM, _terminate)
    command = " ".join(["python -m benchmarks.ingest", *(sys.argv[1:] if argv is None else argv)])
    only = set(args.only.split(",")) if args.only else None
    chosen = [s for s in SCENARIOS if only is None or s.key in only]
    opts = LoadOptions(seconds=args.seconds, warmup=args.warmup, concurrency=args.concurrency, workers=args.workers)
    began, clock = datetime.now(UTC), time.monotonic()
    load_start = os.getloadavg()

    source, events = fixtures.make_events(args.events, start=began - timedelta(hours=1), source=args.fixtures)
    fx = fixtures.build_fixtures(events, source)
    _log(f"fixtures: {len(events):,} events from the {source}, {len(fx.batches)} batch bodies")
    profile: dict[str, Any] | None = None
    with open_run() as run:
        fixtures.save(fx, run.fixtures_path)
        _log(f"moto: {run.endpoint}")
        results = {r.key: r for r in run_all(run, chosen, opts, _log)}
    if not args.no_profile:
        _log(f"profile: null-sink batched path in-process, {args.profile_seconds:.0f}s")
        profile = profile_batched(fx.batches, seconds=args.profile_seconds)

    ordered = [results[k] for k in sorted(results)]
    ratio_list = ratios(results)
    goal = goal_check(results, profile)
    print(render(ordered, ratio_list, goal, profile))
    report = {
        "benchmark": "ingest",
        "command": command,
        "date": began.isoformat(timespec="seconds"),
        "wall_seconds": round(time.monotonic() - clock, 1),
        "machine": _machine(load_start),
        "options": {k: v for k, v in vars(args).items() if k != "out"},
        "fixtures": {
            "source": source,
            "events": len(events),
            "batch_body_bytes_mean": sum(map(len, fx.batches)) / len(fx.batches),
            "single_body_bytes_mean": sum(map(len, fx.singles)) / len(fx.singles),
        },
        "scenarios": [r.as_dict() for r in ordered],
        "ratios": [vars(r) for r in ratio_list],
        "goal": goal,
        "profile": profile,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    _log(f"\nwritten: {args.out}  ({report['wall_seconds']}s)")
    return 0


def _machine(load_start: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "cpus_logical": psutil.cpu_count(logical=True),
        "cpus_physical": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "note": "the load generator and moto share the machine with the collector",
    }


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the `finally` blocks have stopped every process of the run by now
        print("\ninterrupted: every process this run started has been stopped", file=sys.stderr)
        sys.exit(130)
