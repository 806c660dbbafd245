"""Events from the lake for export and page analytics: the curated table plus the raw tail.

- curated: the current version of each `events` partition (event time) that the range touches,
  at the location Glue registers for it (`curated/events/v=…/dt=…/hour=…/*.parquet`, ADR 0008),
  read one row group at a time on the caller's thread and filtered on event time and type; never
  materialised (memory: one row group plus one encoded chunk).
- raw tail: `raw/events/dt=…/hour=…/` ARRIVAL hours the compaction has not covered yet, i.e.
  hours starting at or after the interval end of the latest `compact_raw_events` run (all raw
  hours when it never ran). They are few (normally the current hour and the one before), read
  whole, turned into the curated columns, deduplicated by event_id and filtered like curated.
  Only arrival hours that can hold events of the range are read: [from - clock skew - 1 h,
  to + lateness). A tail event whose event_id is already in the curated files of its event
  hour (a producer duplicate that arrived after compaction, or hours compacted by a rerun that
  is not the latest run) is left out, so nothing is exported twice.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from clickstream import constants as c
from clickstream.api.params import TimeRange
from clickstream.catalog import EVENT_TIME, EVENTS, curated_name
from clickstream.events.schema import EVENT_FIELDS

# {(dt, hour): S3 location} of the `events` partitions of some days, as registered in Glue.
Locate = Callable[[Sequence[str]], Mapping[tuple[str, ...], str]]
BATCH_ROWS = 32_768  # rows per record batch handed to a writer
COMPACTION_JOB = "compact_raw_events"
_FIELD_OF_COLUMN = {curated_name(f): f for f in EVENT_FIELDS}
_DEFAULT_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
}


def default_schema() -> pa.Schema:
    """The curated columns (no partition keys) when the lake has no curated file yet."""
    return pa.schema([pa.field(col.name, _DEFAULT_TYPES.get(col.type, pa.string())) for col in EVENTS.columns])


@dataclass(frozen=True)
class EventFilter:
    span: TimeRange
    event_types: tuple[str, ...] = ()


class LakeEvents:
    """Reads events of a time range from one bucket (through `pyarrow.fs`)."""

    def __init__(self, fs: pafs.FileSystem, bucket: str, *, lateness_s: int, skew_s: int, locate: Locate) -> None:
        self.fs = fs
        self.bucket = bucket
        self._lateness = timedelta(seconds=lateness_s)
        self._skew = timedelta(seconds=skew_s)
        self._locate = locate

    # --- curated ------------------------------------------------------------------------------

    def curated(self, span: TimeRange) -> list[str]:
        """The curated Parquet files whose event-time hour overlaps the range, in time order: the
        files of each partition's current version, as Glue registers it (ADR 0008)."""
        low, high = span.start.strftime("%Y-%m-%dT%H"), span.end.strftime("%Y-%m-%dT%H")
        files: list[tuple[str, str]] = []
        for (day, hour), path in self._partitions(list(span.days)):
            if low <= f"{day}T{hour}" <= high:
                files.extend((f"{day}T{hour}", f) for f in _parquet_files(self.fs, path))
        return [path for _, path in sorted(files)]

    def scan_bytes(self, span: TimeRange, watermark: datetime | None) -> int:
        """The stored bytes a read of `span` would go through: the curated files of its hours and
        the raw tail's objects (what `batches` reads, before any column or row is skipped)."""
        low, high = span.start.strftime("%Y-%m-%dT%H"), span.end.strftime("%Y-%m-%dT%H")
        total = 0
        for (day, hour), path in self._partitions(list(span.days)):
            if low <= f"{day}T{hour}" <= high:
                total += sum(_sizes(self.fs, path, recursive=True).values())
        for hour_dir in self.tail_hours(watermark, span):
            total += sum(_sizes(self.fs, hour_dir, recursive=False).values())
        return total

    def _partitions(self, days: Sequence[str]) -> list[tuple[tuple[str, str], str]]:
        """((dt, hour), bucket/key path) of the registered `events` partitions of `days`."""
        out = []
        for values, location in self._locate(days).items():
            url = urlparse(location)
            out.append(((values[0], values[1]), f"{url.netloc}/{url.path.strip('/')}"))
        return sorted(out)

    def schema(self, files: Sequence[str]) -> pa.Schema:
        """The export schema: the curated columns as the (first) file types them."""
        if not files:
            return default_schema()
        found = pq.read_schema(files[0], filesystem=self.fs)
        fields = []
        for col in EVENTS.columns:
            idx = found.get_field_index(col.name)
            fields.append(found.field(idx) if idx >= 0 else default_schema().field(col.name))
        return pa.schema(fields)

    def batches(
        self, flt: EventFilter, *, columns: Sequence[str] | None = None, watermark: datetime | None = None
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        """(schema, batches) of the events in the filter: curated first, then the raw tail."""
        files = self.curated(flt.span)
        schema = self.schema(files)
        if columns is not None:
            schema = pa.schema([schema.field(n) for n in columns])
        return schema, self._iterate(files, schema, flt, watermark)

    def _iterate(
        self, files: Sequence[str], schema: pa.Schema, flt: EventFilter, watermark: datetime | None
    ) -> Iterator[pa.RecordBatch]:
        # ParquetFile.iter_batches pulls one row group at a time, on this thread: nothing is read
        # ahead of the consumer (a dataset scanner's background readahead grew with a slow client).
        needed = list(dict.fromkeys([*schema.names, EVENT_TIME, "event_type"]))
        for path in files:
            with self.fs.open_input_file(path) as f:
                parquet = pq.ParquetFile(f)
                present = [n for n in needed if parquet.schema_arrow.get_field_index(n) >= 0]
                expr = _filter(flt, parquet.schema_arrow.field(EVENT_TIME).type)
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=present, use_threads=False):
                    kept = pa.Table.from_batches([batch]).filter(expr)
                    for piece in kept.to_batches():
                        if piece.num_rows:
                            yield _conform(piece, schema)
        tail = self.tail(flt, schema, watermark)
        if tail.num_rows:
            yield from tail.to_batches(max_chunksize=BATCH_ROWS)

    # --- raw tail -----------------------------------------------------------------------------

    def tail_hours(self, watermark: datetime | None, span: TimeRange) -> list[str]:
        """Raw arrival-hour prefixes not compacted yet that can hold events of `span`."""
        base = f"{self.bucket}/{c.RAW_EVENTS_PREFIX}"
        low = span.start - self._skew - timedelta(hours=1)
        if watermark is not None:
            low = max(low, watermark)
        high = span.end + self._lateness
        out = []
        for day_dir in _dirs(self.fs, base, "dt="):
            day = day_dir.rsplit("dt=", 1)[1]
            if not low.strftime("%Y-%m-%d") <= day <= high.strftime("%Y-%m-%d"):
                continue
            for hour_dir in _dirs(self.fs, day_dir, "hour="):
                hour = hour_dir.rsplit("hour=", 1)[1]
                try:
                    start = datetime.strptime(f"{day}T{hour}", "%Y-%m-%dT%H").replace(tzinfo=UTC)
                except ValueError:
                    continue
                if low <= start + timedelta(hours=1) and start < high and (watermark is None or start >= watermark):
                    out.append(hour_dir)
        return sorted(out)

    def tail(self, flt: EventFilter, schema: pa.Schema, watermark: datetime | None) -> pa.Table:
        """The raw tail's events in the filter, as a table of `schema` (deduplicated by event_id)."""
        rows: dict[str, dict[str, Any]] = {}
        start, end = _iso(flt.span.start), _iso(flt.span.end)
        for hour_dir in self.tail_hours(watermark, flt.span):
            for path in _files(self.fs, hour_dir):
                for event in read_raw_object(self.fs, path):
                    stamp = event.get("timestamp")
                    if not isinstance(stamp, str) or not start <= stamp < end:
                        continue
                    if flt.event_types and event.get("event_type") not in flt.event_types:
                        continue
                    rows.setdefault(str(event.get("event_id")), event)
        for event_id in self._compacted_ids(rows.values()):
            rows.pop(event_id, None)
        return events_table(list(rows.values()), schema)

    def _compacted_ids(self, events: Iterable[dict[str, Any]]) -> set[str]:
        """Event ids of the tail already in the curated files of their event-time hours."""
        hours = {(h[:10], h[11:13]) for h in (str(e["timestamp"])[:13] for e in events)}
        found: set[str] = set()
        if not hours:
            return found
        for partition, path in self._partitions(sorted({day for day, _ in hours})):
            if partition in hours:
                for file in _parquet_files(self.fs, path):
                    ids = pq.read_table(file, columns=["event_id"], filesystem=self.fs).column("event_id")
                    found.update(str(v) for v in ids.to_pylist())
        return found


