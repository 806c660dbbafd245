"""Spike: the quality gate evaluated by the engine (issue 17, "the quality gate runs where the data is").

    .venv/bin/python -m benchmarks.batch gate-spike                  # 1,000,000 events, 3 rounds
    .venv/bin/python -m benchmarks.batch gate-spike --events 20000 --rounds 1

On the same typed batch frame the compaction job builds (`compact_parse.parse_objects` over the
compaction benchmark's raw objects: ~1% duplicates, ~1% late, 0.1% failing a rule), in
alternating rounds:

  gx-pandas   what the job runs today: `compact_quality.gx_validator` (GX 1.x, pandas copy,
              COMPLETE result format with the failing rows' `_row`)
  sql         the versioned suite compiled to ONE SQL statement (`compile_suite`): a CASE per
              expectation that names it when the row fails, evaluated by DuckDB over the Arrow
              frame (no copy); the counts per expectation by one more aggregate

The rows each method would quarantine, and the names of the expectations each row failed, must be
identical, or the spike fails. Only column-map expectations are compiled; the table-level one
(the ordered column list) is a check of the frame's schema, in Python.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

SQL_TYPES = {"timestamp": "TIMESTAMP"}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batch gate-spike", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=3)
    return p.parse_args(argv)


def _literal(value: Any, parameters: Mapping[str, Any]) -> str:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return f"from_iso8601_timestamp('{parameters[value['$PARAMETER']]}')"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def compile_suite(suite: Mapping[str, Any], parameters: Mapping[str, Any]) -> tuple[list[str], str]:
    """(expectation names, the SQL of one row-failure expression per column-map expectation)."""
    from clickstream.quality.suite import QUARANTINE, expectation_name

    names, cases = [], []
    for e in suite["expectations"]:
        kind, kw = e["type"], e["kwargs"]
        if (e.get("meta") or {}).get("action", QUARANTINE) != QUARANTINE:
            continue
        col = f'"{kw["column"]}"' if "column" in kw else None
        if kind == "expect_column_values_to_not_be_null":
            fails = f"{col} IS NULL"
        elif kind == "expect_column_values_to_be_null":
            fails = f"{col} IS NOT NULL"
        elif kind == "expect_column_values_to_be_in_set":
            values = ", ".join(_literal(v, parameters) for v in kw["value_set"])
            fails = f"{col} IS NOT NULL AND {col} NOT IN ({values})"
        elif kind == "expect_column_values_to_be_between":
            bounds = []
            if kw.get("min_value") is not None:
                op = "<=" if kw.get("strict_min") else "<"
                bounds.append(f"{col} {op} {_literal(kw['min_value'], parameters)}")
            if kw.get("max_value") is not None:
                op = ">=" if kw.get("strict_max") else ">"
                bounds.append(f"{col} {op} {_literal(kw['max_value'], parameters)}")
            fails = f"{col} IS NOT NULL AND ({' OR '.join(bounds)})"
        else:
            continue  # table-level rules: checked on the schema, not per row
        names.append(expectation_name(kind, kw.get("column")))
        cases.append(fails)
    return names, cases


def sql_validator(frame: pa.Table, suite: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[int, list[str]]:
    """_row -> names of the failed quarantine expectations, evaluated by DuckDB over `frame`."""
    import duckdb
    import sqlglot

    names, cases = compile_suite(suite, parameters)
    flags = ", ".join(f"({case}) AS f{i}" for i, case in enumerate(cases))
    any_fail = " OR ".join(f"({case})" for case in cases)
    athena = f"SELECT _row, {flags} FROM batch WHERE {any_fail}"  # compiled from the suite, no input
    duck = sqlglot.transpile(athena, read="athena", write="duckdb")[0]
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone='UTC'")
    con.register("batch", frame)
    failed = con.sql(duck).to_arrow_table()
    con.close()
    out: dict[int, list[str]] = {}
    rows = failed.column("_row").to_pylist()
    columns = [failed.column(f"f{i}").to_pylist() for i in range(len(cases))]
    for j, row in enumerate(rows):
        out[int(row)] = [names[i] for i, col in enumerate(columns) if col[j]]
    return out


FAULTS = {  # column -> a value that breaks a rule, set on every 997th row (offset by the column)
    "user_id": None,
    "event_type": "teleport",
    "price": -1.0,
    "quantity": 0,
    "duration_ms": -5,
    "schema_version": 2,
    "_invalid_types": "http_status",
    "received_at": None,
}


def with_faults(frame: pa.Table) -> pa.Table:
    """The frame with a spread of rule violations beside the generator's own (http_status 777),
    so that the comparison covers every kind of rule. One row in 997 per fault; some overlap."""
    import numpy as np
    import pyarrow.compute as pc

    n = frame.num_rows
    for k, (column, value) in enumerate(FAULTS.items()):
        mask = pa.array((np.arange(n) % 997) == (k * 101) % 997)
        col = frame.column(column)
        frame = frame.set_column(
            frame.schema.get_field_index(column), column, pc.if_else(mask, pa.scalar(value, col.type), col)
        )
    late = pa.array((np.arange(n) % 991) == 7)
    col = frame.column("event_time")
    early = pa.scalar(pc.min(col).as_py().replace(year=2020), col.type)
    return frame.set_column(frame.schema.get_field_index("event_time"), "event_time", pc.if_else(late, early, col))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    from benchmarks.batch import compaction as b
    from clickstream.jobs.compact_parse import gunzip, parse_objects
    from clickstream.jobs.compact_quality import gx_validator
    from clickstream.quality.suite import FRAME_COLUMNS, MAX_EVENT_TIME, MIN_EVENT_TIME, load_suite

    with tempfile.TemporaryDirectory() as tmp:
        inp = b.write_input(args.events, Path(tmp))
        payloads = [gunzip((inp.directory / k).read_bytes())[0] for k in inp.keys]
    batch = parse_objects(payloads)
    frame = with_faults(batch.frame.select(list(FRAME_COLUMNS)))
    parameters = {
        MIN_EVENT_TIME: (b.START - timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
        MAX_EVENT_TIME: (b.START + timedelta(hours=1, seconds=300)).isoformat().replace("+00:00", "Z"),
    }
    suite = load_suite()
    times: dict[str, list[float]] = {"gx-pandas": [], "sql": []}
    verdicts: dict[str, dict[int, list[str]]] = {}
    for i in range(args.rounds):
        order = ("gx-pandas", "sql") if i % 2 == 0 else ("sql", "gx-pandas")
        for name in order:
            t0 = time.perf_counter()
            if name == "sql":
                got = sql_validator(frame, suite, parameters)
            else:
                got = {k: list(v) for k, v in gx_validator(frame, parameters, "spike").failures.items()}
            times[name].append(time.perf_counter() - t0)
            verdicts[name] = got
            print(f"round {i + 1} {name}: {times[name][-1]:.2f} s, {len(got)} rows failed", file=sys.stderr)
    same = {k: sorted(v) for k, v in verdicts["gx-pandas"].items()} == {
        k: sorted(v) for k, v in verdicts["sql"].items()
    }
    print(f"{frame.num_rows:,} rows; {len(verdicts['sql'])} fail; identical verdicts: {same}")
    print("| method | seconds per run (median) | runs |")
    print("| --- | ---: | --- |")
    for name, runs in times.items():
        print(f"| {name} | {statistics.median(runs):.2f} | {', '.join(f'{t:.2f}' for t in runs)} |")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
