"""The lake's Glue tables as the local engine reads them (its storage side).

A Parquet table is its list of files (`ParquetFiles`): the engine copies them from S3 and DuckDB
reads them itself (`clickstream.adapters.query.copies`, docs/adr/0012). NDJSON is decoded here,
through `pyarrow.fs.S3FileSystem`, into an Arrow table; a text table (`raw_lines`) is a stream of
lines, one object at a time. Partition keys stay strings, as in Glue. A table whose prefix is
empty or missing is an empty table with the Glue schema, so queries over a fresh lake return no
rows instead of failing.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlparse

import orjson
import pyarrow as pa
import pyarrow.fs as pafs

from clickstream.settings import Settings
from clickstream.sqlfiles import VERSIONED_PARAMETER

_SIMPLE_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "varchar": pa.string(),
    "char": pa.string(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "binary": pa.binary(),
}
_DECIMAL = re.compile(r"decimal\((\d+)\s*,\s*(\d+)\)")
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")


class DataFile(NamedTuple):
    """One of a table's data files: where, its partition values, and what the listing said of it."""

    path: str  # bucket/key
    values: dict[str, str]
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ParquetFiles:
    """A Parquet table as its files, for DuckDB's own reader (`clickstream.adapters.query.copies`).

    `columns` are the Glue columns, in order (empty: the files' own); the partition keys follow
    them as strings, read from the k=v/ segments of the paths (or, where a path spells none, the
    values Glue registered). `in_lake`: the paths are bucket/key in the lake, which the engine
    reads through local copies; otherwise they are files on local disk."""

    files: tuple[DataFile, ...]
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[str, ...]
    in_lake: bool = False


def arrow_type(glue_type: str) -> pa.DataType:
    """The Arrow type of a Glue/Hive column type; complex types (array<…>, map, struct) become JSON strings."""
    t = glue_type.strip().lower()
    base = t.split("(", 1)[0]
    if base in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[base]
    m = _DECIMAL.fullmatch(t)
    if m:
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    return pa.string()


@dataclass(frozen=True)
class GlueTableInfo:
    """What the local engine needs from one Glue `TableList` entry."""

    name: str
    bucket: str
    prefix: str  # no leading or trailing slash
    format: str  # "parquet" | "json" | "text"
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[str, ...]
    versioned: bool = False  # the registered partitions are the table (ADR 0008)

    @classmethod
    def from_glue(cls, entry: Mapping[str, Any]) -> GlueTableInfo:
        sd = entry.get("StorageDescriptor") or {}
        url = urlparse(sd.get("Location", ""))
        serde = ((sd.get("SerdeInfo") or {}).get("SerializationLibrary") or "").lower()
        classification = ((entry.get("Parameters") or {}).get("classification") or "").lower()
        if "json" in serde or classification == "json":
            fmt = "json"
        elif "lazysimpleserde" in serde or classification == "text":
            fmt = "text"
        else:
            fmt = "parquet"
        return cls(
            name=entry["Name"],
            bucket=url.netloc,
            prefix=url.path.strip("/"),
            format=fmt,
            columns=tuple((c["Name"], c["Type"]) for c in sd.get("Columns", [])),
            partition_keys=tuple(k["Name"] for k in entry.get("PartitionKeys", [])),
            versioned=(entry.get("Parameters") or {}).get(VERSIONED_PARAMETER) == "true",
        )

    def glue_schema(self) -> pa.Schema:
        fields = [pa.field(n, arrow_type(t)) for n, t in self.columns]
        return pa.schema(fields + [pa.field(k, pa.string()) for k in self.partition_keys])


def s3_filesystem(settings: Settings) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem on the settings' endpoint (moto/LocalStack locally, AWS otherwise)."""
    import os

    kwargs: dict[str, Any] = {"region": settings.region}
    if settings.endpoint_url:
        url = urlparse(settings.endpoint_url)
        kwargs.update(endpoint_override=url.netloc, scheme=url.scheme or "http")
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        kwargs.update(access_key=key, secret_key=secret, session_token=os.environ.get("AWS_SESSION_TOKEN"))
    elif settings.is_local and settings.endpoint_url:
        kwargs.update(access_key="test", secret_key="test")
    return pafs.S3FileSystem(**kwargs)


