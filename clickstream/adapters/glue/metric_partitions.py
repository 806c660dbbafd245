"""Day partitions written in place, one file each: `curated/metrics/<name>/dt=…/data.parquet`.

Used for the reconciliation table, whose days are small and computed in Python. The batch
metrics are written by the engine instead (an UNLOAD into a new version per run, re-pointed in
Glue: `clickstream.jobs.batch_metrics`).

Replacing a partition never shows a reader an empty or doubled day: the new file is written
under the same key (an S3 PUT replaces an object atomically), then any other object left under
the prefix (an older layout, a crashed writer's leftovers) is deleted. A day without rows loses
its objects and its Glue partition, so a re-run leaves exactly what the data says.
"""

from __future__ import annotations

import io
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from clickstream.catalog import TableDef

DATA_FILE: Final = "data.parquet"
COMPRESSION: Final = "zstd"
DELETE_MAX: Final = 1000  # S3: DeleteObjects takes at most 1000 keys


class MetricPartitions:
    """Writes and clears day partitions of metric tables in the lake bucket (client injected)."""

    def __init__(self, bucket: str, *, client: Any) -> None:
        self.bucket = bucket
        self._client = client

    def replace(self, table: TableDef, dt: str, rows: pa.Table) -> str | None:
        """Make partition dt hold exactly `rows` (none: the partition is emptied); returns the key written."""
        prefix = table.partition_prefix({"dt": dt})
        key = None
        if rows.num_rows:
            key = f"{prefix}{DATA_FILE}"
            sink = io.BytesIO()
            pq.write_table(rows, sink, compression=COMPRESSION)
            self._client.put_object(Bucket=self.bucket, Key=key, Body=sink.getvalue())
        stale = [k for k in self._keys(prefix) if k != key]
        for i in range(0, len(stale), DELETE_MAX):
            chunk = stale[i : i + DELETE_MAX]
            self._client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )
        return key

    def _keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys


def glue_type(arrow: pa.DataType) -> str:
    """The Glue/Hive column type of an Arrow type (what `metric_<name>` tables declare)."""
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "string"
    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_int8(arrow):
        return "tinyint"
    if pa.types.is_int16(arrow):
        return "smallint"
    if pa.types.is_int32(arrow):
        return "int"
    if pa.types.is_integer(arrow):
        return "bigint"
    if pa.types.is_float32(arrow):
        return "float"
    if pa.types.is_floating(arrow):
        return "double"
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    if pa.types.is_date(arrow):
        return "date"
    raise TypeError(f"no Glue type for Arrow type {arrow}: cast the column in the metric's SQL")
