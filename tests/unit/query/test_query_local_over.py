"""LocalEngine.over(): Athena SQL on DuckDB over in-memory tables and local Parquet, no server."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from clickstream.adapters.query import QueryError, QueryTimeoutError, UnknownTableError
from clickstream.adapters.query.local import LocalEngine


def test_athena_functions_run_in_utc() -> None:
    engine = LocalEngine.over({"t": pa.table({"ts": [1763800000, 1763803600]})})
    out = engine.execute(
        "SELECT date_format(from_unixtime(ts), '%Y-%m-%d %H:%i') AS at, "
        "date_trunc('hour', from_unixtime(ts)) AS h FROM t ORDER BY ts"
    )
    assert out.column("at").to_pylist() == ["2025-11-22 08:26", "2025-11-22 09:26"]
    assert [v.hour for v in out.column("h").to_pylist()] == [8, 9]


def test_max_rows_caps_the_result() -> None:
    engine = LocalEngine.over({"t": pa.table({"x": list(range(50_000))})})
    out = engine.execute("SELECT x FROM t ORDER BY x DESC", max_rows=3)
    assert out.column("x").to_pylist() == [49_999, 49_998, 49_997]


def test_local_parquet_directory_keeps_partition_keys_as_strings(tmp_path: Path) -> None:
    table = pa.table({"n": [1, 2, 3], "dt": ["2026-11-21", "2026-11-22", "2026-11-22"], "hour": ["07", "08", "08"]})
    ds.write_dataset(table, tmp_path, format="parquet", partitioning=["dt", "hour"], partitioning_flavor="hive")
    engine = LocalEngine.over({"events": tmp_path})
    out = engine.execute("SELECT dt, hour, sum(n) AS n FROM events WHERE hour = '08' GROUP BY dt, hour")
    assert out.to_pylist() == [{"dt": "2026-11-22", "hour": "08", "n": 5}]


def test_unknown_and_foreign_tables_are_refused() -> None:
    engine = LocalEngine.over({"events": pa.table({"x": [1]})})
    with pytest.raises(UnknownTableError, match="tables there are: events"):
        engine.execute("SELECT * FROM missing")
    with pytest.raises(UnknownTableError):
        engine.execute("SELECT * FROM other_db.events")


def test_cte_names_are_not_tables() -> None:
    engine = LocalEngine.over({"events": pa.table({"x": [1, 2]})})
    out = engine.execute("WITH big AS (SELECT x FROM events WHERE x > 1) SELECT count(*) AS n FROM big")
    assert out.column("n").to_pylist() == [1]


def test_syntax_and_engine_errors_are_query_errors() -> None:
    engine = LocalEngine.over({"t": pa.table({"x": [1]})})
    with pytest.raises(QueryError, match="syntax"):
        engine.execute("SELECT FROM WHERE")
    with pytest.raises(QueryError, match="no_such_column"):
        engine.execute("SELECT no_such_column FROM t")


def test_explain_returns_a_plan() -> None:
    engine = LocalEngine.over({"t": pa.table({"x": [1]})})
    plan = engine.explain("SELECT x FROM t WHERE x > 0").upper()
    assert "FILTER" in plan and "ARROW_SCAN" in plan


def test_timeout_cancels_the_query() -> None:
    engine = LocalEngine.over({"t": pa.table({"x": [1]})})
    huge = (
        "SELECT count(*) FROM t CROSS JOIN UNNEST(sequence(1, 10000)) AS a(i) "
        "CROSS JOIN UNNEST(sequence(1, 10000)) AS b(j) CROSS JOIN UNNEST(sequence(1, 10000)) AS c(k)"
    )
    with pytest.raises(QueryTimeoutError, match=r"cancelled after 0\.3 s"):
        engine.execute(huge, timeout_s=0.3)


def test_duckdb_is_locked_down_even_without_the_guard(tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    engine = LocalEngine.over({"t": pa.table({"x": [1]})})
    with pytest.raises(QueryError, match=r"disabled by configuration|Permission"):
        engine.execute(f"SELECT * FROM t CROSS JOIN (SELECT * FROM read_csv('{secret}')) AS s")