PartitionFilter = Callable[[Mapping[str, str]], bool]


def table_source(
    info: GlueTableInfo,
    fs: pafs.FileSystem,
    *,
    keep: PartitionFilter | None = None,
    partitions: Mapping[tuple[str, ...], str] | None = None,
) -> ParquetFiles | pa.Table | pa.RecordBatchReader:
    """The table's files (Parquet), or its rows (NDJSON: a table; text: a stream of lines); `keep`
    may skip partitions early.

    `partitions` ({values: S3 location}, from Glue) makes the registered partitions the table, as
    Athena reads a table without partition projection: every file under each location. Without
    it, the files laid out as k=v/… under the table's location are (as partition projection).
    """
    base = f"{info.bucket}/{info.prefix}" if info.prefix else info.bucket
    listed = partitions is None
    files = _data_files(fs, base, info, keep) if listed else _registered_files(fs, info, partitions or {}, keep)
    if info.format == "json":
        return read_ndjson(fs, files, info)
    if info.format == "text":
        return read_lines(fs, files, info)
    if not files:
        return info.glue_schema().empty_table()
    return ParquetFiles(tuple(files), tuple(info.columns), tuple(info.partition_keys), in_lake=True)


def _data_files(fs: pafs.FileSystem, base: str, info: GlueTableInfo, keep: PartitionFilter | None) -> list[DataFile]:
    """Every data file under `base` laid out as k=v/… for the partition keys, with its values."""
    selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
    out = []
    for entry in fs.get_file_info(selector):
        if entry.type != pafs.FileType.File or entry.size == 0:
            continue
        name = entry.base_name
        if name.startswith(("_", ".")) or (info.format == "parquet" and not name.endswith(PARQUET_SUFFIXES)):
            continue
        parts = entry.path[len(base) :].strip("/").split("/")[:-1]
        values = dict(p.split("=", 1) for p in parts if "=" in p)
        if any(k not in values for k in info.partition_keys):
            continue  # not in the table's layout (e.g. a stray object): Athena would not see it either
        if keep is not None and not keep(values):
            continue
        out.append(_data_file(entry, values))
    return sorted(out)


def _registered_files(
    fs: pafs.FileSystem, info: GlueTableInfo, partitions: Mapping[tuple[str, ...], str], keep: PartitionFilter | None
) -> list[DataFile]:
    """Every data file under each registered partition's location, with the values Glue has for it.

    The engine reads the values from the k=v/ segments of a path where it spells them (ours do:
    `curated/events/v=…/dt=…/hour=…/`; the `v=…` segment, outside the schema, is ignored), and
    otherwise takes these (`copies.scan_groups`)."""
    out = []
    for values, location in sorted(partitions.items()):
        named = dict(zip(info.partition_keys, values, strict=True))
        if keep is not None and not keep(named):
            continue
        url = urlparse(location)
        selector = pafs.FileSelector(f"{url.netloc}/{url.path.strip('/')}", recursive=True, allow_not_found=True)
        for entry in fs.get_file_info(selector):
            name = entry.base_name
            if entry.type != pafs.FileType.File or entry.size == 0 or name.startswith(("_", ".")):
                continue
            if info.format == "parquet" and not name.endswith(PARQUET_SUFFIXES):
                continue
            out.append(_data_file(entry, named))
    return sorted(out)


def _data_file(entry: pafs.FileInfo, values: dict[str, str]) -> DataFile:
    mtime = entry.mtime_ns if entry.mtime_ns is not None else 0
    return DataFile(entry.path, values, int(entry.size or 0), int(mtime))


# --- NDJSON(.gz), read like Athena's OpenX JsonSerDe ---------------------------------------------


