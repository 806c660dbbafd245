"""The emulation of Grafana's query rewriting (grafana/emulate.py) that the panel tests rely on.

The Athena macro cases are the plugin's own (grafana/athena-datasource pkg/athena/macros_test.go):
if the emulation drifts from the plugin, the panel tests would run SQL Grafana never sends.
"""

from __future__ import annotations

import importlib
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
emulate = importlib.import_module("grafana.emulate")
EmulationError = emulate.EmulationError

START = datetime(2021, 6, 23, 0, 0, tzinfo=UTC)
END = datetime(2021, 6, 23, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("$__timeGroup(starttime, '1m')", "FROM_UNIXTIME(FLOOR(TO_UNIXTIME(starttime)/60)*60)"),
        (
            "$__timeGroup(starttime, '1m', 'yyyy-MM-dd HH:mm:ss')",
            "FROM_UNIXTIME(FLOOR(TO_UNIXTIME(TIMESTAMP starttime)/60)*60)",
        ),
        ("$__parseTime(starttime, 'yyyy-MM-dd HH:mm:ss')", "TIMESTAMP starttime"),
        (
            "$__timeFilter(starttime)",
            "starttime BETWEEN TIMESTAMP '2021-06-23 00:00:00' AND TIMESTAMP '2021-06-23 01:00:00'",
        ),
        ("$__timeFrom()", "TIMESTAMP '2021-06-23 00:00:00'"),
        ("$__timeTo()", "TIMESTAMP '2021-06-23 01:00:00'"),
        ("$__unixEpochFilter(time)", "time BETWEEN 1624406400 AND 1624410000"),
        ("$__unixEpochGroup(time, 5m)", "FROM_UNIXTIME(FLOOR(time/300)*300)"),
        ("$__dateFilter(d)", "d BETWEEN date '2021-06-23' AND date '2021-06-23'"),
    ],
)
def test_athena_macros_expand_like_the_plugin(sql: str, expected: str) -> None:
    assert emulate.expand_athena_macros(sql, START, END) == expected


def test_macros_nest_and_keep_the_rest_of_the_statement() -> None:
    sql = "SELECT 1 FROM t WHERE dt >= date_format($__timeFrom(), '%Y-%m-%d') AND $__timeFilter(ts) -- x"
    out = emulate.expand_athena_macros(sql, START, END)
    assert out == (
        "SELECT 1 FROM t WHERE dt >= date_format(TIMESTAMP '2021-06-23 00:00:00', '%Y-%m-%d') AND "
        "ts BETWEEN TIMESTAMP '2021-06-23 00:00:00' AND TIMESTAMP '2021-06-23 01:00:00' -- x"
    )


@pytest.mark.parametrize("sql", ["$__nope(x)", "$__timeFilter()", "$__timeGroup(ts)", "$__timeFilter(ts"])
def test_unknown_or_malformed_macros_are_errors(sql: str) -> None:
    with pytest.raises(EmulationError):
        emulate.expand_athena_macros(sql, START, END)


def test_variables_interpolate_like_grafana() -> None:
    text = "/v1/x?g=$granularity&f=${__from:date:seconds}&t=${__to:date:iso}&ms=$__from&v=${granularity}"
    out = emulate.interpolate(text, {"granularity": "minute"}, START, END)
    assert out == "/v1/x?g=minute&f=1624406400&t=2021-06-23T01:00:00.000Z&ms=1624406400000&v=minute"
    # datasource macros are left for the datasource
    assert emulate.interpolate("$__timeFilter(ts)", {}, START, END) == "$__timeFilter(ts)"
    with pytest.raises(EmulationError, match="not defined"):
        emulate.interpolate("$missing", {}, START, END)


def test_infinity_rows_from_root_and_columns() -> None:
    doc = {"points": [{"start": "2021-06-23T00:00:00Z", "value": 3}, {"start": "2021-06-23T00:01:00Z", "value": None}]}
    cols = [
        {"selector": "start", "text": "time", "type": "timestamp"},
        {"selector": "value", "text": "n", "type": "number"},
    ]
    rows = emulate.parse_infinity(doc, "points", cols)
    assert rows == [{"time": START, "n": 3}, {"time": datetime(2021, 6, 23, 0, 1, tzinfo=UTC), "n": None}]
    # an object root is one row; nested selectors are dotted paths
    one = emulate.parse_infinity({"a": {"b": 2}}, "", [{"selector": "a.b", "text": "b", "type": "number"}])
    assert one == [{"b": 2}]


@pytest.mark.parametrize(
    ("doc", "root", "column_type"),
    [
        ({"points": [{"value": "many"}]}, "points", "number"),  # not a number
        ({"points": 3}, "points", "number"),  # root neither object nor array of objects
        ({"points": [{"value": 1}]}, "points", "decimal"),  # not an Infinity type
    ],
)
def test_infinity_shape_mismatches_are_errors(doc: object, root: str, column_type: str) -> None:
    with pytest.raises(EmulationError):
        emulate.parse_infinity(doc, root, [{"selector": "value", "text": "v", "type": column_type}])


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("clickstream_events_today", {"clickstream_events_today"}),
        ('max(clickstream_lag{shard="a"})', {"clickstream_lag"}),
        ("sum by (status, job) (rate(a_total[5m])) / ignoring(x) group_left b", {"a_total", "b"}),
        ("time() - clickstream_job_last_success_timestamp_seconds", {"clickstream_job_last_success_timestamp_seconds"}),
        ('avg_over_time(x{window="last_minute"}[5m]) > 0.05 and on(job) y offset 5m', {"x", "y"}),
        ("sum without (le) (h_bucket) > bool 1e3", {"h_bucket"}),
    ],
)
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert emulate.promql_metric_names(expr) == names


def test_promql_unknown_function_is_an_error() -> None:
    with pytest.raises(EmulationError, match="unknown PromQL function"):
        emulate.promql_metric_names("ratee(x[5m])")
