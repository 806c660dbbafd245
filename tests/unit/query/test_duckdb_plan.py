"""The local engine's two plan choices on top of sqlglot's translation: several `json_extract` of the
same JSON in one SELECT list read it once (`local.shared_json_extracts`), and a WITH query that only
picks columns of a table is scanned by each reader instead of copied (`local.inline_column_ctes`).
Same results, always."""

from __future__ import annotations

import pyarrow as pa

from clickstream.adapters.query.engine import parse_one
from clickstream.adapters.query.local import DUCKDB_DIALECT, LocalEngine, to_duckdb

LINES = pa.table(
    {
        "line": [
            '{"a": "x", "b_c": 2, "n": {"k": [1, 2]}}',
            '{"a": null}',
            '{"b_c": 4.5, "a": "y", "extra": true}',
            "[1, 2]",
            None,
        ]
    }
)
SQL = """
SELECT json_format(json_extract(j, '$.a')) AS a,
       json_format(json_extract(j, '$.b_c')) AS b,
       json_format(json_extract(j, '$.n')) AS n,
       json_format(json_extract(j, '$.n.k')) AS nested,
       json_format(json_extract(j, '$.a')) AS a_again
FROM (SELECT try(json_parse(line)) AS j FROM lines)
"""


def test_the_keys_of_one_json_are_read_in_one_extract() -> None:
    duck = to_duckdb(parse_one(SQL))
    assert duck.count("JSON_EXTRACT(j, ['$.a', '$.b_c', '$.n'])") == 4  # a, b, n, a again: one list
    assert "j -> '$.n.k'" in duck, "a nested path stays as it was"


def plain_rows(sql: str, name: str, table: pa.Table) -> list[dict[str, object]]:
    """The rows of sqlglot's translation alone, without the engine's plan choices."""
    import duckdb

    con = duckdb.connect()
    con.register(name, table)
    return list(con.sql(parse_one(sql).sql(dialect=DUCKDB_DIALECT)).to_arrow_table().to_pylist())


def test_the_rewrite_gives_the_rows_sqlglots_translation_gives() -> None:
    rewritten = LocalEngine.over({"lines": LINES}).execute(SQL).to_pylist()
    assert rewritten == plain_rows(SQL, "lines", LINES)
    assert rewritten[0] == {"a": '"x"', "b": "2", "n": '{"k":[1,2]}', "nested": "[1,2]", "a_again": '"x"'}
    assert rewritten[1]["a"] == "null" and rewritten[1]["b"] is None


def test_a_single_key_or_keys_of_other_values_are_left_alone() -> None:
    duck = to_duckdb(parse_one("SELECT json_extract(j, '$.a') AS a, json_extract(k, '$.b') AS b FROM t"))
    assert "LIST_EXTRACT" not in duck and "j -> '$.a'" in duck and "k -> '$.b'" in duck


EVENTS = pa.table(
    {
        "user_id": ["u1", "u1", "u2", "u3", None],
        "session_id": ["s1", None, None, "s2", "s3"],
        "dt": ["2026-11-22", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-22"],
    }
)
TWO_READERS = """
WITH scoped AS (SELECT user_id, session_id AS sid, dt FROM events WHERE dt BETWEEN '2026-11-22' AND '2026-11-23'),
counted AS (SELECT dt, count(*) AS n FROM scoped GROUP BY dt),
shaped AS (SELECT upper(user_id) AS u FROM events),
everything AS (SELECT * FROM events)
SELECT s.dt, s.user_id, c.n, (SELECT count(*) FROM scoped WHERE sid IS NULL) AS without
FROM scoped AS s JOIN counted AS c ON c.dt = s.dt
ORDER BY s.dt, s.user_id
"""


def test_a_with_query_of_plain_columns_is_scanned_by_each_reader() -> None:
    duck = to_duckdb(parse_one(TWO_READERS))
    assert "scoped AS NOT MATERIALIZED (" in duck
    assert "everything AS NOT MATERIALIZED (" in duck
    assert "counted AS (" in duck, "an aggregate is computed once, as DuckDB chooses"
    assert "shaped AS (" in duck, "an expression is computed once, as DuckDB chooses"


def test_inlined_with_queries_give_the_rows_sqlglots_translation_gives() -> None:
    inlined = LocalEngine.over({"events": EVENTS}).execute(TWO_READERS).to_pylist()
    assert inlined == plain_rows(TWO_READERS, "events", EVENTS)
    assert [(r["dt"], r["user_id"], r["n"], r["without"]) for r in inlined] == [
        ("2026-11-22", "u1", 3, 2),
        ("2026-11-22", "u1", 3, 2),
        ("2026-11-22", None, 3, 2),
        ("2026-11-23", "u2", 1, 2),
    ]


def test_a_with_query_over_a_stream_read_by_two_readers_reads_every_row() -> None:
    # GIVEN raw lines as one stream (a RecordBatchReader, which DuckDB can scan only once)
    table = pa.table({"x": list(range(10_000)), "y": [i % 7 for i in range(10_000)]})
    stream = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1_000))
    sql = """
    WITH a AS (SELECT x, y FROM s)
    SELECT (SELECT count(*) FROM a WHERE y = 1) AS ones, (SELECT sum(x) FROM a WHERE y = 2) AS twos
    """
    assert "a AS NOT MATERIALIZED (" in to_duckdb(parse_one(sql))
    # THEN both readers see every row: DuckDB still reads the stream once for them
    (row,) = LocalEngine.over({"s": stream}).execute(sql).to_pylist()
    assert row == {
        "ones": sum(1 for i in range(10_000) if i % 7 == 1),
        "twos": sum(i for i in range(10_000) if i % 7 == 2),
    }
