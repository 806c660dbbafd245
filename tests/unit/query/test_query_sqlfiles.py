"""sql/ files: strict placeholder rendering, includes, and the DDL generated from clickstream.catalog (one source)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import sqlglot

from clickstream import sqlfiles
from clickstream.catalog import EVENTS, FIXED_TABLES, RAW_EVENTS, Column, metric_table
from clickstream.constants import SESSION_GAP_SECONDS
from clickstream.sqlfiles import SqlTemplateError, render


def test_render_fills_placeholders() -> None:
    sql = "SELECT * FROM events WHERE dt BETWEEN '{{ start_dt }}' AND '{{end_dt}}' LIMIT {{ n }}"
    out = render(sql, {"start_dt": "2026-11-21", "end_dt": "2026-11-22", "n": "10", "unused": "x"})
    assert out == "SELECT * FROM events WHERE dt BETWEEN '2026-11-21' AND '2026-11-22' LIMIT 10"


def test_missing_placeholder_is_an_error() -> None:
    with pytest.raises(SqlTemplateError, match="end_dt"):
        render("'{{ start_dt }}' '{{ end_dt }}'", {"start_dt": "2026-11-21"})


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-21' OR '1'='1",
        "1; DROP TABLE events",
        "x--",
        "a b",
        "it's",
        "2026-11-21/*",
        "",
        "bucket--name",
        "${dt}",
        "'",
        "名前",
    ],
)
def test_values_outside_the_strict_patterns_are_refused(value: str) -> None:
    with pytest.raises(SqlTemplateError, match="not a date"):
        render("'{{ v }}'", {"v": value})


@pytest.mark.parametrize("value", ["2026-11-21", "42", "-1", "metric_daily", "clickstream-local-lake", "a.b-c"])
def test_strict_patterns_accept_dates_ints_identifiers_buckets(value: str) -> None:
    assert render("{{ v }}", {"v": value}) == value


@pytest.mark.parametrize("text", ["{{ 1abc }}", "{{ a b }}", "{{start_dt", "}}"])
def test_malformed_placeholders_are_errors(text: str) -> None:
    with pytest.raises(SqlTemplateError):
        render(text, {"start_dt": "2026-11-21"})


def test_load_stays_inside_sql_dir() -> None:
    assert "CREATE EXTERNAL TABLE" in sqlfiles.load("ddl/events.sql")
    with pytest.raises(SqlTemplateError, match="outside"):
        sqlfiles.load("../pyproject.toml")
    with pytest.raises(SqlTemplateError, match="no SQL file"):
        sqlfiles.load("ddl/nope.sql")


@pytest.fixture
def sql_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty `sql/` with an `include/` folder, in place of the repository's."""
    (tmp_path / "include").mkdir()
    monkeypatch.setattr(sqlfiles, "sql_dir", lambda: tmp_path)
    return tmp_path


def test_an_include_is_spliced_in_before_the_placeholders_are_filled(sql_root: Path) -> None:
    (sql_root / "include" / "recent.sql").write_text("-- why\nrecent AS (SELECT * FROM events WHERE n > {{ n }})\n")
    out = render("WITH {{> include/recent.sql }},\nlast AS (SELECT 1)\nSELECT * FROM recent", {"n": "5"})
    assert out == "WITH -- why\nrecent AS (SELECT * FROM events WHERE n > 5),\nlast AS (SELECT 1)\nSELECT * FROM recent"


def test_a_missing_include_is_an_error_naming_it_and_its_line(sql_root: Path) -> None:
    with pytest.raises(SqlTemplateError, match=r"include/nope\.sql \}\} on line 2: no SQL file"):
        render("WITH a AS (SELECT 1),\n{{> include/nope.sql }},\nSELECT 1", {})


@pytest.mark.parametrize(
    ("fragment", "error"),
    [("", "holds no SQL"), ("-- only a comment\n\n", "holds no SQL"), ("{{> include/other.sql }}", "nested")],
)
def test_an_empty_or_nested_include_is_an_error(sql_root: Path, fragment: str, error: str) -> None:
    (sql_root / "include" / "frag.sql").write_text(fragment)
    (sql_root / "include" / "other.sql").write_text("x AS (SELECT 1)")
    with pytest.raises(SqlTemplateError, match=error):
        render("WITH {{> include/frag.sql }} SELECT 1", {})


@pytest.mark.parametrize(
    "marker", ["{{> metrics/sessions.sql }}", "{{> include/../ddl/events.sql }}", "{{> include/sessionize }}"]
)
def test_only_files_in_sql_include_can_be_included(marker: str) -> None:
    with pytest.raises(SqlTemplateError, match="can be included"):
        render(f"WITH {marker} SELECT 1", {})


def test_a_malformed_include_is_an_error() -> None:
    with pytest.raises(SqlTemplateError, match="malformed placeholder"):
        render("WITH {{> }} SELECT 1", {})