def read_raw_object(fs: pafs.FileSystem, path: str) -> list[dict[str, Any]]:
    """The events of one raw NDJSON(.gz) object (undecodable lines are skipped: the collector wrote them)."""
    with fs.open_input_file(path) as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    out = []
    for line in data.splitlines():
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def events_table(events: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Raw (contract-shaped) events as curated columns of `schema`."""
    arrays = []
    for fld in schema:
        source = _FIELD_OF_COLUMN.get(fld.name, fld.name)
        values = [event.get(source) for event in events]
        if pa.types.is_timestamp(fld.type):
            parsed = [_parse_ts(v) for v in values]
            arr = pa.array(parsed, type=pa.timestamp("us", tz="UTC"))
            arrays.append(arr.cast(fld.type) if fld.type.tz else pc.local_timestamp(arr).cast(fld.type))
        elif pa.types.is_string(fld.type) or pa.types.is_large_string(fld.type):
            arrays.append(pa.array([_text(v) for v in values], type=fld.type))
        else:
            arrays.append(pa.array(values, type=fld.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def _filter(flt: EventFilter, time_type: pa.DataType) -> pc.Expression:
    def scalar(moment: datetime) -> pa.Scalar:
        value = moment if getattr(time_type, "tz", None) else moment.replace(tzinfo=None)
        return pa.scalar(value, type=time_type)

    expr = (pc.field(EVENT_TIME) >= scalar(flt.span.start)) & (pc.field(EVENT_TIME) < scalar(flt.span.end))
    if flt.event_types:
        expr = expr & pc.field("event_type").isin(list(flt.event_types))
    return expr


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch as `schema`: columns selected and cast; columns a file lacks are nulls."""
    if batch.schema.equals(schema):
        return batch
    arrays = []
    for fld in schema:
        idx = batch.schema.get_field_index(fld.name)
        arrays.append(batch.column(idx).cast(fld.type) if idx >= 0 else pa.nulls(batch.num_rows, fld.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _dirs(fs: pafs.FileSystem, base: str, prefix: str) -> list[str]:
    selector = pafs.FileSelector(base, recursive=False, allow_not_found=True)
    return sorted(
        f.path
        for f in fs.get_file_info(selector)
        if f.type == pafs.FileType.Directory and f.base_name.startswith(prefix)
    )


def _sizes(fs: pafs.FileSystem, base: str, *, recursive: bool) -> dict[str, int]:
    selector = pafs.FileSelector(base, recursive=recursive, allow_not_found=True)
    return {f.path: f.size for f in fs.get_file_info(selector) if f.type == pafs.FileType.File and f.size}


def _parquet_files(fs: pafs.FileSystem, base: str) -> list[str]:
    """Every Parquet file under `base`, as Athena reads a partition's location."""
    selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
    return sorted(
        f.path
        for f in fs.get_file_info(selector)
        if f.type == pafs.FileType.File and f.size and f.path.endswith(".parquet")
    )


def _files(fs: pafs.FileSystem, base: str) -> list[str]:
    selector = pafs.FileSelector(base, recursive=False, allow_not_found=True)
    return sorted(f.path for f in fs.get_file_info(selector) if f.type == pafs.FileType.File and f.size)


def _iso(moment: datetime) -> str:
    """The stored form of event timestamps (fixed width, so text order is time order)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
