"""The local engine's one plan choice on top of sqlglot's translation: several `json_extract` of the
same JSON in one SELECT list read it once (`local.shared_json_extracts`). Same results, always."""

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


def test_the_rewrite_gives_the_rows_sqlglots_translation_gives() -> None:
    import duckdb

    rewritten = LocalEngine.over({"lines": LINES}).execute(SQL).to_pylist()
    con = duckdb.connect()
    con.register("lines", LINES)
    plain = con.sql(parse_one(SQL).sql(dialect=DUCKDB_DIALECT)).to_arrow_table().to_pylist()
    assert rewritten == plain
    assert rewritten[0] == {"a": '"x"', "b": "2", "n": '{"k":[1,2]}', "nested": "[1,2]", "a_again": '"x"'}
    assert rewritten[1]["a"] == "null" and rewritten[1]["b"] is None


def test_a_single_key_or_keys_of_other_values_are_left_alone() -> None:
    duck = to_duckdb(parse_one("SELECT json_extract(j, '$.a') AS a, json_extract(k, '$.b') AS b FROM t"))
    assert "LIST_EXTRACT" not in duck and "j -> '$.a'" in duck and "k -> '$.b'" in duck
