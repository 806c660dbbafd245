"""Spike: the compaction's parse as Athena SQL (the job's now), beside its earlier DuckDB-only parse.

    .venv/bin/python -m benchmarks.batch parse-spike [--events 1000000] [--rounds 3]

Compaction as SQL (issue 17) needs its first step, NDJSON line → typed columns with the contract's
JSON-type rules (`compact_parse`), in Athena's dialect, so that Athena runs it in AWS and DuckDB,
after sqlglot, on the laptop. The job's parse used DuckDB's `json_transform` and `json_type`,
which Athena does not have (kept here, `duckdb_parse_sql`, as the baseline). The job now runs
`sql/compaction/parse.sql` (rules in `sql/include/parse_event.sql`), written with what both
engines share: `json_parse` once per line (only a line that starts with `{`),
`json_extract(m, '$.<field>')` per field, and the value's JSON text (`json_format`), whose first
character says its JSON type (integers: a `regexp_like`). The local engine reads the fields of one
JSON value in one DuckDB multi-path extract (`local.shared_json_extracts`). A first form,
`CAST(... AS MAP(VARCHAR, JSON))` with `element_at` per field, was dropped: DuckDB's JSON-to-MAP
cast took 5.7 s per 100,000 lines (docs/adr/0011-compaction-as-sql.md).

Input: the compaction benchmark's raw lines (`compaction.raw_lines`), with faults mixed in: one
line in 500 each of invalid JSON, a JSON array, a string where an integer belongs, a float where
an integer belongs, an object where a string belongs, and a timestamp that does not parse. Both
parses run on the same Arrow table of lines (`_row`, `_obj`, `_rec`, `line`), in alternating
rounds; the run fails unless both give the same frame and the same malformed rows.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from typing import Final

import orjson
import pyarrow as pa

from clickstream.catalog import INVALID_TYPES_COLUMN, OBJ_COLUMN, REC_COLUMN, ROW_COLUMN, curated_name
from clickstream.events.schema import EVENT_FIELDS, FIELD_TYPES

# The job's parse before 2026-12-07 (DuckDB only: json_transform, json_type), kept as the baseline.
_JSON_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "string": ("VARCHAR",),
    "timestamp": ("VARCHAR",),
    "json": ("OBJECT",),
    "int8": ("BIGINT", "UBIGINT"),
    "int16": ("BIGINT", "UBIGINT"),
    "int32": ("BIGINT", "UBIGINT"),
    "int64": ("BIGINT", "UBIGINT"),
    "double": ("BIGINT", "UBIGINT", "DOUBLE"),
}


def duckdb_parse_sql() -> str:
    """The parse query: each line is parsed once (`json_transform` to a struct of JSON values),
    then per field: its JSON type, the typed value when the type is allowed, and whether a value
    was present (not missing, not JSON null) - present but untyped means an invalid type."""
    loose = ", ".join(f'"{f}": "JSON"' for f in EVENT_FIELDS)
    kinds, values, flags = [], [], []
    for f in EVENT_FIELDS:
        kind, col, src, t = FIELD_TYPES[f], curated_name(f), f'j."{f}"', f'"t_{f}"'
        kinds.append(f"json_type({src}) AS {t}")
        allowed = ", ".join(f"'{name}'" for name in _JSON_TYPES[kind])
        guard = f"{t} IN ({allowed})"
        if kind == "string":
            value = f"CASE WHEN {guard} THEN {src} ->> '$' END"
        elif kind == "timestamp":
            value = f"TRY_CAST(CASE WHEN {guard} THEN {src} ->> '$' END AS TIMESTAMPTZ)"
        elif kind == "json":
            value = f"CASE WHEN {guard} THEN CAST({src} AS VARCHAR) END"
        elif kind == "double":
            value = f"CASE WHEN {guard} THEN TRY_CAST({src} AS DOUBLE) END"
        else:
            value = f"CASE WHEN {guard} THEN TRY_CAST({src} AS BIGINT) END"
        values.append(f'{value} AS "{col}", coalesce({t} <> \'NULL\', false) AS "h_{f}"')
        flags.append(f"""CASE WHEN "h_{f}" AND "{col}" IS NULL THEN '{col}' END""")
    columns = ", ".join(f'"{curated_name(f)}"' for f in EVENT_FIELDS)
    keys = f"{ROW_COLUMN}, {OBJ_COLUMN}, {REC_COLUMN}"
    return f"""
