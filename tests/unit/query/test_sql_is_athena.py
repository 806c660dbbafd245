"""The SQL in sql/ is Athena's, not DuckDB's: the local engine translates it with sqlglot, and sqlglot
reads much that only DuckDB runs (`x::int`, ILIKE, `[1, 2]`, `strftime(...)`, QUALIFY), so a file
could pass every local test and fail on Athena. Every file, rendered with its includes, is checked
token by token: each function it calls must be one Athena (engine v3, Trino) documents, and no
DuckDB-only syntax may appear. Compaction SQL that lands in sql/ is covered the same way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlglot.dialects.athena import Athena
from sqlglot.tokens import Token, TokenType

from clickstream.sqlfiles import load, placeholders, render, sql_files

# Functions of Athena engine v3 (Trino) this project may call. Add one only after finding it in
# https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html (or Trino's function list).
ATHENA_FUNCTIONS = frozenset(
    [
        "abs",
        "any_match",
        "approx_distinct",
        "approx_percentile",
        "arbitrary",
        "array_min",
        "array_agg",
        "array_join",
        "avg",
        "bool_and",
        "bool_or",
        "cardinality",
        "cast",
        "ceil",
        "coalesce",
        "concat",
        "contains",
        "count",
        "count_if",
        "cume_dist",
        "current_date",
        "date",
        "date_add",
        "date_diff",
        "date_format",
        "date_parse",
        "date_trunc",
        "day",
        "day_of_week",
        "dense_rank",
        "element_at",
        "every",
        "filter",
        "first_value",
        "floor",
        "format_datetime",
        "from_iso8601_timestamp",
        "from_unixtime",
        "greatest",
        "hour",
        "if",
        "json_extract",
        "json_extract_scalar",
        "json_format",
        "json_parse",
        "lag",
        "last_value",
        "lead",
        "least",
        "length",
        "listagg",
        "lower",
        "map",
        "map_agg",
        "max",
        "max_by",
        "min",
        "min_by",
        "minute",
        "mod",
        "month",
        "now",
        "nullif",
        "ntile",
        "parse_datetime",
        "percent_rank",
        "power",
        "rank",
        "reduce",
        "regexp_extract",
        "regexp_like",
        "regexp_replace",
        "replace",
        "round",
        "row_number",
        "sequence",
        "split",
        "split_part",
        "sqrt",
        "stddev",
        "strpos",
        "substr",
        "substring",
        "sum",
        "to_iso8601",
        "to_unixtime",
        "transform",
        "trim",
        "try",
        "try_cast",
        "typeof",
        "unnest",
        "upper",
        "url_extract_host",
        "url_extract_path",
        "variance",
        "year",
    ]
)
# Words that are followed by "(" in DDL without being functions.
DDL_WORDS = frozenset({"tblproperties", "serdeproperties", "unload"})
# Tokens sqlglot's Athena reader accepts but Athena does not run.
DUCKDB_ONLY_TOKENS = {TokenType.DCOLON: "`::` cast", TokenType.ILIKE: "ILIKE", TokenType.L_BRACE: "a {...} literal"}
DUCKDB_ONLY_WORDS = {"qualify": "QUALIFY", "exclude": "SELECT * EXCLUDE", "sample": "USING SAMPLE"}
PARAMS = {"start_dt": "2026-11-21", "end_dt": "2026-11-22", "bucket": "bucket"}


def athena_problems(sql: str) -> list[str]:
    """What in `sql` Athena would refuse, as readable lines (empty: nothing found)."""
    tokens = Athena().tokenize(sql)
    created = _created_tables(tokens)
    problems = []
    for i, token in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        before = tokens[i - 1] if i else None
        word = token.text.lower()
        where = f"line {token.line}"
        if token.token_type in DUCKDB_ONLY_TOKENS:
            problems.append(f"{where}: {DUCKDB_ONLY_TOKENS[token.token_type]} is DuckDB syntax")
        elif token.token_type == TokenType.VAR and word in DUCKDB_ONLY_WORDS:
            problems.append(f"{where}: {DUCKDB_ONLY_WORDS[word]} is DuckDB syntax")
        elif token.token_type == TokenType.L_BRACKET and (before is None or before.token_type not in _SUBSCRIPTABLE):
            problems.append(f"{where}: a [...] list literal is DuckDB syntax (Athena: ARRAY[...])")
        elif (token.token_type == TokenType.SLASH and after is not None and after.token_type == TokenType.SLASH) or (
            token.token_type == TokenType.STAR and after is not None and after.token_type == TokenType.STAR
        ):
            problems.append(f"{where}: `{token.text}{after.text}` is DuckDB syntax")
        elif (
            token.token_type == TokenType.VAR
            and after is not None
            and after.token_type == TokenType.L_PAREN
            and word not in ATHENA_FUNCTIONS
            and word not in DDL_WORDS
            and word not in created
        ):
            problems.append(f"{where}: {token.text}() is not an Athena function this project knows")
    return problems


_SUBSCRIPTABLE = {TokenType.VAR, TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.ARRAY, TokenType.IDENTIFIER}


def _created_tables(tokens: list[Token]) -> set[str]:
    """Names right after CREATE [EXTERNAL] TABLE [IF NOT EXISTS] (followed by their column list)."""
    names = set()
    for i, token in enumerate(tokens):
        if token.token_type == TokenType.TABLE:
            rest = [t for t in tokens[i + 1 : i + 6] if t.text.lower() not in {"if", "not", "exists"}]
            if rest:
                names.add(rest[0].text.lower())
    return names


def rendered_files() -> Iterator[tuple[str, str]]:
    for rel in sql_files():
        text = load(rel)
        yield rel, render(text, {k: PARAMS[k] for k in placeholders(text)})


@pytest.mark.parametrize(("rel", "sql"), list(rendered_files()), ids=[rel for rel, _ in rendered_files()])
def test_every_sql_file_is_athena_sql(rel: str, sql: str) -> None:
    assert athena_problems(sql) == [], f"sql/{rel}"


@pytest.mark.parametrize(
    "duckdb_only",
    [
        "SELECT x::int FROM events",
        "SELECT * FROM events WHERE url ILIKE '/a%'",
        "SELECT strftime(event_time, '%Y') FROM events",
        "SELECT list_filter(a, y -> y > 1) FROM events",
        "SELECT [1, 2] AS a FROM events",
        "SELECT {'a': 1} AS s FROM events",
        "SELECT a FROM events QUALIFY row_number() OVER (PARTITION BY a) = 1",
        "SELECT * EXCLUDE (a) FROM events",
        "SELECT a // 2 FROM events",
        "SELECT a ** 2 FROM events",
        "SELECT epoch_ms(a) FROM events",
    ],
)
def test_the_check_refuses_what_only_duckdb_runs(duckdb_only: str) -> None:
    assert athena_problems(duckdb_only) != []


def test_the_check_accepts_athena_forms_of_the_same() -> None:
    athena = """
        SELECT CAST(x AS integer), lower(url) LIKE '/a%', date_format(event_time, '%Y'),
               filter(a, y -> y > 1), ARRAY[1, 2], a[1], element_at(m, 'k'), CAST(ROW(1) AS ROW(a integer)),
               a / 2, power(a, 2), max_by(a, b)
        FROM events
    """
    assert athena_problems(athena) == []


def test_the_statements_the_api_hands_out_for_the_engine_are_athena_sql() -> None:
    # a page-views or top-pages range too large to scan in the API answers with these
    from datetime import UTC, datetime

    from clickstream.api import params, service

    span = params.TimeRange(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 22, 6, tzinfo=UTC))
    for sql in (service.page_views_sql("/it's", span), service.top_pages_sql(span, 10)):
        assert athena_problems(sql) == [], sql


def test_the_url_path_in_the_metric_files_is_the_one_url_dimension_sql() -> None:
    from clickstream.metrics.definitions import URL_DIMENSION_SQL

    files = [(rel, sql) for rel, sql in rendered_files() if "split_part(" in sql]
    assert len(files) >= 2
    for rel, sql in files:
        assert f"{URL_DIMENSION_SQL} AS url_path" in sql, f"sql/{rel}: use definitions.URL_DIMENSION_SQL"


def test_the_statements_the_batch_metrics_job_sends_are_athena_sql() -> None:
    # the job does not send the files as they are: a LIMIT 0 probe, an UNLOAD per metric, and the
    # batch view's reads (the same text runs on the local engine)
    from datetime import date

    from clickstream.jobs import batch_metrics as job
    from clickstream.jobs.metrics_view import VIEW_INPUTS

    day = date(2026, 11, 22)
    location = "s3://bucket/curated/metrics/x/v=20261122T000000000000Z-run/"
    for name in job.metric_names():
        unload = job.unload_sql(name, day, day, ["a", "b", "dt"], location)
        assert unload.startswith("UNLOAD (SELECT") and "partitioned_by = ARRAY['dt']" in unload
        assert athena_problems(unload) == [], name
    for name in VIEW_INPUTS:
        assert athena_problems(job._view_sql(name, day, day)) == [], name


def test_the_statements_the_compaction_job_sends_are_athena_sql() -> None:
    # the compaction in the engine (ADR 0011): stage, counts, examples, quarantine, dedupe, publish
    from clickstream.adapters.query.unload import JSON_COMPRESSION, JSON_FORMAT, Unload
    from clickstream.jobs import compact_sql as sql
    from clickstream.quality.compiled import compile_suite
    from clickstream.quality.suite import MAX_EVENT_TIME, MIN_EVENT_TIME, load_suite

    rules = compile_suite(
        load_suite(), {MIN_EVENT_TIME: "2026-11-22T09:00:00.000Z", MAX_EVENT_TIME: "2026-11-22T11:05:00.000Z"}
    )
    run = "20261122T110000000000Z-scheduled__2026-11-22T10_00_00_00_00"
    objects = [(("2026-11-22", "10"), "raw/events/dt=2026-11-22/hour=10/a.ndjson.gz")]
    partitions = [("2026-11-22", "09"), ("2026-11-22", "10")]
    statements = {
        "stage": Unload(sql.stage_select(objects, "bucket", rules), "s3://bucket/staging/x/").sql(),
        "stats": sql.stats_select(rules, run),
        **{f"examples {r.name}": sql.examples_select(r, run) for r in rules if r.fails is not None},
        "quarantine": Unload(
            sql.quarantine_select(run, "scheduled__2026-11-22T10:00:00+00:00", "bucket"),
            "s3://bucket/quarantine/events/run_id=x/",
            compression=JSON_COMPRESSION,
            format=JSON_FORMAT,
        ).sql(),
        "firsts": sql.firsts_select(run),
        "counts": sql.counts_select(run, partitions[:1]),
        "publish": sql.publish_unload(
            sql.publish_select(run, partitions[:1], partitions, partitions[:1]), "s3://bucket/staging/x/publish/000/"
        ).sql(),
    }
    for name, statement in statements.items():
        assert athena_problems(statement) == [], name
    assert "$path" in statements["stage"] and "json_parse" in statements["stage"]
