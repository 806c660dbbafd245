"""One metric file against an earlier version of itself, on the same data, in alternating rounds.

    .venv/bin/python -m benchmarks.batch sql-ab sessions --before fc367b6 --events 2000000
      [--rounds 3] [--data DIR]

The earlier version is `git show <before>:sql/metrics/<name>.sql` with the includes it names as they
were at `<before>` (`git show <before>:sql/include/…`), rendered the way the job renders today's
(the same days): so a change to an include (`include/sessionize.sql`) is measured too. Both run on `LocalEngine.over` over the metrics
benchmark's synthetic events (`benchmarks.batch.metrics.synthetic`, local Parquet), in alternating
order; the results must be equal, row for row, or the run fails.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batch sql-ab", description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="the metric file: sql/metrics/<name>.sql")
    p.add_argument("--before", required=True, help="the git revision holding the earlier version")
    p.add_argument("--events", type=int, default=2_000_000, help="events to generate (unless --data has them)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", type=Path, help="reuse (or keep) the generated Parquet here")
    args = p.parse_args(argv)

    from benchmarks.batch.metrics import END, START, synthetic, write_lake
    from clickstream.adapters.query.local import LocalEngine
    from clickstream.jobs.batch_metrics import metric_sql
    from clickstream.sqlfiles import INCLUDE, render

    old_text = subprocess.run(
        ["git", "show", f"{args.before}:sql/metrics/{args.name}.sql"], check=True, capture_output=True, text=True
    ).stdout

    def earlier(match: re.Match[str]) -> str:  # the fragment as it was at --before
        rel = match.group(1)
        shown = subprocess.run(["git", "show", f"{args.before}:sql/{rel}"], check=True, capture_output=True, text=True)
        return shown.stdout

    old_text = INCLUDE.sub(earlier, old_text)
    dates = {"start_dt": START.isoformat(), "end_dt": END.isoformat()}
    versions = {"before": render(old_text, dates), "now": metric_sql(args.name, START, END)}
    root = args.data or Path(tempfile.mkdtemp(prefix="bench-sql-ab-"))
    try:
        if not any(root.glob("dt=*")):
            write_lake(synthetic(args.events), root)
        engine = LocalEngine.over({"events": root})
        events = engine.execute("SELECT count(*) AS n FROM events").column("n")[0].as_py()
        times: dict[str, list[float]] = {k: [] for k in versions}
        results = {}
        for r in range(args.rounds):
            order = list(versions) if r % 2 == 0 else list(versions)[::-1]
            for which in order:
                began = time.perf_counter()
                results[which] = engine.execute(versions[which])
                times[which].append(time.perf_counter() - began)
                print(f"round {r + 1} {which:<6} {times[which][-1]:7.2f} s", flush=True)
        before, now = results["before"], results["now"]
        if not before.equals(now.cast(before.schema)):
            print(f"the results differ: {before.num_rows} rows before, {now.num_rows} now")
            return 1
        b, n = statistics.median(times["before"]), statistics.median(times["now"])
        print(f"{args.name}: {events:,} events, {now.num_rows:,} rows, equal results")
        print(f"median before {b:.2f} s, now {n:.2f} s: {b / n:.2f}x")
    finally:
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