def read_ndjson(fs: pafs.FileSystem, files: list[DataFile], info: GlueTableInfo) -> pa.Table:
    """Decode NDJSON objects into the Glue schema: nested values as JSON text, bad lines as NULL rows."""
    schema = info.glue_schema()
    names = [n for n, _ in info.columns]
    convert = [_converter(arrow_type(t)) for _, t in info.columns]
    columns: list[list[Any]] = [[] for _ in names]
    part_cols: list[list[str]] = [[] for _ in info.partition_keys]
    for path, values, *_ in files:
        data = _object_bytes(fs, path)
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                row = {}  # ignore.malformed.json: a row of NULLs
            if not isinstance(row, dict):
                row = {}
            for col, name, conv in zip(columns, names, convert, strict=True):
                col.append(conv(row.get(name)))
            for pcol, key in zip(part_cols, info.partition_keys, strict=True):
                pcol.append(values[key])
    arrays = [pa.array(col, type=schema.field(i).type) for i, col in enumerate(columns)]
    arrays += [pa.array(col, type=pa.string()) for col in part_cols]
    return pa.Table.from_arrays(arrays, schema=schema)


def _object_bytes(fs: pafs.FileSystem, path: str) -> bytes:
    """An object's bytes, gunzipped when it is gzip (by its magic number, as Athena reads `.gz`)."""
    with fs.open_input_file(path) as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


PATH_COLUMN = "$path"  # Athena's pseudo-column: the S3 object a row came from


def read_lines(fs: pafs.FileSystem, files: list[DataFile], info: GlueTableInfo) -> pa.RecordBatchReader:
    """A text table (`raw_lines`): one row per line of each object (gunzipped), as Athena's
    TextInputFormat reads it, with the object's `s3://` URL in `$path` as Athena's pseudo-column.

    A line is the text between newlines, a trailing newline ends the last line (no empty row
    after it); a carriage return before a newline is dropped, as Hadoop's line reader drops it.
    Bytes that are not UTF-8 become U+FFFD.

    Streamed: one record batch per object, read when the engine asks for it, so a scan holds one
    object at a time (the engine reads the table once per statement)."""
    (column, _), *_ = info.columns
    keys = [pa.field(k, pa.string()) for k in info.partition_keys]
    schema = pa.schema([pa.field(column, pa.large_string()), *keys, pa.field(PATH_COLUMN, pa.string())])

    def batches() -> Any:
        for path, values, *_ in files:
            lines = object_lines(_object_bytes(fs, path))
            n = len(lines)
            arrays = [lines, *(pa.array([values[k]] * n, pa.string()) for k in info.partition_keys)]
            arrays.append(pa.array([f"s3://{path}"] * n, pa.string()))
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def object_lines(data: bytes) -> pa.Array:
    """The lines of one object (see `read_lines`) as a large_string array over its bytes."""
    import numpy as np

    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)  # each newline ends a line
    if len(buf) and buf[-1] != 10:
        ends = np.append(ends, len(buf))  # the last line has no newline
    starts = np.concatenate([[0], ends[:-1] + 1]) if len(ends) else np.zeros(0, np.int64)
    stops = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))  # a CR before the newline
    if not len(ends):
        return pa.array([], pa.large_string())
    # The lines' bytes without the newlines (and CRs) between them: one gather over the buffer.
    lengths = (stops - starts).astype(np.int64)
    index = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
    body = buf[index] if len(index) else buf[:0]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(body.tobytes()))
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:  # not UTF-8: decode line by line, replacing what is not
        text = [bytes(body[offsets[i] : offsets[i + 1]]).decode("utf-8", "replace") for i in range(len(lengths))]
        lines = pa.array(text, pa.large_string())
    return lines


def _converter(t: pa.DataType) -> Callable[[Any], Any]:
    if pa.types.is_string(t):
        return _as_text
    if pa.types.is_integer(t):
        return _as_int
    if pa.types.is_floating(t):
        return _as_float
    if pa.types.is_boolean(t):
        return lambda v: v if isinstance(v, bool) else None
    return lambda v: None if v is None or isinstance(v, (dict, list)) else v


def _as_text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return orjson.dumps(v).decode()
    return str(v)


def _as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return None
    return None


def _as_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None
