"""The Iceberg side of the table-format spike (docs/adr/0008-curated-table-format.md), kept to
reproduce its figures. pyiceberg is NOT in the lock (the ADR rejects Iceberg for now); install
it beside the venv first, without touching the venv's own pins:

    .venv/bin/pip install --no-deps --target /tmp/icelib pyiceberg==0.12.0 mmh3==5.3.1 \\
        pyroaring==1.2.0 strictyaml==1.7.3 zstandard==0.25.0
    PYTHONPATH=/tmp/icelib .venv/bin/python -m benchmarks.batch.iceberg_spike [--rows N] [--late N]

The same partition and delta as `python -m benchmarks.batch table-format` (one hour of curated
rows, a late delta half made of copies), on a local warehouse with a SQLite catalog (Iceberg v2,
identity partitions dt and hour): the delta published by an anti-join on the partition's
event_id column plus `append` (one new snapshot), and by pyiceberg's own `upsert` on event_id.
`--s3` puts the warehouse on the embedded AWS server (as the table-format benchmark's lake is),
for a like-for-like comparison; without it, local disk.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.batch.table_format import rows
from benchmarks.ingest.procs import child_env, free_port, python, start, stop, wait_http


@contextlib.contextmanager
def _warehouse(s3: bool, tmp: str) -> Iterator[tuple[str, dict[str, str]]]:
    if not s3:
        yield f"file://{tmp}/warehouse", {}
        return
    import boto3

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    keys = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    server = start(
        "aws",
        [python(), "-m", "clickstream.emulated.aws_server", "-H", "127.0.0.1", "-p", str(port)],
        env=child_env(keys),
        log=Path(tmp) / "aws.log",
    )
    try:
        wait_http(f"{endpoint}/moto-api/", server)
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        ).create_bucket(Bucket="spike-warehouse")
        yield (
            "s3://spike-warehouse/warehouse",
            {
                "s3.endpoint": endpoint,
                "s3.access-key-id": "test",
                "s3.secret-access-key": "test",
                "s3.region": "us-east-1",
            },
        )
    finally:
        stop(server)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batch.iceberg_spike", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--late", type=int, default=1_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--s3", action="store_true", help="the warehouse on the embedded AWS server, not local disk")
    args = p.parse_args(argv)
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.expressions import EqualTo
    from pyiceberg.transforms import IdentityTransform

    base = rows(args.rows, first_id=0, seed=1)
    fresh = rows(args.late - args.late // 2, first_id=args.rows, seed=2)
    delta = pa.concat_tables([fresh, base.slice(0, args.late // 2)])

    def partitioned(t: pa.Table) -> pa.Table:
        n = t.num_rows
        return t.append_column("dt", pa.array(["2026-11-22"] * n)).append_column("hour", pa.array(["10"] * n))

    timings: dict[str, list[float]] = {"anti-join + append": [], "upsert": []}
    with tempfile.TemporaryDirectory(prefix="spike-iceberg-") as tmp, _warehouse(args.s3, tmp) as (where, props):
        catalog = SqlCatalog("spike", uri=f"sqlite:///{tmp}/catalog.db", warehouse=where, **props)
        catalog.create_namespace("spike")
        for r in range(args.rounds):
            for method in timings:
                name = f"spike.events_{r}_{method[0]}"
                schema = partitioned(base).schema
                table = catalog.create_table(name, schema=schema)
                with table.update_spec() as update:
                    for column in ("dt", "hour"):
                        update.add_field(column, IdentityTransform(), column)
                table = catalog.load_table(name)
                began = time.perf_counter()
                table.append(partitioned(base))
                seeded = time.perf_counter() - began
                began = time.perf_counter()
                if method == "upsert":
                    table.upsert(partitioned(delta), join_cols=["event_id"], when_matched_update_all=False)
                else:
                    known = (
                        table.scan(row_filter=EqualTo("hour", "10"), selected_fields=("event_id",))
                        .to_arrow()
                        .column("event_id")
                    )
                    new = delta.filter(pc.invert(pc.is_in(delta.column("event_id"), value_set=known)))
                    table.append(partitioned(new))
                elapsed = time.perf_counter() - began
                got = table.scan().to_arrow().num_rows
                assert got == args.rows + fresh.num_rows, (method, got)
                timings[method].append(elapsed)
                print(f"round {r + 1} {method:<20} {elapsed:7.2f} s  (seeding {args.rows:,} rows: {seeded:.2f} s)")
    for method, values in timings.items():
        print(f"{method:<20} median {statistics.median(values):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
