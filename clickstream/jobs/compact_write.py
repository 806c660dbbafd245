"""The curated table's Parquet form (schema, sort order, encoding, file names), and the in-memory
steps the spikes and benchmarks compare the engine with.

The compaction job itself runs in the engine (`compact_sql`, docs/adr/0011-compaction-as-sql.md):
it takes `CURATED_SCHEMA`'s types, `SORT_KEYS`, `COMPRESSION_LEVEL`, the file names and
`MAX_DELTA_FILES` from here. The rest of this module is the pyarrow form of the same steps.

Deduplication is by `event_id` and deterministic: inside a batch the first seen row wins
(smallest `_row`: raw objects in key order, then line order); against the curated lake the row
already published wins. So rerunning an interval finds nothing new to publish, and a first
publish sorts by (user_id, session_id, event_time, event_id) - a total order, event_id being
unique in a partition - under fixed file names, so the Parquet bytes are identical too.

Rows that arrive for a published partition (late events) become one sorted delta file beside
copies of its files (`fresh_rows`, ADR 0008); after `MAX_DELTA_FILES` of them the partition is
rewritten whole (`merge_partition`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from clickstream.catalog import EVENT_TIME, curated_name
from clickstream.events.schema import EVENT_FIELDS, FIELD_TYPES
from clickstream.quality.suite import ROW_COLUMN

MAX_ROWS_PER_FILE: Final = 1_000_000  # one file per partition up to this, then part-00001, ...
# One row group per file (~37 MB at 1 M rows) and zstd level 7: 5.96 % of the raw JSON, against
# 7.00 % for 128 Ki-row groups at pyarrow's default level (1 M events; docs/BENCHMARKS.md "Parquet
# size"). Larger row groups give each column's dictionary and compressor more to work with, and
# every later scan (Athena bills bytes) reads less; encoding takes about 1.6 s more per 1 M rows.
# The API's export still streams such a file in bounded memory (tests/integration/
# test_api_export_memory.py writes it this way).
ROW_GROUP_ROWS: Final = MAX_ROWS_PER_FILE
COMPRESSION: Final = "zstd"
COMPRESSION_LEVEL: Final = 7
SORT_KEYS: Final[tuple[str, ...]] = ("user_id", "session_id", EVENT_TIME, "event_id")
# A late merge adds one delta file beside server-side copies of the partition's files; the publish
# that would add one more than this rewrites the partition sorted instead (Iceberg's OPTIMIZE).
MAX_DELTA_FILES: Final = 8
DELTA_PREFIX: Final = "delta-"

_ARROW_TYPES: Final[dict[str, pa.DataType]] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),  # JSON text (Glue: string)
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "double": pa.float64(),
}
# The Parquet schema of curated/events (catalog.EVENTS; dt/hour are the Hive partition keys).
CURATED_SCHEMA: Final = pa.schema([pa.field(curated_name(f), _ARROW_TYPES[FIELD_TYPES[f]]) for f in EVENT_FIELDS])

Partition = tuple[str, str]  # (dt "YYYY-MM-DD", hour "HH")


def first_seen(table: pa.Table) -> tuple[pa.Table, int]:
    """Keep the first row (smallest `_row`) of each event_id; returns (rows, duplicates dropped)."""
    if table.num_rows == 0:
        return table, 0
    firsts = table.group_by("event_id", use_threads=False).aggregate([(ROW_COLUMN, "min")])
    if firsts.num_rows == table.num_rows:
        return table, 0
    kept = table.filter(pc.is_in(table.column(ROW_COLUMN), value_set=firsts.column(f"{ROW_COLUMN}_min")))
    return kept, table.num_rows - kept.num_rows


def to_curated(table: pa.Table) -> pa.Table:
    """The curated columns and types (after validation every value fits: http_status is 100..599
    so int16 holds it, quantity ≤ 2**31-1, schema_version is 1)."""
    return table.select(CURATED_SCHEMA.names).cast(CURATED_SCHEMA)


def partition_of(hour_start: pa.Scalar) -> Partition:
    moment = hour_start.as_py()
    return f"{moment:%Y-%m-%d}", f"{moment:%H}"


def split_by_hour(table: pa.Table) -> dict[Partition, pa.Table]:
    """Rows grouped by the UTC hour of their event time (the curated partition)."""
    if table.num_rows == 0:
        return {}
    hours = pc.floor_temporal(table.column(EVENT_TIME), unit="hour")
    out: dict[Partition, pa.Table] = {}
    for hour in pc.unique(hours).sort():
        out[partition_of(hour)] = table.filter(pc.equal(hours, hour))
    return out


def merge_partition(existing: pa.Table | None, new: pa.Table) -> tuple[pa.Table, int]:
    """Existing rows plus the new rows whose event_id is not already there, sorted; returns
    (merged, new rows dropped as duplicates of published ones)."""
    new = to_curated(new)
    dropped = 0
    if existing is not None and existing.num_rows:
        existing = to_curated(existing)
        known = pc.is_in(new.column("event_id"), value_set=existing.column("event_id"))
        fresh = new.filter(pc.invert(known))
        dropped = new.num_rows - fresh.num_rows
        new = pa.concat_tables([existing, fresh])
    return sort_rows(new), dropped


def delta_file_name(index: int) -> str:
    """The late rows a publish added beside a partition's copied files (ADR 0008)."""
    return f"{DELTA_PREFIX}{index:05d}.parquet"


def is_delta(name: str) -> bool:
    return name.startswith(DELTA_PREFIX)


def sort_rows(table: pa.Table) -> pa.Table:
    """Rows in the curated order: nulls (sessionless events) last, then by event_id."""
    order = pc.sort_indices(table, sort_keys=[(k, "ascending", "at_end") for k in SORT_KEYS])
    return table.take(order).combine_chunks()


def parquet_files(table: pa.Table, *, max_rows: int = MAX_ROWS_PER_FILE) -> list[bytes]:
    """The partition's Parquet objects: `max_rows` rows each, zstd, same bytes for the same rows."""
    files = []
    for offset in range(0, max(table.num_rows, 1), max_rows):
        sink = io.BytesIO()
        pq.write_table(
            table.slice(offset, max_rows),
            sink,
            compression=COMPRESSION,
            compression_level=COMPRESSION_LEVEL,
            row_group_size=ROW_GROUP_ROWS,
            write_statistics=True,
        )
        files.append(sink.getvalue())
    return files


def file_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def read_parquet(blobs: Iterable[bytes]) -> pa.Table | None:
    """The rows of a partition's Parquet objects (in file order), or None when there are none."""
    tables = [pq.read_table(io.BytesIO(blob)) for blob in blobs]
    if not tables:
        return None
    return pa.concat_tables([t.cast(CURATED_SCHEMA) for t in tables])
