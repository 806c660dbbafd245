"""Raw NDJSON.gz objects → one typed Arrow table (the batch frame) + the lines that are not JSON.

Pure: bytes in, Arrow out; no I/O, no clock. The work is vectorised so a batch costs what its
bytes cost: gunzip (zlib), a newline scan (numpy) that turns each object into an Arrow string
array without copying, and one statement, `sql/compaction/parse.sql` (Athena SQL generated from
the event schema, its rules in `sql/include/parse_event.sql`), that the local engine runs over
the lines: it parses each line once and derives the typed columns and the per-row JSON-type
verdict (docs/adr/0011-compaction-as-sql.md).

Column rules (schema.FIELD_TYPES, the contract's logical types):

- string → the JSON value must be a string; timestamp → a string DuckDB parses as TIMESTAMPTZ
  (RFC 3339; a naive one is UTC); json → an object (kept as its JSON text); int8..int64 → a JSON
  integer (widened to int64 here: range rules see 70000 instead of an overflow); double → any
  JSON number.
- A present value of another type becomes NULL and its column is listed in `_invalid_types`.
- A line that is not a JSON object (invalid JSON, a truncated line, an array, invalid UTF-8) is
  returned in `malformed` instead (reason `malformed_json`).

Blank lines are not records: they are folded into the previous line (JSON ignores whitespace).
Records are numbered per object from 1 (`_rec`) and per batch from 0 (`_row`, batch order =
the order of `objects`, then line order): "first seen" in deduplication means smallest `_row`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clickstream.catalog import OBJ_COLUMN, REC_COLUMN, curated_name
from clickstream.events.schema import EVENT_FIELDS, FIELD_TYPES
from clickstream.quality.suite import INVALID_TYPES_COLUMN, ROW_COLUMN

MALFORMED_JSON: Final = "malformed_json"

_NEWLINE = 10
_WIDE_TYPES: Final[dict[str, pa.DataType]] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
    "int8": pa.int64(),
    "int16": pa.int64(),
    "int32": pa.int64(),
    "int64": pa.int64(),
    "double": pa.float64(),
}
FRAME_SCHEMA: Final = pa.schema(
    [
        pa.field(ROW_COLUMN, pa.int64()),
        *(pa.field(curated_name(f), _WIDE_TYPES[FIELD_TYPES[f]]) for f in EVENT_FIELDS),
        pa.field(INVALID_TYPES_COLUMN, pa.string()),
        pa.field(OBJ_COLUMN, pa.int32()),
        pa.field(REC_COLUMN, pa.int32()),
    ]
)


@dataclass(frozen=True)
class MalformedLine:
    obj: int  # index into the batch's objects
    rec: int  # record number within the object (from 1)
    row: int  # batch row number
    text: str  # the line as received (invalid UTF-8 replaced)
    reason: str


@dataclass
class ParsedBatch:
    frame: pa.Table  # FRAME_SCHEMA, one row per JSON object (not ordered by _row)
    malformed: list[MalformedLine]
    raw_rows: int  # records read: frame rows + malformed lines
    payloads: Sequence[bytes] = ()  # the decompressed objects, to quote a rejected row as received
    offsets: list[np.ndarray] = field(default_factory=list)  # per object: record_offsets()

    def line(self, obj: int, rec: int) -> bytes:
        """Record `rec` (from 1) of object `obj`, as received, without surrounding whitespace."""
        offsets = self.offsets[obj]
        return self.payloads[obj][int(offsets[rec - 1]) : int(offsets[rec])].strip()


def gunzip(data: bytes) -> tuple[bytes, bool]:
    """Decompress every gzip member; (bytes, complete). A truncated or corrupt stream yields what
    could be decompressed and False: its last line is usually cut, and is quarantined as such."""
    out: list[bytes] = []
    while data:
        inflater = zlib.decompressobj(31)
        try:
            out.append(inflater.decompress(data))
        except zlib.error:
            return b"".join(out), False
        if not inflater.eof:
            return b"".join(out), False
        data = inflater.unused_data
    return b"".join(out), True


def record_offsets(data: bytes) -> np.ndarray:
    """int64 offsets [start_0, start_1, ..., len(data)] of the non-blank lines of `data`."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if not len(buf):
        return np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(buf == _NEWLINE) + 1
    starts = starts[starts < len(buf)]
    starts = starts[buf[starts] != _NEWLINE]  # a blank line folds into the line before it
    if len(starts) == 0 or starts[0] != 0:
        starts = np.concatenate([[0], starts])
    offsets = np.append(starts, len(buf)).astype(np.int64)
    if not data[: offsets[1]].strip():  # a whitespace-only object or leading blank run
        offsets = offsets[1:] if len(offsets) > 2 else np.zeros(1, dtype=np.int64)
    return offsets


