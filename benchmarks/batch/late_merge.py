"""`python -m benchmarks.batch late-merge`: a late raw object merged into a compacted hour, by the
job itself, this tree beside an older one (docs/adr/0008-curated-table-format.md).

    .venv/bin/python -m benchmarks.batch late-merge --before efb9aeb            # 1,000,000 events
    .venv/bin/python -m benchmarks.batch late-merge --before efb9aeb --events 20000 --rounds 1

Each round, for each tree (alternating, each in its own process and private moto server):
1. `--events` events of arrival hour 10 (the compaction benchmark's generator) are compacted;
2. a late object lands under arrival hour 10: `--late` new events of that hour and half as many
   copies of published ones (producer retries);
3. hour 11's run compacts it (`compact_interval`, the late-object lookback). That run is timed.
The quality gate is a no-op in both trees, so the figure is the merge and the publish.
"before" runs the same script with `PYTHONPATH` on a git worktree of `--before`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batch late-merge", description=__doc__.split("\n\n")[0])
    p.add_argument("--before", required=True, help="git revision to compare with (e.g. efb9aeb)")
    p.add_argument("--events", type=int, default=1_000_000, help="events compacted into hour 10 first")
    p.add_argument("--late", type=int, default=1000, help="new events in the late object (plus half as many copies)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of (before, after), alternating")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def child(events: int, late: int) -> dict[str, Any]:
    """One scenario in this process (whatever `clickstream` PYTHONPATH gives): prints its figures."""
    from benchmarks.batch import compaction as b
    from benchmarks.batch.compaction_run import start_moto, upload
    from clickstream.adapters import _clients
    from clickstream.emulated.firehose.batching import KINESIS_SEQUENCE_DIGITS, MS_PER_HOUR, object_key
    from clickstream.jobs.compact import compact_interval
    from clickstream.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="late-merge-"))
    server = start_moto(work)
    try:
        inp = b.write_input(events, work / "raw")
        upload(inp)
        settings = Settings.from_env()
        first = compact_interval(settings, b.START, b.START + timedelta(hours=1), run_id="h10", gate=False)
        copies = gzip.decompress((inp.directory / inp.keys[0]).read_bytes()).splitlines()[: late // 2]
        fresh = list(b.raw_lines(late, seed=99))
        hour = int(b.START.timestamp() * 1000) // MS_PER_HOUR
        key = object_key("bench", "shardId-000000000000", hour, events + 1, digits=KINESIS_SEQUENCE_DIGITS)
        body = gzip.compress(b"".join(line + b"\n" for line in fresh + copies), mtime=0)
        _clients.client("s3", settings).put_object(Bucket=settings.names.bucket, Key=key, Body=body)
        start = b.START + timedelta(hours=1)
        t0 = time.perf_counter()
        report = compact_interval(settings, start, start + timedelta(hours=1), run_id="h11", gate=False)
        seconds = time.perf_counter() - t0
        return {
            "first_publish_s": round(first.elapsed, 3),
            "late_merge_s": round(seconds, 3),
            "late_objects": report.late_objects,
            "published": report.published,
            "duplicates": report.duplicates,
            "files_written": report.files,
            "parquet_bytes_written": report.parquet_bytes,
            "timings": {k: round(v, 3) for k, v in report.timings.items()},
        }
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def run_tree(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # its clickstream and benchmarks, not this tree's
    cmd = [sys.executable, str(ROOT / "benchmarks" / "batch" / "late_merge.py"), "--child", "--before", "-",
           "--events", str(args.events), "--late", str(args.late)]  # fmt: skip
    out = subprocess.run(cmd, env=env, cwd=tree, check=False, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"the {tree} run failed:\n{out.stderr[-3000:]}")
    figures = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    figures["tree_has_versions"] = (tree / "clickstream" / "jobs" / "curated_versions.py").exists()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        print(json.dumps(child(args.events, args.late)))
        return 0
    worktree = Path(tempfile.mkdtemp(prefix="late-merge-before-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.before], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    try:
        for i in range(args.rounds):
            pairs = (("before", worktree), ("after", ROOT))
            for name, tree in pairs if i % 2 == 0 else pairs[::-1]:
                results[name].append(run_tree(tree, args))
                print(f"round {i + 1} {name}: {json.dumps(results[name][-1])}", file=sys.stderr, flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
    print(f"late merge of {args.late:,} new events (+{args.late // 2:,} copies) into an hour of {args.events:,}; "
          f"medians of {args.rounds} rounds")  # fmt: skip
    print("| tree | late-merge run (s) | files written | Parquet bytes written | new rows | duplicates |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, label in (("before", args.before), ("after", "this tree")):
        rows = results[name]
        print(
            f"| {label} | {statistics.median(r['late_merge_s'] for r in rows):.2f} "
            f"| {rows[0]['files_written']} | {rows[0]['parquet_bytes_written']:,} "
            f"| {rows[0]['published']:,} | {rows[0]['duplicates']:,} |"
        )
    return 0


if __name__ == "__main__":  # run by path: as a child, the packages come from PYTHONPATH
    raise SystemExit(main())
