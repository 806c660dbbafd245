"""`clickstream query` against the moto server: formats, row cap, explain, and errors that say what to do."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner
from support.metrics_lake import register_curated

from clickstream.adapters.query import s3_filesystem
from clickstream.catalog import EVENTS
from clickstream.cli import main
from clickstream.settings import Settings


def _seed(settings: Settings, n: int = 30) -> None:
    at = datetime.fromisoformat("2026-11-22T07:00:00+00:00")
    table = pa.table(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "event_type": ["click" if i % 3 else "page_view" for i in range(n)],
            "event_time": pa.array([at] * n, pa.timestamp("ms", tz="UTC")),
            "price": [1.5] * n,
        }
    )
    path = f"{settings.names.bucket}/{EVENTS.partition_prefix({'dt': '2026-11-22', 'hour': '07'})}part-0.parquet"
    pq.write_table(table, path, filesystem=s3_filesystem(settings))
    register_curated(settings, [("2026-11-22", "07")])


def test_table_csv_json_and_parquet_output(settings: Settings, tmp_path: Path) -> None:
    _seed(settings)
    runner = CliRunner()
    sql = "SELECT event_type, count(*) AS n FROM events WHERE dt = '2026-11-22' GROUP BY 1 ORDER BY 1"

    table = runner.invoke(main, ["query", sql])
    assert table.exit_code == 0, table.output
    assert "page_view" in table.stdout and "│" in table.stdout and "2 row(s)" in table.stderr

    csv = runner.invoke(main, ["query", sql, "--format", "csv"])
    assert csv.stdout.splitlines() == ['"event_type","n"', '"click",20', '"page_view",10']

    js = runner.invoke(
        main,
        [
            "query",
            "SELECT event_id, event_time, dt FROM events ORDER BY event_id",
            "--format",
            "json",
            "--max-rows",
            "2",
        ],
    )
    assert json.loads(js.stdout) == [
        {"event_id": "e0", "event_time": "2026-11-22T07:00:00+00:00", "dt": "2026-11-22"},
        {"event_id": "e1", "event_time": "2026-11-22T07:00:00+00:00", "dt": "2026-11-22"},
    ]

    out = tmp_path / "events.parquet"
    pq_run = runner.invoke(main, ["query", "SELECT * FROM events", "--format", "parquet", "-o", str(out)])
    assert pq_run.exit_code == 0, pq_run.output
    assert pq.read_table(out).num_rows == 30


def test_sql_file_with_params_and_explain(settings: Settings, tmp_path: Path) -> None:
    _seed(settings)
    sql_file = tmp_path / "q.sql"
    sql_file.write_text("SELECT count(*) AS n FROM events WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'\n")
    runner = CliRunner()
    ok = runner.invoke(
        main, ["query", "-f", str(sql_file), "-p", "start_dt=2026-11-22", "-p", "end_dt=2026-11-22", "--format", "csv"]
    )
    assert ok.stdout.splitlines() == ['"n"', "30"]
    bad = runner.invoke(main, ["query", "-f", str(sql_file), "-p", "start_dt=2026-11-22' OR 1=1 --"])
    assert bad.exit_code == 1 and "end_dt" in bad.output
    plan = runner.invoke(
        main, ["query", "--explain", "SELECT event_type, count(*) FROM events WHERE dt = '2026-11-22' GROUP BY 1"]
    )
    assert plan.exit_code == 0 and "READ_PARQUET" in plan.stdout.upper()  # DuckDB reads the files itself


def test_errors_say_what_to_do(settings: Settings) -> None:
    runner = CliRunner()
    unknown = runner.invoke(main, ["query", "SELECT * FROM pageviews"])
    assert unknown.exit_code == 1
    assert "unknown table pageviews" in unknown.output and "events" in unknown.output and "raw_events" in unknown.output
    drop = runner.invoke(main, ["query", "DROP TABLE events"])
    assert drop.exit_code == 1 and "only SELECT" in drop.output
    usage = runner.invoke(main, ["query", "SELECT 1", "--format", "parquet"])
    assert usage.exit_code == 2 and "--output" in usage.output