def lines_array(data: bytes, offsets: np.ndarray) -> pa.Array:
    """The records as a zero-copy large_string array over `data` (checked as UTF-8)."""
    return pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))


def parse_objects(payloads: Sequence[bytes], offsets: Sequence[np.ndarray] | None = None) -> ParsedBatch:
    """Parse decompressed NDJSON payloads (one per raw object, in batch order); `offsets` are
    their `record_offsets`, when the caller computed them already (in parallel, say)."""
    chunks: list[pa.Table] = []
    malformed: list[MalformedLine] = []
    all_offsets = list(offsets) if offsets is not None else [record_offsets(data) for data in payloads]
    row = 0
    for obj, data in enumerate(payloads):
        starts = all_offsets[obj]
        n = len(starts) - 1
        if n == 0:
            continue
        lines = lines_array(data, starts)
        try:
            lines.validate(full=True)
        except pa.ArrowInvalid:
            lines, bad = _drop_invalid_utf8(data, starts, obj, row)
            malformed.extend(bad)
        rows = np.arange(row, row + n, dtype=np.int64)
        recs = np.arange(1, n + 1, dtype=np.int32)
        if len(lines) != n:  # some lines were not UTF-8: keep the numbering of the others
            keep = np.ones(n, dtype=bool)
            keep[[m.rec - 1 for m in malformed if m.obj == obj]] = False
            rows, recs = rows[keep], recs[keep]
        chunks.append(
            pa.table({ROW_COLUMN: rows, OBJ_COLUMN: np.full(len(rows), obj, np.int32), REC_COLUMN: recs, "line": lines})
        )
        row += n
    if not chunks:
        return ParsedBatch(FRAME_SCHEMA.empty_table(), malformed, row, payloads, all_offsets)
    frame, bad_json = _parse_lines(pa.concat_tables(chunks))
    malformed.extend(bad_json)
    malformed.sort(key=lambda m: m.row)
    return ParsedBatch(frame, malformed, row, payloads, all_offsets)


def _drop_invalid_utf8(
    data: bytes, offsets: np.ndarray, obj: int, first_row: int
) -> tuple[pa.Array, list[MalformedLine]]:
    good: list[str] = []
    bad: list[MalformedLine] = []
    for i in range(len(offsets) - 1):
        raw = data[offsets[i] : offsets[i + 1]]
        try:
            good.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace").strip()
            bad.append(MalformedLine(obj, i + 1, first_row + i, text, MALFORMED_JSON))
    return pa.array(good, pa.large_string()), bad


def _parse_lines(lines: pa.Table) -> tuple[pa.Table, list[MalformedLine]]:
    from clickstream.adapters.query.local import LocalEngine
    from clickstream.sqlfiles import COMPACTION_PARSE, load, render

    result = LocalEngine.over({"raw_lines": lines}).execute(render(load(COMPACTION_PARSE), {}))
    is_object = result.column("is_object")
    if pc.all(is_object).as_py() is not False:  # the common case: no copy
        return result.select(FRAME_SCHEMA.names).cast(FRAME_SCHEMA), []
    bad = result.filter(pc.invert(is_object))
    malformed = [
        MalformedLine(obj, rec, row, (text or "").strip(), MALFORMED_JSON)
        for obj, rec, row, text in zip(
            bad.column(OBJ_COLUMN).to_pylist(),
            bad.column(REC_COLUMN).to_pylist(),
            bad.column(ROW_COLUMN).to_pylist(),
            bad.column("bad_line").to_pylist(),
            strict=True,
        )
    ]
    frame = result.filter(is_object).select(FRAME_SCHEMA.names).cast(FRAME_SCHEMA)
    return frame, malformed