SELECT {ROW_COLUMN}, {columns}, NULLIF(concat_ws(',', {", ".join(flags)}), '') AS {INVALID_TYPES_COLUMN},
       {OBJ_COLUMN}, {REC_COLUMN}, is_object, bad_line
FROM (
  SELECT {keys}, is_object, CASE WHEN NOT is_object THEN line END AS bad_line, {", ".join(values)}
  FROM (
    SELECT *, {", ".join(kinds)},
           coalesce(j IS NOT NULL AND starts_with(ltrim(line, E' \\t\\r\\n'), '{{'), false) AS is_object
    FROM (SELECT {keys}, line, TRY(json_transform(line, '{{{loose}}}')) AS j FROM lines)
  )
)
"""


def lines_with_faults(n: int) -> pa.Table:
    from benchmarks.batch.compaction import raw_lines

    rng = random.Random(11)
    out: list[str] = []
    for line in raw_lines(n):
        roll = rng.random() * 500
        if roll < 1:
            out.append(line.decode()[:-7])  # cut: invalid JSON
            continue
        if roll < 2:
            out.append("[1, 2]")
            continue
        event = orjson.loads(line)
        if roll < 3:
            event["http_status"] = "404"
        elif roll < 4:
            event["quantity"] = 2.5
        elif roll < 5:
            event["url"] = {"path": "/x"}
        elif roll < 6:
            event["timestamp"] = "yesterday"
        out.append(orjson.dumps(event).decode())
    count = len(out)
    return pa.table(
        {
            ROW_COLUMN: pa.array(range(count), pa.int64()),
            "_obj": pa.array([i // 10_000 for i in range(count)], pa.int32()),
            "_rec": pa.array([i % 10_000 + 1 for i in range(count)], pa.int32()),
            "line": pa.array(out, pa.large_string()),
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batch parse-spike", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)

    import duckdb

    from clickstream.jobs import compact_parse

    lines = lines_with_faults(args.events)
    print(f"{lines.num_rows:,} lines ({sum(len(s) for s in lines['line'].to_pylist()) / 1e6:.1f} MB)")
    frame_schema = compact_parse.FRAME_SCHEMA
    duckdb_sql = duckdb_parse_sql()

    def before() -> tuple[pa.Table, list[int]]:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.register("lines", lines)
        result = con.sql(duckdb_sql).to_arrow_table()
        con.close()
        bad = result.filter(pa.compute.invert(result["is_object"]))
        good = result.filter(result["is_object"]).select(frame_schema.names).cast(frame_schema)
        return good, sorted(bad[ROW_COLUMN].to_pylist())

    def athena() -> tuple[pa.Table, list[int]]:  # the job's parse now: sql/compaction/parse.sql
        frame, malformed = compact_parse._parse_lines(lines)
        return frame, sorted(m.row for m in malformed)

    runs = {"DuckDB json_transform (before)": before, "Athena SQL (the job now)": athena}
    times: dict[str, list[float]] = {k: [] for k in runs}
    outputs = {}
    for r in range(args.rounds):
        for name in list(runs) if r % 2 == 0 else list(runs)[::-1]:
            began = time.perf_counter()
            outputs[name] = runs[name]()
            times[name].append(time.perf_counter() - began)
            print(f"round {r + 1} {name:<28} {times[name][-1]:6.2f} s", flush=True)
    (a_frame, a_bad), (b_frame, b_bad) = outputs.values()
    a_frame, b_frame = a_frame.sort_by(ROW_COLUMN), b_frame.sort_by(ROW_COLUMN)
    same = a_bad == b_bad and a_frame.equals(b_frame)
    if not same:
        for col in a_frame.column_names:
            if not a_frame[col].equals(b_frame[col]):
                diff = [
                    (i, x, y)
                    for i, (x, y) in enumerate(zip(a_frame[col].to_pylist(), b_frame[col].to_pylist(), strict=True))
                    if x != y
                ]
                print(f"column {col}: {len(diff)} differ, e.g. {diff[:3]}")
        print(f"malformed: job {len(a_bad)}, athena {len(b_bad)}")
        return 1
    print(
        f"equal: {a_frame.num_rows:,} rows, {len(a_bad)} malformed, "
        f"{sum(1 for v in a_frame[INVALID_TYPES_COLUMN].to_pylist() if v)} with invalid types"
    )
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, m in medians.items():
        print(f"median {name:<28} {m:6.2f} s")
    print(f"duckdb {duckdb.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
