"""`python -m benchmarks.segment`: events/s through /segment/v1/batch beside /v1/events, in one run.

Both routes get the same simulator events in 100-event requests (the SDKs' flush size) from the
ingest benchmark's load generator, against one `clickstream collector serve --null-sink`
server, alternating in rounds so drift on a shared machine hits both. Before the server starts,
the in-process CPU cost per event of each route is measured too (no HTTP), and the mapping's share.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import orjson

from benchmarks.ingest import fixtures as ingest_fixtures
from benchmarks.ingest.scenarios import LoadOptions, Scenario, open_run, run_scenario, start_server, stop_process
from benchmarks.ingest.stats import ScenarioResult, markdown_table
from benchmarks.segment import fixtures
from clickstream.adapters.streams import NullWriter
from clickstream.collector import segment
from clickstream.collector.protocols import ProtocolRequest
from clickstream.collector.service import CollectorService
from clickstream.constants import LOCAL_WRITE_KEY
from clickstream.events.timestamps import format_timestamp
from clickstream.settings import Limits, Settings

DEFAULT_OUT = Path("benchmarks/results/segment.json")
NATIVE, SEGMENT = "/v1/events", "/segment/v1/batch"
HEADERS = {"x-write-key": LOCAL_WRITE_KEY, "content-type": "application/json"}


class _Count:
    """A bad-rows / identities store that only counts (the fixtures should produce none)."""

    def __init__(self) -> None:
        self.rows = 0

    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> None:
        self.rows += len(rows)


def best_pass(work: Callable[[], object], events: int, passes: int) -> float:
    """CPU µs per event of the least-disturbed of `passes` runs of `work` (other load only adds time)."""
    times = []
    for _ in range(passes):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return 1e6 * min(times) / events


def in_process(bodies: Mapping[str, Sequence[bytes]], events: int, passes: int) -> dict[str, float]:
    """CPU µs per event, no HTTP, one core: `CollectorService.handle` (NullWriter) on each route, and the
    Segment route's parsing and parsing + mapping (`segment.read`) alone."""
    bad = _Count()
    service = CollectorService(Settings(), NullWriter(), bad, identities=bad)

    def handle_all(route: str) -> None:
        for body in bodies[route]:
            response = service.handle(route, HEADERS, body)
            if response.status != 200 or response.body.get("rejected"):
                raise RuntimeError(f"{route} answered {response.status}: {response.body}")

    requests = [
        ProtocolRequest(HEADERS, b, "", "POST", LOCAL_WRITE_KEY, Limits(), datetime.now(UTC)) for b in bodies[SEGMENT]
    ]
    for route in bodies:
        handle_all(route)  # warm the caches (user agents, timestamps) before anything is timed
    return {
        "native_us_per_event": best_pass(lambda: handle_all(NATIVE), events, passes),
        "segment_us_per_event": best_pass(lambda: handle_all(SEGMENT), events, passes),
        "segment_parse_us_per_event": best_pass(lambda: [orjson.loads(b) for b in bodies[SEGMENT]], events, passes),
        "segment_parse_and_map_us_per_event": best_pass(lambda: [segment.read(r) for r in requests], events, passes),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.segment", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short windows, one round")
    parser.add_argument("--seconds", type=float, help="measurement window per scenario [10; quick: 3]")
    parser.add_argument("--warmup", type=float, help="warm-up before each window [2; quick: 1]")
    parser.add_argument("--rounds", type=int, help="native/Segment pairs, alternating [3; quick: 1]")
    parser.add_argument("--concurrency", type=int, default=16, help="connections [16]")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes [2]")
    parser.add_argument("--events", type=int, default=10_000, help="distinct simulator events [10000]")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results [{DEFAULT_OUT}]")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


def _terminate(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # run the `finally` blocks that stop our processes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    command = " ".join(["python -m benchmarks.segment", *(sys.argv[1:] if argv is None else argv)])
    began, clock, load_start = datetime.now(UTC), time.monotonic(), os.getloadavg()
    source, events = ingest_fixtures.make_events(args.events, start=began - timedelta(hours=1))
    bodies = {
        NATIVE: fixtures.native_batches(events),
        SEGMENT: fixtures.segment_batches(events, sent_at=format_timestamp(began)),
    }
    sizes = [min(fixtures.BATCH_SIZE, len(events) - i) for i in range(0, len(events), fixtures.BATCH_SIZE)]
    log(
        f"fixtures: {len(events):,} {source} events; mean body {_mean(bodies[NATIVE]):,.0f} B native, "
        f"{_mean(bodies[SEGMENT]):,.0f} B Segment"
    )
    cost = in_process(bodies, len(events), passes=3 if args.quick else 7)
    log("in-process CPU µs/event: " + ", ".join(f"{k} {v:.1f}" for k, v in cost.items()))
    opts = LoadOptions(seconds=args.seconds, warmup=args.warmup, concurrency=args.concurrency, workers=args.workers)
    results: list[ScenarioResult] = []
    with open_run() as run:
        paths = {route: run.tmp / f"fixtures{route.replace('/', '-')}.pickle" for route in bodies}
        for route, path in paths.items():
            fixtures.save(bodies[route], sizes, path)
        proc, port = start_server(run, "ours-null", args.workers)
        for n in range(1, args.rounds + 1):
            for key, route, label in (("n", NATIVE, "native"), ("s", SEGMENT, "Segment")):
                title = f"{label} {route}, 100/req, null sink (round {n})"
                scenario = Scenario(f"{key}{n}", title, "clickstream", "ours-null", route, "batches", "null")
                run.fixtures_path = paths[route]
                log(f"scenario {scenario.key}: {title} ...")
                result = run_scenario(run, scenario, opts, server=proc, port=port)
                results.append(replace(result, events_per_request=fixtures.BATCH_SIZE))
                log(f"  {result.events_per_s:,.0f} events/s, non-2xx {result.load.errors}")
        stop_process(run, proc)
    native, segment_rate = _rate(results, NATIVE), _rate(results, SEGMENT)
    print(markdown_table(results))
    print(
        f"\n- Segment ÷ native, all rounds (acked events/s): {segment_rate / native:.2f}x "
        f"({segment_rate:,.0f} vs {native:,.0f})"
    )
    print(
        f"- in-process CPU per event (best of passes, no HTTP): native {cost['native_us_per_event']:.1f} µs, "
        f"Segment {cost['segment_us_per_event']:.1f} µs, of which parsing the Segment JSON "
        f"{cost['segment_parse_us_per_event']:.1f} µs and parsing + mapping (segment.read) "
        f"{cost['segment_parse_and_map_us_per_event']:.1f} µs"
    )
    report = {
        "benchmark": "segment",
        "command": command,
        "date": began.isoformat(timespec="seconds"),
        "wall_seconds": round(time.monotonic() - clock, 1),
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "options": {k: v for k, v in vars(args).items() if k != "out"},
        "fixtures": {
            "source": source,
            "events": len(events),
            "mean_body_bytes": {r: _mean(b) for r, b in bodies.items()},
        },
        "in_process": cost,
        "scenarios": [r.as_dict() for r in results],
        "segment_over_native": segment_rate / native,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    log(f"written: {args.out}")
    return 0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _rate(results: Sequence[ScenarioResult], route: str) -> float:
    """Acknowledged events per second of `route` over all its windows."""
    mine = [r for r in results if r.route == route]
    return sum(r.load.events for r in mine) / sum(r.load.seconds for r in mine)


def _mean(bodies: Sequence[bytes]) -> float:
    return sum(map(len, bodies)) / len(bodies)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: every process this run started has been stopped", file=sys.stderr)
        sys.exit(130)
