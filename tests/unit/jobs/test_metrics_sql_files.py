"""The sql/metrics files follow their conventions: Athena SQL that the local engine translates, a day
filter on the partitions, a `dt` result column, and one sessionization (sql/include/sessionize.sql)
that every file working on events' sessions includes, with the gap from
`constants.SESSION_GAP_SECONDS`; the per-session files read `metric_sessions` instead, and hourly
traffic reads its distinct users and sessions from `metric_uniques`, so a run sessionizes each event
once for them all."""

from __future__ import annotations

import re

import pytest
import sqlglot
from metrics_support import END, START, _ev, curated_table

from clickstream.adapters.query.local import LocalEngine
from clickstream.constants import SESSION_GAP_SECONDS
from clickstream.jobs.batch_metrics import metric_names, metric_sql, run_order, upstream
from clickstream.sqlfiles import load, placeholders, render, sql_dir

DAY_FILTER = "dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'"
FRAGMENT = "include/sessionize.sql"
INCLUDE_MARKER = "{{> include/sessionize.sql }}"
SESSION_BASED = ("sessions", "uniques")  # sessionize events (sessions active per hour)
READS_SESSIONS = ("commerce", "engagement", "funnel")  # per-session figures: read metric_sessions
READS_UNIQUES = ("hourly_traffic",)  # distinct users and sessions per hour: read metric_uniques
# What only the fragment may spell out: the gap test and the inferred-session numbering.
SESSIONIZE_CODE = re.compile(r"\blag\s*\(|\bnew_session\b|session_gap_ms|\b1800(?:000)?\b", re.IGNORECASE)
COMMENT = re.compile(r"--[^\n]*")
DATES = {"start_dt": START.isoformat(), "end_dt": END.isoformat()}


@pytest.mark.parametrize("name", metric_names())
def test_each_file_is_one_documented_select_over_the_lake_filtered_by_day(name: str) -> None:
    text = load(f"metrics/{name}.sql")
    assert text.startswith("-- "), "the header comment states what the metric is and how days are assigned"
    assert placeholders(text) == {"start_dt", "end_dt"}
    assert DAY_FILTER in text
    (statement,) = sqlglot.parse(metric_sql(name, START, END), read="athena")
    assert isinstance(statement, sqlglot.exp.Query)
    tables = {t.name for t in statement.find_all(sqlglot.exp.Table)} - {
        c.alias for c in statement.find_all(sqlglot.exp.CTE)
    }
    if name in READS_SESSIONS:
        assert tables == {"metric_sessions"} | ({"events"} if name == "commerce" else set())
    elif name in READS_UNIQUES:
        assert tables == {"events", "metric_uniques"}
    else:
        assert tables == {"events"}
    assert "dt" in statement.named_selects or "*" in statement.named_selects


def test_only_the_fragment_spells_out_the_sessionization() -> None:
    # GIVEN every .sql file in sql/, fragments included, with comments left out
    code = {
        str(path.relative_to(sql_dir())): COMMENT.sub("", path.read_text(encoding="utf-8"))
        for path in sql_dir().rglob("*.sql")
    }
    # THEN the lag/gap logic is in the fragment alone
    assert SESSIONIZE_CODE.search(code[FRAGMENT])
    assert [rel for rel, text in code.items() if rel != FRAGMENT and SESSIONIZE_CODE.search(text)] == []
    # AND every file that works on sessions gets them by including the fragment
    using_sessions = {rel for rel, text in code.items() if rel != FRAGMENT and "session_key" in text}
    including = {rel for rel, text in code.items() if INCLUDE_MARKER in text}
    assert using_sessions == including == {f"metrics/{name}.sql" for name in SESSION_BASED}


def test_the_session_figures_are_computed_after_the_sessions_they_read() -> None:
    assert {name: upstream(name) for name in metric_names() if upstream(name)} == {
        **{name: {"sessions"} for name in READS_SESSIONS},
        **{name: {"uniques"} for name in READS_UNIQUES},
    }
    order = run_order()
    assert sorted(order) == metric_names()
    assert all(order.index("sessions") < order.index(name) for name in READS_SESSIONS)
    assert all(order.index("uniques") < order.index(name) for name in READS_UNIQUES)
    assert run_order(["funnel"]) == ["sessions", "funnel"]
    assert run_order(["hourly_traffic"]) == ["uniques", "hourly_traffic"]


@pytest.mark.parametrize("name", SESSION_BASED)
def test_the_rendered_files_use_the_gap_constant(name: str) -> None:
    sql = metric_sql(name, START, END)
    assert INCLUDE_MARKER not in sql
    assert sql.count(f"date_add('millisecond', {SESSION_GAP_SECONDS * 1000},") == 1


def test_the_gap_is_a_render_parameter() -> None:
    # WHEN sessions.sql is rendered with a one-minute gap instead of the constant
    sql = render(load("metrics/sessions.sql"), {**DATES, "session_gap_ms": "60000"})
    # THEN the gap test compares with it, and the constant's value is gone
    assert "date_add('millisecond', 60000," in sql
    assert str(SESSION_GAP_SECONDS * 1000) not in sql


def test_the_rendered_gap_reaches_the_local_engine() -> None:
    # GIVEN a user without session_id whose events are 5 minutes apart
    events = [
        _ev("2026-11-22T10:00:00.000Z", "page_view", "anon"),
        _ev("2026-11-22T10:05:00.000Z", "click", "anon"),
    ]
    engine = LocalEngine.over({"events": curated_table(events)})

    def session_keys(params: dict[str, str]) -> list[str]:
        out = engine.execute(render(load("metrics/sessions.sql"), {**DATES, **params}))
        return out.column("session_key").to_pylist()

    # THEN the constant's gap makes one session, a 1-minute gap two
    assert session_keys({}) == ["inferred#anon#1"]
    assert session_keys({"session_gap_ms": "60000"}) == ["inferred#anon#1", "inferred#anon#2"]
    # AND a gap of exactly the constant starts a new session; a millisecond less does not
    assert session_keys({"session_gap_ms": "300000"}) == ["inferred#anon#1", "inferred#anon#2"]
    assert session_keys({"session_gap_ms": "300001"}) == ["inferred#anon#1"]
