"""Export encoders: Arrow record batches in, bytes out, one batch at a time (constant memory).

Formats: `ndjson` (one JSON object a line), `json` (one array, streamed), `csv` (header once),
`parquet` (one row group per batch, footer at the end). Timestamps are RFC 3339 UTC.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CONTENT_TYPES: Final[dict[str, str]] = {
    "ndjson": "application/x-ndjson",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
FORMATS: Final = tuple(CONTENT_TYPES)
_JSON_OPTIONS: Final = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
JSON_ROWS: Final = 2048  # rows turned into Python objects at a time (JSON formats)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot export {type(value).__name__}")


def _slices(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Batches cut to JSON_ROWS rows: Python objects exist for one slice at a time."""
    for batch in batches:
        for start in range(0, batch.num_rows, JSON_ROWS):
            yield batch.slice(start, JSON_ROWS)


def _rows(batch: pa.RecordBatch) -> list[bytes]:
    return [orjson.dumps(row, default=_default, option=_JSON_OPTIONS) for row in batch.to_pylist()]


def ndjson(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    for piece in _slices(batches):
        yield b"".join(line + b"\n" for line in _rows(piece))


def json_array(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    yield b"["
    first = True
    for piece in _slices(batches):
        lines = _rows(piece)
        if not lines:
            continue
        yield (b"" if first else b",") + b",".join(lines)
        first = False
    yield b"]"


def csv(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    header = True
    for batch in batches:
        buf = io.BytesIO()
        pacsv.write_csv(batch, buf, write_options=pacsv.WriteOptions(include_header=header))
        header = False
        yield buf.getvalue()
    if header:  # no rows: the header alone
        buf = io.BytesIO()
        pacsv.write_csv(schema.empty_table(), buf)
        yield buf.getvalue()


class _Drain(io.RawIOBase):
    """A write-only file whose bytes are taken out after each write (the Parquet writer's sink)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.chunks.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out, self.chunks = b"".join(self.chunks), []
        return out


def parquet(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    sink = _Drain()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, compression="zstd")
    try:
        for batch in batches:
            writer.write_batch(batch)
            chunk = sink.take()
            if chunk:
                yield chunk
    finally:
        writer.close()
    yield sink.take()


ENCODERS: Final[dict[str, Callable[[pa.Schema, Iterable[pa.RecordBatch]], Iterator[bytes]]]] = {
    "ndjson": ndjson,
    "json": json_array,
    "csv": csv,
    "parquet": parquet,
}