def test_builtin_params_fill_in_unless_given() -> None:
    assert render("{{ session_gap_ms }}", {}) == str(SESSION_GAP_SECONDS * 1000)
    assert render("{{ session_gap_ms }}", {"session_gap_ms": "60000"}) == "60000"


def test_sql_files_leaves_out_the_fragments() -> None:
    assert (sqlfiles.sql_dir() / "include" / "sessionize.sql").is_file()
    assert not [f for f in sqlfiles.sql_files() if f.startswith("include/")]


def test_ddl_files_are_generated_from_the_catalog() -> None:
    """If this fails, run `python -m clickstream.sqlfiles` and commit sql/ddl/."""
    for rel, text in sqlfiles.generated_files().items():  # the DDL and the event parse
        assert sqlfiles.load(rel) == text, f"sql/{rel} is stale: run `python -m clickstream.sqlfiles`"
    assert {f"ddl/{t.name}.sql" for t in FIXED_TABLES} == set(sqlfiles.sql_files("ddl"))


@pytest.mark.parametrize(
    "table", [*FIXED_TABLES, metric_table("daily", (Column("events", "bigint"), Column("rev", "decimal(38,6)")))]
)
def test_ddl_round_trips_to_the_same_table(table: object) -> None:
    text = render(sqlfiles.render_ddl(table), {"bucket": "clickstream-local-lake"})  # type: ignore[arg-type]
    parsed, bucket, params = sqlfiles.table_from_ddl(sqlglot.parse_one(text, read="athena"))
    assert parsed == table
    assert bucket == "clickstream-local-lake"
    if table.versioned:  # type: ignore[attr-defined]
        assert params["clickstream.versioned"] == "true" and "projection.enabled" not in params
    else:
        assert params["projection.enabled"] == "true" and "clickstream.versioned" not in params


def test_projection_follows_the_partition_keys() -> None:
    raw = sqlfiles.projection_parameters(RAW_EVENTS, "s3://b/raw/events/")
    assert raw["storage.location.template"] == "s3://b/raw/events/dt=${dt}/hour=${hour}/"
    assert raw["projection.hour.digits"] == "2"
    day_table = replace(metric_table("d", (Column("n", "bigint"),)), versioned=False)
    daily = sqlfiles.projection_parameters(day_table, "s3://b/m/")
    assert daily["storage.location.template"] == "s3://b/m/dt=${dt}/"
    assert "projection.hour.type" not in daily
    assert sqlfiles.storage_format(RAW_EVENTS).serde == "org.openx.data.jsonserde.JsonSerDe"


def test_the_versioned_events_table_has_no_projection_athena_reads_its_registered_versions() -> None:
    # a projection's template cannot name a partition's version, and Athena reads a location with
    # everything below it: every version at once (docs/adr/0008-curated-table-format.md)
    assert EVENTS.versioned and not RAW_EVENTS.versioned
    assert metric_table("d", (Column("n", "bigint"),)).versioned, "the batch metrics job UNLOADs versions too"
    assert sqlfiles.projection_parameters(EVENTS, "s3://b/curated/events/") == {}
    assert sqlfiles.version_parameters(EVENTS) == {"clickstream.versioned": "true"}
    assert sqlfiles.version_parameters(RAW_EVENTS) == {}
    assert EVENTS.version_prefix({"dt": "2026-11-22", "hour": "07"}, "x") == (
        "curated/events/v=x/dt=2026-11-22/hour=07/"
    )
    ddl = sqlfiles.render_ddl(EVENTS)
    assert "projection.enabled" not in ddl and "'clickstream.versioned' = 'true'" in ddl


def test_sql_files_lists_ddl_first() -> None:
    files = sqlfiles.sql_files()
    assert files[: len(FIXED_TABLES)] == sorted(f"ddl/{t.name}.sql" for t in FIXED_TABLES)


def test_a_missing_or_empty_sql_folder_is_an_error_not_an_empty_list(sql_root: Path) -> None:
    from clickstream.jobs.batch_metrics import metric_names

    with pytest.raises(SqlTemplateError, match=r"no SQL folder sql/metrics at .*ship beside the clickstream package"):
        metric_names()  # what the batch-metrics job runs: never "no metrics, success"
    (sql_root / "metrics").mkdir()
    (sql_root / "metrics" / "README.md").write_text("notes, no SQL\n")
    with pytest.raises(SqlTemplateError, match=r"no runnable \.sql file under sql/metrics"):
        metric_names()
    (sql_root / "metrics" / "daily.sql").write_text("SELECT 1 AS dt\n")
    assert metric_names() == ["daily"]
    with pytest.raises(SqlTemplateError, match=r"no runnable \.sql file under sql/"):
        sqlfiles.sql_files("include")  # fragments only: nothing there runs on its own
