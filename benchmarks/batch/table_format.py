"""Table-format spike (docs/adr/0008-curated-table-format.md): a late delta published into one
curated partition two ways, side by side against the embedded AWS server (S3 + Glue).

    .venv/bin/python -m benchmarks.batch table-format                      # 1,000,000 rows, 1,000 late
    .venv/bin/python -m benchmarks.batch table-format --rows 200000 --late 500 --rounds 3

  rewrite   what `compact_raw_events` does today: download the partition's Parquet, add the new rows
            (`compact_write.merge_partition`: anti-join on event_id, sort), encode every file again and
            PUT each back under the same key.
  version   a new version prefix per publish: read the partition's event_id column only, anti-join
            the delta, write ONE delta file under the new prefix, server-side CopyObject of the
            current files beside it, then swap the Glue partition's location (UpdatePartition).

Each round publishes the same delta into a fresh copy of the partition with each method, in
alternating order. Reported per method: wall seconds, bytes through the worker (downloaded +
uploaded; a server-side copy moves none) and what a reader racing the publish saw: it reads the
partition's file list over and over (rewrite: the prefix's objects and their ETags; version: the
Glue location, then its objects) and counts each as the files before the publish, the files
after it, or a mix of old and new files (a reader then would read some rows twice or not at all).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.ingest.procs import child_env, free_port, python, start, stop, wait_http

BUCKET = "spike-lake"
DATABASE = "spike"
TABLE = "events"
HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
FILE_ROWS = 250_000  # several files per partition, so a reader can see a half-replaced one


def rows(n: int, *, first_id: int, seed: int) -> pa.Table:
    """`n` curated rows (every column of the curated schema) in HOUR, event ids from `first_id`."""
    from clickstream.jobs.compact_write import CURATED_SCHEMA

    rng = np.random.default_rng(seed)
    at = pa.array(
        [HOUR + timedelta(milliseconds=int(ms)) for ms in rng.integers(0, 3_600_000, n)], pa.timestamp("us", tz="UTC")
    )
    users = rng.integers(0, max(1, n // 40), n)
    data: dict[str, Any] = {
        "event_id": [f"e{first_id + i:012d}" for i in range(n)],
        "event_type": rng.choice(["page_view", "click", "add_to_cart", "purchase"], n).tolist(),
        "user_id": [f"u{u}" for u in users],
        "session_id": [f"s{u}-{int(s)}" for u, s in zip(users, rng.integers(0, 3, n), strict=True)],
        "event_time": at,
        "url": [f"/p/{int(p)}" for p in rng.integers(0, 500, n)],
        "http_status": pa.array(np.full(n, 200, np.int16)),
        "received_at": at,
        "schema_version": pa.array(np.ones(n, np.int8)),
    }
    columns = [data[f.name] if f.name in data else pa.nulls(n, f.type) for f in CURATED_SCHEMA]
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, CURATED_SCHEMA, strict=True)], schema=CURATED_SCHEMA
    )


class Lake:
    def __init__(self, endpoint: str, home: Path) -> None:
        # the project's own client factory and S3 filesystem, pointed at the benchmark's server
        from benchmarks.aws_server.__main__ import settings_for
        from clickstream.adapters import _clients
        from clickstream.adapters.query import s3_filesystem

        settings = settings_for(endpoint, home)
        self.s3, self.glue = _clients.client("s3", settings), _clients.client("glue", settings)
        self.fs = s3_filesystem(settings)
        self.s3.create_bucket(Bucket=BUCKET)
        self.glue.create_database(DatabaseInput={"Name": DATABASE})
        self.glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": TABLE,
                "PartitionKeys": [{"Name": "dt", "Type": "string"}, {"Name": "hour", "Type": "string"}],
                "StorageDescriptor": {
                    "Columns": [{"Name": "event_id", "Type": "string"}],
                    "Location": f"s3://{BUCKET}/curated/{TABLE}/",
                },
            },
        )
        self.moved = 0  # bytes downloaded + uploaded by this process

    def keys(self, prefix: str) -> list[str]:
        out = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for o in out.get("Contents", []))

    def get(self, key: str) -> bytes:
        body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        self.moved += len(body)
        return bytes(body)

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        self.moved += len(body)

    def set_location(self, values: list[str], prefix: str, *, create: bool = False) -> None:
        partition = {"Values": values, "StorageDescriptor": {"Location": f"s3://{BUCKET}/{prefix}"}}
        if create:
            self.glue.create_partition(DatabaseName=DATABASE, TableName=TABLE, PartitionInput=partition)
        else:
            self.glue.update_partition(
                DatabaseName=DATABASE, TableName=TABLE, PartitionValueList=values, PartitionInput=partition
            )

    def location(self, values: list[str]) -> str:
        got = self.glue.get_partition(DatabaseName=DATABASE, TableName=TABLE, PartitionValues=values)
        return str(got["Partition"]["StorageDescriptor"]["Location"]).removeprefix(f"s3://{BUCKET}/")


def seed(lake: Lake, prefix: str, table: pa.Table) -> None:
    from clickstream.jobs.compact_write import file_name, parquet_files, sort_rows

    for i, blob in enumerate(parquet_files(sort_rows(table), max_rows=FILE_ROWS)):
        lake.s3.put_object(Bucket=BUCKET, Key=f"{prefix}{file_name(i)}", Body=blob)


def publish_rewrite(lake: Lake, prefix: str, delta: pa.Table) -> int:
    from clickstream.jobs.compact_write import file_name, merge_partition, parquet_files, read_parquet

    existing = read_parquet(lake.get(k) for k in lake.keys(prefix))
    merged, _ = merge_partition(existing, delta)
    for i, blob in enumerate(parquet_files(merged, max_rows=FILE_ROWS)):
        lake.put(f"{prefix}{file_name(i)}", blob)
    return merged.num_rows


def publish_version(lake: Lake, values: list[str], base: str, version: int, delta: pa.Table) -> int:
    from clickstream.jobs.compact_write import file_name, parquet_files, sort_rows, to_curated

    current = lake.location(values)
    files = lake.keys(current)
    known_ids = []
    for key in files:  # the event_id column chunks only (range reads through pyarrow's S3 filesystem)
        meta = pq.ParquetFile(lake.fs.open_input_file(f"{BUCKET}/{key}")).metadata
        index = meta.schema.names.index("event_id")
        lake.moved += sum(meta.row_group(g).column(index).total_compressed_size for g in range(meta.num_row_groups))
        known_ids.append(pq.read_table(f"{BUCKET}/{key}", filesystem=lake.fs, columns=["event_id"]).column(0))
    known = pa.chunked_array([c for col in known_ids for c in col.chunks], pa.string())
    fresh = to_curated(delta).filter(pc.invert(pc.is_in(delta.column("event_id"), value_set=known)))
    target = f"{base}v={version:06d}/"
    for key in files:
        lake.s3.copy_object(
            Bucket=BUCKET, Key=f"{target}{key.rsplit('/', 1)[1]}", CopySource={"Bucket": BUCKET, "Key": key}
        )
    if fresh.num_rows:
        (blob,) = parquet_files(sort_rows(fresh), max_rows=max(1, fresh.num_rows))
        lake.put(f"{target}delta-{file_name(version)}", blob)
    lake.set_location(values, target)
    return fresh.num_rows


def count(lake: Lake, prefix: str) -> int:
    return sum(pq.read_metadata(f"{BUCKET}/{k}", filesystem=lake.fs).num_rows for k in lake.keys(prefix))


State = frozenset[tuple[str, str]]  # (key, ETag) of every file a reader would read


def files_of(lake: Lake, prefix: str) -> State:
    out = lake.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return frozenset((o["Key"], o["ETag"]) for o in out.get("Contents", []))


def race(read: Callable[[], State], publish: Callable[[], None]) -> tuple[float, dict[str, int]]:
    """Publish while a reader keeps resolving the files it would read; each read is the state
    before the publish, the state after it, or a mix of old and new files."""
    before = read()
    seen: list[State] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.append(read())

    thread = threading.Thread(target=reader)
    thread.start()
    began = time.perf_counter()
    try:
        publish()
    finally:
        elapsed = time.perf_counter() - began
        done.set()
        thread.join()
    after = read()
    kinds = {"old": 0, "new": 0, "mix": 0}
    for state in seen:
        kinds["old" if state == before else "new" if state == after else "mix"] += 1
    return elapsed, kinds


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batch table-format", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows already in the partition [1,000,000]")
    p.add_argument(
        "--late", type=int, default=1_000, help="late rows to publish, half of them copies of published ones [1,000]"
    )
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per method [3]")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/table_format.json"))
    args = p.parse_args(argv)

    base = rows(args.rows, first_id=0, seed=1)
    fresh = rows(args.late - args.late // 2, first_id=args.rows, seed=2)
    copies = base.slice(0, args.late // 2)
    delta = pa.concat_tables([fresh, copies])
    after = args.rows + fresh.num_rows
    os.environ.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    results: dict[str, list[dict[str, Any]]] = {"rewrite": [], "version": []}
    with tempfile.TemporaryDirectory(prefix="spike-table-") as tmp:
        server = start(
            "aws",
            [python(), "-m", "clickstream.emulated.aws_server", "-H", "127.0.0.1", "-p", str(port)],
            env=child_env({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}),
            log=Path(tmp) / "aws.log",
        )
        try:
            wait_http(f"{endpoint}/moto-api/", server)
            lake = Lake(endpoint, Path(tmp))
            for r in range(args.rounds):
                order = ["rewrite", "version"] if r % 2 == 0 else ["version", "rewrite"]
                for method in order:
                    values = [f"2026-11-{10 + r:02d}-{method}", "10"]
                    prefix = f"curated/{TABLE}/dt={values[0]}/hour=10/"
                    if method == "rewrite":
                        seed(lake, prefix, base)
                        lake.moved = 0
                        elapsed, seen = race(
                            lambda p=prefix: files_of(lake, p),
                            lambda p=prefix: publish_rewrite(lake, p, delta) and None,
                        )
                        final = count(lake, prefix)
                    else:
                        first = f"{prefix}v=000000/"
                        seed(lake, first, base)
                        lake.set_location(values, first, create=True)
                        lake.moved = 0
                        elapsed, seen = race(
                            lambda v=values: files_of(lake, lake.location(v)),
                            lambda v=values, p=prefix: publish_version(lake, v, p, 1, delta) and None,
                        )
                        final = count(lake, lake.location(values))
                    assert final == after, f"{method}: {final} rows after the publish, expected {after}"
                    results[method].append({"seconds": elapsed, "bytes": lake.moved, "reads": seen})
                    print(
                        f"round {r + 1} {method:<8} {elapsed:7.2f} s  {lake.moved / 1e6:8.1f} MB  reads {seen}",
                        flush=True,
                    )
        finally:
            stop(server)
    summary = {
        m: {
            "median_s": round(statistics.median(x["seconds"] for x in runs), 3),
            "median_mb": round(statistics.median(x["bytes"] for x in runs) / 1e6, 2),
            "reads": {k: sum(x["reads"][k] for x in runs) for k in ("old", "new", "mix")},
        }
        for m, runs in results.items()
    }
    ratio = summary["rewrite"]["median_s"] / summary["version"]["median_s"]
    print(json.dumps(summary, indent=2))
    print(f"rewrite / version wall time: {ratio:.1f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "rows": args.rows,
                "late": args.late,
                "rounds": args.rounds,
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "summary": summary,
                "runs": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
