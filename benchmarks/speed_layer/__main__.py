"""`python -m benchmarks.speed_layer`: the speed layer's in-process throughput and DynamoDB writes.

1. Throughput: `SpeedProcessor.handle_event` (the Lambda handler's path) over --records
   real-shaped Kinesis records in batches of --batch-size, with a null counters writer; CPU
   seconds, per-step costs and a cProfile top list.
2. DynamoDB write requests per 10,000 events, ours beside a per-event-update baseline, against
   one private moto server (a free port, never 4566; stopped on exit).
Results go to --out as JSON; the Markdown summary is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks.speed_layer import dynamodb, fixtures, throughput

DEFAULT_OUT = Path("benchmarks/results/speed_layer.json")
GOAL_EVENTS_PER_CORE = 250_000  # issue 18: and at least 10x the old path in the same run


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed_layer", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records for the throughput run [100000]")
    parser.add_argument("--batch-size", type=int, default=1_000, help="records per Lambda event [1000]")
    parser.add_argument("--ddb-events", type=int, default=10_000, help="events for the DynamoDB run [10000]")
    parser.add_argument("--ddb-batch-size", type=int, default=500, help="records per batch against moto [500]")
    parser.add_argument("--baseline-execute", type=int, default=300, help="baseline events actually sent [300]")
    parser.add_argument(
        "--model-batch-sizes",
        default="100,500,1000,10000",
        help="batch sizes for the request model [100,500,1000,10000]",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip cProfile")
    parser.add_argument("--no-dynamodb", action="store_true", help="skip the moto part")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results [{DEFAULT_OUT}]")
    return parser.parse_args(argv)


def log(message: str, _t0: float = time.monotonic()) -> None:
    print(f"[{time.monotonic() - _t0:6.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = " ".join(["python -m benchmarks.speed_layer", *(sys.argv[1:] if argv is None else argv)])
    began, load_start = datetime.now(UTC), os.getloadavg()
    log(f"fixtures: {args.records:,} simulator events, validated as the collector does")
    events = fixtures.normalised_events(args.records)
    lambda_events = fixtures.kinesis_events(events, batch_size=args.batch_size)
    log(f"throughput: {fixtures.record_count(lambda_events):,} records in {len(lambda_events)} Kinesis events")
    # the old path (the collector's validation run again) and the new one, alternating, best of 3 each
    old_runs, new_runs = [], []
    for _ in range(3):
        with throughput.old_path():
            old_runs.append(throughput.handler_run(lambda_events, repeats=1))
        new_runs.append(throughput.handler_run(lambda_events, repeats=1))
    old = min(old_runs, key=lambda r: r["cpu_seconds"])
    run = min(new_runs, key=lambda r: r["cpu_seconds"])
    run["old_path"] = old
    run["speedup_over_old_path"] = round(old["cpu_seconds"] / run["cpu_seconds"], 2)
    log(
        f"  {run['events_per_cpu_second']:,} events/s per core ({run['us_per_record']} µs/record); "
        f"old path {old['events_per_cpu_second']:,} ({run['speedup_over_old_path']}x)"
    )
    stages = throughput.stage_costs(lambda_events)
    profile = None if args.no_profile else throughput.profile_top(lambda_events)
    ddb: dict[str, Any] | None = None
    if not args.no_dynamodb:
        ddb_events = events[: args.ddb_events]
        with dynamodb.private_moto() as settings:
            log(f"dynamodb: ours, {len(ddb_events):,} events in batches of {args.ddb_batch_size}")
            ours = dynamodb.ours(settings, ddb_events, batch_size=args.ddb_batch_size)
            log(f"dynamodb: per-event baseline, {args.baseline_execute} events sent")
            base = dynamodb.baseline(settings, ddb_events, execute=args.baseline_execute)
            base["counters_check"] = dynamodb.same_counters_on_prefix(settings, ddb_events, args.baseline_execute)
        sizes = sorted({int(x) for x in args.model_batch_sizes.split(",")} | {args.ddb_batch_size})
        models = [dynamodb.modelled(ddb_events, batch_size=size) for size in sizes]
        measured_model = next(m for m in models if m["batch_size"] == args.ddb_batch_size)
        ddb = {
            "window_items": dynamodb.window_item_sizes(events, batch_size=args.batch_size),
            "ours": ours,
            "baseline": base,
            "ratio": round(base["write_requests"] / ours["write_requests"], 1),
            "model": models,
            # writes only: the server run also reads the window items its cold process has not written yet
            "model_matches_moto": _writes(measured_model["requests_by_operation"])
            == _writes(ours["requests_by_operation"]),
        }
    report = {
        "benchmark": "speed_layer",
        "command": command,
        "date": began.isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_start": load_start,
            "load_average_end": os.getloadavg(),
        },
        "throughput": run,
        "goal_events_per_core": GOAL_EVENTS_PER_CORE,
        "goal_met": run["events_per_cpu_second"] >= GOAL_EVENTS_PER_CORE,
        "stages_us_per_record": stages,
        "profile_top": profile,
        "dynamodb": ddb,
    }
    print(render(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    log(f"written: {args.out}")
    return 0


def _writes(requests: dict[str, int]) -> dict[str, int]:
    return {op: n for op, n in requests.items() if op in ("put_item", "update_item")}


def render(r: dict[str, Any]) -> str:
    t = r["throughput"]
    lines = [
        f"## Speed layer — {r['date']}  ({r['command']})",
        "",
        f"Throughput (null counters writer): **{t['events_per_cpu_second']:,} events/s per core** "
        f"({t['us_per_record']} µs CPU per record; {t['records']:,} records, {t['batches']} batches, "
        f"{t['cpu_seconds']} s CPU, {t['wall_seconds']} s wall). Goal {r['goal_events_per_core']:,}: "
        f"{'MET' if r['goal_met'] else 'NOT MET'}. The old path (the collector's validation run again), "
        f"alternating with it in the same run: {t['old_path']['events_per_cpu_second']:,} events/s per core "
        f"({t['old_path']['us_per_record']} µs per record): **{t['speedup_over_old_path']}x**.",
        "",
        "| step (timed alone) | µs / record |",
        "|---|---|",
        *[f"| {name} | {us} |" for name, us in r["stages_us_per_record"].items()],
    ]
    if r["profile_top"]:
        lines += ["", "| function (cProfile, own time) | calls | own s | share |", "|---|---|---|---|"]
        lines += [
            f"| {p['function']} | {p['calls']:,} | {p['own_seconds']} | {100 * p['own_share']:.1f} % |"
            for p in r["profile_top"]
        ]
    if r["dynamodb"]:
        ours, base = r["dynamodb"]["ours"], r["dynamodb"]["baseline"]
        lines += [
            "",
            "| writer | events | write requests | per 10k events | wall |",
            "|---|---|---|---|---|",
            f"| ours, batches of {ours['batch_size']} | {ours['events']:,} | {ours['write_requests']:,} | "
            f"{ours['write_requests_per_10k_events']:,} | {ours['wall_seconds']} s |",
            f"| per-event baseline | {base['events']:,} | {base['write_requests']:,} (counted) | "
            f"{base['write_requests_per_10k_events']:,} | {base['executed_wall_seconds']} s for "
            f"{base['executed_events']:,} events sent ({base['ms_per_request']} ms/request) |",
            "",
            f"baseline / ours: **{r['dynamodb']['ratio']}x** the write requests; ours by operation: "
            f"{ours['requests_by_operation']}; baseline counters check: {base['counters_check']}",
            "",
            f"Request model (same events, no server; its writes equal the moto run's at its batch size: "
            f"{r['dynamodb']['model_matches_moto']}):",
            "",
            "| batch size | write requests per 10k events | baseline / ours |",
            "|---|---|---|",
            *[
                f"| {m['batch_size']:,} | {m['write_requests_per_10k_events']:,} | "
                f"{base['write_requests_per_10k_events'] / m['write_requests_per_10k_events']:.1f}x |"
                for m in r["dynamodb"]["model"]
            ],
            "",
            f"Window items after the throughput run's {t['records']:,} records (one per window and shard):",
            "",
            "| resolution | items | largest: bytes | cells | bytes per cell |",
            "|---|---|---|---|---|",
            *[
                f"| {res} | {w['items']:,} | {w['largest_bytes']:,} | {w['largest_cells']:,} | {w['bytes_per_cell']} |"
                for res, w in r["dynamodb"]["window_items"].items()
            ],
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
