"""`python -m benchmarks.batch parquet-size`: the curated Parquet's size against the raw JSON, by encoding.

    .venv/bin/python -m benchmarks.batch parquet-size                 # 1,000,000 events
    .venv/bin/python -m benchmarks.batch parquet-size --events 20000

The compaction benchmark's raw events are parsed, deduplicated, split by hour and sorted as the
job does them, then encoded with each candidate (zstd level, row-group size) and the job's current
settings (`compact_write`); for each: total Parquet bytes, ÷ raw JSON, and encoding seconds.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("before: zstd at pyarrow's default level, row groups of 128 Ki rows", {"row_group_size": 128 * 1024}),
    ("zstd 3, row groups of 128 Ki rows", {"compression_level": 3, "row_group_size": 128 * 1024}),
    ("zstd 9, row groups of 128 Ki rows", {"compression_level": 9, "row_group_size": 128 * 1024}),
    ("zstd 3, row groups of 512 Ki rows", {"compression_level": 3, "row_group_size": 512 * 1024}),
    ("zstd 3, one row group per file (1 M rows)", {"compression_level": 3, "row_group_size": 1_000_000}),
    ("zstd 5, one row group per file", {"compression_level": 5, "row_group_size": 1_000_000}),
    ("zstd 7, one row group per file", {"compression_level": 7, "row_group_size": 1_000_000}),
    ("zstd 9, one row group per file", {"compression_level": 9, "row_group_size": 1_000_000}),
)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batch parquet-size", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    args = p.parse_args(argv)
    import pyarrow.parquet as pq

    from benchmarks.batch import compaction as b
    from clickstream.jobs import compact_write as w
    from clickstream.jobs.compact_parse import gunzip, parse_objects

    with tempfile.TemporaryDirectory() as tmp:
        inp = b.write_input(args.events, Path(tmp))
        payloads = [gunzip((inp.directory / k).read_bytes())[0] for k in inp.keys]
    unique, _ = w.first_seen(parse_objects(payloads).frame)
    tables = [w.sort_rows(w.to_curated(t)) for t in w.split_by_hour(unique).values()]
    print(f"{args.events:,} events, raw JSON {inp.raw_bytes / 1e6:.1f} MB, {len(tables)} partitions")
    print("| encoding | Parquet | ÷ raw JSON | encoding seconds |")
    print("| --- | ---: | ---: | ---: |")
    job = {"compression_level": w.COMPRESSION_LEVEL, "row_group_size": w.ROW_GROUP_ROWS}
    for label, options in (*CANDIDATES, ("the job's settings (compact_write)", job)):
        t0 = time.perf_counter()
        size = 0
        for table in tables:
            sink = io.BytesIO()
            pq.write_table(table, sink, compression=w.COMPRESSION, **options)
            size += sink.getbuffer().nbytes
        seconds = time.perf_counter() - t0
        print(f"| {label} | {size / 1e6:.2f} MB | {100 * size / inp.raw_bytes:.2f} % | {seconds:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
