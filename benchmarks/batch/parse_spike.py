"""Spike: the compaction's parse step as Athena SQL over raw lines, beside the job's DuckDB-only parse.

    .venv/bin/python -m benchmarks.batch parse-spike [--events 1000000] [--rounds 3]

Compaction as SQL (issue 17) needs its first step, NDJSON line → typed columns with the contract's
JSON-type rules (`compact_parse`), in Athena's dialect, so that Athena runs it in AWS and DuckDB,
after sqlglot, on the laptop. The job's parse uses DuckDB's `json_transform` and `json_type`, which
Athena does not have. This spike writes it with what both engines share: `json_parse` once per
line (only a line that starts with `{`), `json_extract(m, '$.<field>')` per field, and the
value's JSON text (`json_format`), whose first character says its JSON type (integers: a
`regexp_like`). The local engine reads the fields of one JSON value in one DuckDB multi-path
extract (`local.shared_json_extracts`). A first form, `CAST(... AS MAP(VARCHAR, JSON))` with
`element_at` per field, was dropped: DuckDB's JSON-to-MAP cast took 5.7 s per 100,000 lines
(docs/adr/0011-compaction-as-sql.md).

Input: the compaction benchmark's raw lines (`compaction.raw_lines`), with faults mixed in: one
line in 500 each of invalid JSON, a JSON array, a string where an integer belongs, a float where
an integer belongs, an object where a string belongs, and a timestamp that does not parse. Both
parses run on the same Arrow table of lines (`_row`, `_obj`, `_rec`, `line`) on the local engine,
in alternating rounds; the run fails unless both give the same frame and the same malformed rows.
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

from clickstream.catalog import curated_name
from clickstream.events.schema import EVENT_FIELDS, FIELD_TYPES
from clickstream.quality.suite import INVALID_TYPES_COLUMN, ROW_COLUMN

# the first character of a JSON value's text, by the JSON types each logical type accepts
_FIRST: Final[dict[str, str]] = {"string": '"', "timestamp": '"', "json": "{"}
_INTEGER: Final = "^-?[0-9]+$"
_NUMBER: Final = "^-?[0-9]"


def athena_parse_sql(table: str = "lines") -> str:
    """The parse in Athena's dialect: the job's frame columns, `is_object`, `bad_line`."""
    values, flags = [], []
    for f in EVENT_FIELDS:
        kind, col = FIELD_TYPES[f], curated_name(f)
        text = f'"t_{f}"'
        if kind in _FIRST:
            ok = f"substr({text}, 1, 1) = '{_FIRST[kind]}'"
        elif kind == "double":
            ok = f"regexp_like({text}, '{_NUMBER}')"
        else:
            ok = f"regexp_like({text}, '{_INTEGER}')"
        scalar = f"json_extract_scalar(\"v_{f}\", '$')"
        if kind == "string":
            value = f"CASE WHEN {ok} THEN {scalar} END"
        elif kind == "timestamp":
            value = f"try(from_iso8601_timestamp(CASE WHEN {ok} THEN {scalar} END))"
        elif kind == "json":
            value = f"CASE WHEN {ok} THEN {text} END"
        elif kind == "double":
            value = f"CASE WHEN {ok} THEN try_cast({text} AS double) END"
        else:
            value = f"CASE WHEN {ok} THEN try_cast({text} AS bigint) END"
        values.append(f'{value} AS "{col}", coalesce({text} <> \'null\', false) AS "h_{f}"')
        flags.append(f"""CASE WHEN "h_{f}" AND "{col}" IS NULL THEN '{col}' END""")
    extract = ", ".join(f"json_extract(m, '$.{f}') AS \"v_{f}\"" for f in EVENT_FIELDS)
    texts = ", ".join(f'json_format("v_{f}") AS "t_{f}"' for f in EVENT_FIELDS)
    columns = ", ".join(f'"{curated_name(f)}"' for f in EVENT_FIELDS)
    keys = f"{ROW_COLUMN}, _obj, _rec"
    return f"""
SELECT {ROW_COLUMN}, {columns},
       nullif(concat_ws(',', {", ".join(flags)}), '') AS {INVALID_TYPES_COLUMN},
       _obj, _rec, m IS NOT NULL AS is_object, CASE WHEN m IS NULL THEN line END AS bad_line
FROM (
  SELECT {keys}, line, m, {", ".join(values)}
  FROM (
    SELECT *, {texts}
    FROM (
      SELECT *, {extract}
      FROM (
        SELECT {keys}, line,
               CASE WHEN substr(ltrim(line), 1, 1) = '{{' THEN try(json_parse(line)) END AS m
        FROM {table}
      )
    )
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

    from clickstream.adapters.query.local import LocalEngine
    from clickstream.jobs import compact_parse

    lines = lines_with_faults(args.events)
    print(f"{lines.num_rows:,} lines ({sum(len(s) for s in lines['line'].to_pylist()) / 1e6:.1f} MB)")
    engine = LocalEngine.over({"lines": lines})
    athena_sql = athena_parse_sql()
    frame_schema = compact_parse.FRAME_SCHEMA

    def ours() -> tuple[pa.Table, list[int]]:
        frame, malformed = compact_parse._parse_lines(lines)
        return frame, sorted(m.row for m in malformed)

    def athena() -> tuple[pa.Table, list[int]]:
        result = engine.execute(athena_sql)
        bad = result.filter(pa.compute.invert(result["is_object"]))
        good = result.filter(result["is_object"]).select(frame_schema.names).cast(frame_schema)
        return good, sorted(bad[ROW_COLUMN].to_pylist())

    runs = {"job (DuckDB json_transform)": ours, "Athena SQL via sqlglot": athena}
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
