"""`python -m benchmarks.batch compaction`: runs the pairs of `compaction.py` and prints a table.

    .venv/bin/python -m benchmarks.batch compaction                  # 2,000,000 events
    .venv/bin/python -m benchmarks.batch compaction --events 10000   # CI smoke
      [--no-spark] [--no-pandas] [--no-s3] [--out benchmarks/results/batch_compaction.json]

Needs nothing running: it starts a private moto server on a free port (never 4566) and stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.batch import compaction as b

DEFAULT_OUT = Path("benchmarks/results/batch_compaction.json")
GOAL_EVENTS_PER_S = 1_000_000


def log(message: str, _t0: float = time.monotonic()) -> None:
    print(f"[{time.monotonic() - _t0:7.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batch compaction", description=b.__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=2_000_000, help="raw events to generate [2000000]")
    p.add_argument("--no-spark", action="store_true")
    p.add_argument("--no-pandas", action="store_true")
    p.add_argument("--no-s3", action="store_true", help="skip the end-to-end runs against moto")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return p.parse_args(argv)


def start_moto(work: Path) -> Any:
    from moto.server import ThreadedMotoServer

    from clickstream import constants as c
    from clickstream.adapters import _clients
    from clickstream.local.provision import provision
    from clickstream.settings import Settings

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        {
            c.ENV_ENDPOINT: f"http://{host}:{port}",
            c.ENV_HOME: str(work / ".clickstream"),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    _clients.reset_cache()
    provision(Settings.from_env())
    return server


def upload(inp: b.Input) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from clickstream.adapters import _clients
    from clickstream.settings import Settings

    settings = Settings.from_env()
    s3 = _clients.client("s3", settings)

    def put(key: str) -> None:
        s3.put_object(Bucket=settings.names.bucket, Key=key, Body=(inp.directory / key).read_bytes())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, inp.keys))


def clear_lake() -> None:
    from clickstream.adapters import _clients
    from clickstream.adapters.s3 import lake_objects
    from clickstream.settings import Settings

    settings = Settings.from_env()
    store = lake_objects(settings)
    for prefix in ("curated/", "quality/", "quarantine/", "staging/"):
        store.delete(list(store.list_keys(prefix)))
    _clients.client("s3", settings)


def row(name: str, seconds: float, inp: b.Input, out_bytes: int, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "seconds": round(seconds, 3),
        "events_per_s": round(inp.events / seconds),
        "raw_mb_per_s": round(inp.raw_bytes / seconds / 1e6, 1),
        "parquet_bytes": out_bytes,
        "parquet_over_raw_gz": round(out_bytes / inp.gz_bytes, 3) if out_bytes else None,
        "parquet_over_raw_json": round(out_bytes / inp.raw_bytes, 3) if out_bytes else None,
        **extra,
    }


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    work = b.scratch()
    results: list[dict[str, Any]] = []
    notes: list[str] = [f"start: {b.load_note()}"]
    server = None
    try:
        log(f"generating {args.events:,} raw events as NDJSON.gz in {work}")
        inp = b.write_input(args.events, b.fresh(work / "raw"))
        log(f"{len(inp.keys)} objects, {inp.raw_bytes / 1e6:.1f} MB NDJSON, {inp.gz_bytes / 1e6:.1f} MB gzip")
        started = time.perf_counter()
        from clickstream.quality.runner import _import_gx

        _import_gx()
        notes.append(
            f"Great Expectations import: {time.perf_counter() - started:.1f} s, once per process (not in the rows)"
        )
        if not args.no_s3:
            server = start_moto(work)
            upload(inp)
            for with_gx in (True, False):
                clear_lake()
                name = "ours-s3" if with_gx else "ours-s3-nogx"
                log(f"{name}: compact_interval against moto")
                seconds, extra = b.timed(lambda g=with_gx, n=name: b.ours_s3(inp, with_gx=g, run_id=f"bench-{n}"))
                results.append(row(name, seconds, inp, extra["parquet_bytes"], extra))
        for with_gx in (True, False):
            name = "ours-local" if with_gx else "ours-local-nogx"
            out = b.fresh(work / name)
            log(f"{name}: the job's steps on the local copy")
            seconds, extra = b.timed(lambda g=with_gx, o=out: b.ours_local(inp, o, with_gx=g))
            results.append(row(name, seconds, inp, b.dir_bytes(out), extra))
        out = work / "duckdb-copy"
        log("duckdb-copy: the reference COPY")
        seconds, extra = b.timed(lambda: b.duckdb_copy(inp, out))
        results.append(row("duckdb-copy", seconds, inp, b.dir_bytes(out), extra))
        if not args.no_spark:
            log("spark: starting local[2]")
            started = time.perf_counter()
            spark = b.spark_session()
            spark.range(1).count()
            startup = time.perf_counter() - started
            notes.append(f"spark JVM/session start: {startup:.1f} s (not in its row)")
            try:
                for attempt in ("spark-cold", "spark-warm"):
                    out = work / attempt
                    log(f"{attempt}: read JSON, filter, dedupe, partitionBy, sort, write")
                    seconds, extra = b.timed(lambda o=out: b.spark_job(spark, inp, o))
                    results.append(row(attempt, seconds, inp, b.dir_bytes(out), extra))
            finally:
                spark.stop()
        if not args.no_pandas:
            out = b.fresh(work / "pandas")
            log("pandas: read_json, masks, drop_duplicates, to_parquet")
            seconds, extra = b.timed(lambda: b.pandas_baseline(inp, out))
            results.append(row("pandas", seconds, inp, b.dir_bytes(out), extra))
    finally:
        if server is not None:
            server.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    notes.append(f"end: {b.load_note()}")
    report = {
        "command": " ".join(["python -m benchmarks.batch compaction", *argv]),
        "events": args.events,
        "objects": len(inp.keys),
        "raw_json_bytes": inp.raw_bytes,
        "raw_gz_bytes": inp.gz_bytes,
        "results": results,
        "notes": notes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    return 0


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\n{report['command']}: {report['events']:,} events, {report['objects']} objects, "
        f"{report['raw_json_bytes'] / 1e6:.1f} MB NDJSON / {report['raw_gz_bytes'] / 1e6:.1f} MB gz\n"
    )
    print(
        "| run | seconds | events/s | raw MB/s | Parquet ÷ raw gz | Parquet ÷ raw JSON | rows out "
        "| RSS before MB | RSS peak MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    by = {r["name"]: r for r in report["results"]}
    for r in report["results"]:
        print(
            f"| {r['name']} | {r['seconds']:.2f} | {r['events_per_s']:,} | {r['raw_mb_per_s']} | "
            f"{r['parquet_over_raw_gz']} | {r['parquet_over_raw_json']} | {r.get('rows_out')} "
            f"| {r.get('rss_start_mb')} | {r.get('rss_peak_mb')} |"
        )
    pairs = (
        ("ours-local", "spark-warm"),
        ("ours-local-nogx", "spark-warm"),
        ("duckdb-copy", "spark-warm"),
        ("ours-local", "duckdb-copy"),
        ("ours-local", "pandas"),
    )
    for ours, peer in pairs:
        if ours in by and peer in by:
            print(f"\n{ours} vs {peer}: {by[peer]['seconds'] / by[ours]['seconds']:.2f}x faster")
    for r in report["results"]:
        if "timings" in r:
            stages = ", ".join(f"{k} {v:.2f}s" for k, v in r["timings"].items())
            print(f"\n{r['name']} stages: {stages}")
    goal = GOAL_EVENTS_PER_S
    best = max((r["events_per_s"] for r in report["results"] if r["name"].startswith("ours")), default=0)
    print(f"\ngoal {goal:,} events/s: best of ours {best:,} events/s ({'met' if best >= goal else 'NOT met'})")
    for note in report["notes"]:
        print(f"note: {note}")
