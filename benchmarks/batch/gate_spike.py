"""Spike: the quality gate evaluated by the engine (issue 17, "the quality gate runs where the data is").

    .venv/bin/python -m benchmarks.batch gate-spike                  # 1,000,000 events, 3 rounds
    .venv/bin/python -m benchmarks.batch gate-spike --events 20000 --rounds 1

On the same typed batch frame the compaction job builds (`compact_parse.parse_objects` over the
compaction benchmark's raw objects: ~1% duplicates, ~1% late, 0.1% failing a rule), in
alternating rounds:

  gx-pandas   what the job runs today: `compact_quality.gx_validator` (GX 1.x, pandas copy,
              COMPLETE result format with the failing rows' `_row`)
  sql         the versioned suite compiled to SQL (`clickstream/quality/compiled.py`, the job's
              gate since ADR 0009): one statement for the failing rows and their rules, one for
              the counts, on the local engine (DuckDB) over the Arrow frame (no copy), plus the
              results JSON and Data Docs GX renders from the counts

The rows each method would quarantine, and the names of the expectations each row failed, must be
identical, or the spike fails. (The spike's first run, recorded in docs/BENCHMARKS.md, timed its
own compiler and the failing-rows statement alone, before the job had one.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pyarrow as pa


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batch gate-spike", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=3)
    return p.parse_args(argv)


FAULTS = {  # column -> a value that breaks a rule, set on every 997th row (offset by the column)
    "user_id": None,
    "event_type": "teleport",
    "price": -1.0,
    "quantity": 0,
    "duration_ms": -5,
    "schema_version": 2,
    "_invalid_types": "http_status",
    "received_at": None,
}


def with_faults(frame: pa.Table) -> pa.Table:
    """The frame with a spread of rule violations beside the generator's own (http_status 777),
    so that the comparison covers every kind of rule. One row in 997 per fault; some overlap."""
    import numpy as np
    import pyarrow.compute as pc

    n = frame.num_rows
    for k, (column, value) in enumerate(FAULTS.items()):
        mask = pa.array((np.arange(n) % 997) == (k * 101) % 997)
        col = frame.column(column)
        frame = frame.set_column(
            frame.schema.get_field_index(column), column, pc.if_else(mask, pa.scalar(value, col.type), col)
        )
    late = pa.array((np.arange(n) % 991) == 7)
    col = frame.column("event_time")
    early = pa.scalar(pc.min(col).as_py().replace(year=2020), col.type)
    return frame.set_column(frame.schema.get_field_index("event_time"), "event_time", pc.if_else(late, early, col))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    from benchmarks.batch import compaction as b
    from clickstream.jobs.compact_parse import gunzip, parse_objects
    from clickstream.jobs.compact_quality import gx_validator, sql_validator
    from clickstream.quality.suite import FRAME_COLUMNS, MAX_EVENT_TIME, MIN_EVENT_TIME

    with tempfile.TemporaryDirectory() as tmp:
        inp = b.write_input(args.events, Path(tmp))
        payloads = [gunzip((inp.directory / k).read_bytes())[0] for k in inp.keys]
    batch = parse_objects(payloads)
    frame = with_faults(batch.frame.select(list(FRAME_COLUMNS)))
    parameters = {
        MIN_EVENT_TIME: (b.START - timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
        MAX_EVENT_TIME: (b.START + timedelta(hours=1, seconds=300)).isoformat().replace("+00:00", "Z"),
    }
    times: dict[str, list[float]] = {"gx-pandas": [], "sql": []}
    verdicts: dict[str, dict[int, list[str]]] = {}
    for i in range(args.rounds):
        order = ("gx-pandas", "sql") if i % 2 == 0 else ("sql", "gx-pandas")
        for name in order:
            t0 = time.perf_counter()
            if name == "sql":
                got = {k: list(v) for k, v in sql_validator(frame, parameters, "spike").failures.items()}
            else:
                got = {k: list(v) for k, v in gx_validator(frame, parameters, "spike").failures.items()}
            times[name].append(time.perf_counter() - t0)
            verdicts[name] = got
            print(f"round {i + 1} {name}: {times[name][-1]:.2f} s, {len(got)} rows failed", file=sys.stderr)
    same = {k: sorted(v) for k, v in verdicts["gx-pandas"].items()} == {
        k: sorted(v) for k, v in verdicts["sql"].items()
    }
    print(f"{frame.num_rows:,} rows; {len(verdicts['sql'])} fail; identical verdicts: {same}")
    print("| method | seconds per run (median) | runs |")
    print("| --- | ---: | --- |")
    for name, runs in times.items():
        print(f"| {name} | {statistics.median(runs):.2f} | {', '.join(f'{t:.2f}' for t in runs)} |")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
