"""Every sql/metrics file, run on the local engine (sqlglot athena→duckdb), equals pandas computing the
same metric from the definitions in docs/METRICS.md on the same fixture (metrics_support.py)."""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

import metrics_support as ref
import pandas as pd
import pyarrow as pa
import pytest

from clickstream.adapters.query.local import LocalEngine
from clickstream.jobs.batch_metrics import metric_names, run_metrics
from clickstream.metrics import definitions as d
from clickstream.metrics.aggregate import aggregate


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return ref.fixture_events()


@pytest.fixture(scope="module")
def df(events: list[dict[str, Any]]) -> pd.DataFrame:
    return ref.frame(events)


@pytest.fixture(scope="module")
def results(events: list[dict[str, Any]]) -> dict[str, pa.Table]:
    engine = LocalEngine.over({"events": ref.curated_table(events)})
    return {name: table for name, (table, _) in run_metrics(engine, ref.START, ref.END).items()}


@pytest.fixture(scope="module")
def sessions(df: pd.DataFrame) -> pd.DataFrame:
    return ref.sessions(df)


def rows(table: pa.Table, *keys: str) -> dict[Any, dict[str, Any]]:
    out = {}
    for row in table.to_pylist():
        key = tuple(row[k] for k in keys)
        out[key[0] if len(keys) == 1 else key] = row
    assert len(out) == table.num_rows, f"duplicate keys {keys} in the result"
    return out


def same(got: Any, want: Any) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or (isinstance(got, float) and math.isnan(got))
    if isinstance(want, float) or isinstance(got, float):
        return got is not None and math.isclose(float(got), float(want), rel_tol=1e-12)
    return bool(got == want)


def assert_matches(got: dict[Any, dict[str, Any]], want: pd.DataFrame, columns: list[str]) -> None:
    expected = {k: r for k, r in want.to_dict("index").items()}
    assert set(got) == set(expected), (
        f"keys differ: only SQL {set(got) - set(expected)}, only pandas {set(expected) - set(got)}"
    )
    for key, row in expected.items():
        for column in columns:
            assert same(got[key][column], row[column]), (
                f"{key} {column}: SQL {got[key][column]!r}, pandas {row[column]!r}"
            )


def test_every_metric_file_runs_and_selects_dt(results: dict[str, pa.Table]) -> None:
    assert set(results) == set(metric_names())
    assert {
        "counters",
        "uniques",
        "sessions",
        "engagement",
        "funnel",
        "commerce",
        "products",
        "errors",
        "hourly_traffic",
    } <= set(results)
    for name, table in results.items():
        assert table.num_rows > 0, name
        assert set(table.column("dt").to_pylist()) <= {"2026-11-22", "2026-11-23"}, name


def test_the_fixture_exercises_the_edge_cases(sessions: pd.DataFrame) -> None:
    # GIVEN the fixture: gap sessions, bounces, every funnel depth, sessions across midnight
    s = ref.in_interval(sessions)
    assert (s["source"] == "inferred").sum() > 20
    assert s["is_bounce"].sum() > 0
    assert set(s["funnel_step"]) == {0, 1, 2, 3, 4}
    assert (sessions["dt"] == "2026-11-21").any() and (
        sessions["started_at"].dt.strftime("%Y-%m-%d") != sessions["dt"]
    ).sum() == 0


def test_sessions_one_row_per_session_with_gap_sessionization(
    results: dict[str, pa.Table], sessions: pd.DataFrame
) -> None:
    got = rows(results["sessions"], "user_id", "started_at")
    want = ref.in_interval(sessions).assign(started_at=lambda s: s["started_at"].dt.to_pydatetime())
    want = want.set_index(["user_id", "started_at"])
    columns = [
        "dt",
        "start_hour",
        "duration_ms",
        "events",
        "page_views",
        "clicks",
        "add_to_carts",
        "checkouts",
        "purchases",
        "is_bounce",
        "funnel_step",
        "revenue",
    ]
    assert_matches(got, want, columns)
    assert {r["session_source"] for r in got.values()} == {"inferred", "session_id"}
    # the gap user: 10:00 + 10:29:59.999 one session; 10:59:59.999 (30 min later) starts another
    gap = sorted((r["started_at"].isoformat(), r["events"]) for r in got.values() if r["user_id"] == "gap-user")
    assert gap == [("2026-11-22T10:00:00+00:00", 2), ("2026-11-22T10:59:59.999000+00:00", 2)]
    # across the last midnight: on 2026-11-23 with its events of 2026-11-24; the first midnight's is not here
    late = [r for r in got.values() if r["session_key"] == "s-late"]
    assert (
        late and late[0]["dt"] == "2026-11-23" and late[0]["duration_ms"] == 16 * 60_000 and late[0]["funnel_step"] == 4
    )
    assert not [r for r in got.values() if r["user_id"] == "night-owl"]


def test_engagement_bounce_duration_pages_per_session_ctr(results: dict[str, pa.Table], sessions: pd.DataFrame) -> None:
    columns = [
        "sessions",
        "bounces",
        "bounce_rate",
        "session_duration_ms",
        "avg_session_duration_ms",
        "page_views",
        "clicks",
        "pages_per_session",
        "ctr",
    ]
    assert_matches(rows(results["engagement"], "dt"), ref.engagement(sessions), columns)


def test_funnel_is_ordered_per_session(results: dict[str, pa.Table], sessions: pd.DataFrame) -> None:
    got = rows(results["funnel"], "dt")
    assert_matches(
        got,
        ref.funnel(sessions),
        ["sessions", "page_view_sessions", "add_to_cart_sessions", "checkout_sessions", "purchase_sessions"],
    )
    for row in got.values():
        assert row["add_to_cart_rate"] == pytest.approx(row["add_to_cart_sessions"] / row["page_view_sessions"])


def test_commerce_conversion_abandonment_revenue_aov(
    results: dict[str, pa.Table], df: pd.DataFrame, sessions: pd.DataFrame
) -> None:
    columns = [
        "sessions",
        "converted_sessions",
        "conversion_rate",
        "cart_sessions",
        "abandoned_sessions",
        "cart_abandonment_rate",
        "purchases",
        "revenue",
        "orders",
        "aov",
    ]
    got = rows(results["commerce"], "dt")
    assert_matches(got, ref.commerce(df, sessions), columns)
    assert isinstance(got["2026-11-22"]["revenue"], Decimal)


def test_products(results: dict[str, pa.Table], df: pd.DataFrame) -> None:
    columns = ["views", "add_to_carts", "checkouts", "purchases", "units", "revenue", "orders"]
    assert_matches(rows(results["products"], "dt", "product_id"), ref.products(df), columns)


def test_errors_per_status_and_url(results: dict[str, pa.Table], df: pd.DataFrame) -> None:
    got = rows(results["errors"], "dt", "dimension", "value")
    assert_matches(got, ref.errors(df), ["events", "errors", "error_rate"])
    assert got[("2026-11-23", "url", "/checkout")]["errors"] >= 1  # the fragment is cut


def test_hourly_traffic(results: dict[str, pa.Table], df: pd.DataFrame) -> None:
    assert_matches(
        rows(results["hourly_traffic"], "dt", "hour"),
        ref.hourly(df),
        ["events", "page_views", "users", "sessions", "errors", "revenue", "orders"],
    )


def test_uniques_per_window(results: dict[str, pa.Table], df: pd.DataFrame) -> None:
    got = rows(results["uniques"], "sk")
    want = ref.uniques(df)
    assert set(got) == set(want)
    for sk, counts in want.items():
        assert {k: got[sk][k] for k in counts} == counts, sk


def test_counters_equal_pandas_and_the_speed_layers_own_aggregation(
    results: dict[str, pa.Table], events: list[dict[str, Any]], df: pd.DataFrame
) -> None:
    got = {(r["pk"], r["sk"]): r for r in results["counters"].to_pylist()}
    # the speed layer's pure aggregation over the same events, hour and day windows of the interval
    in_range = [e for e in events if ref.START.isoformat() <= e["timestamp"][:10] <= ref.END.isoformat()]
    speed = {k: v for k, v in aggregate(in_range).items() if k[1][0] in "hd"}
    assert set(got) == set(speed)
    fields = ("events", "errors", "revenue", "duration_ms", "timed_events")
    for key, cell in speed.items():
        assert [got[key][f] for f in fields] == [cell[d.COUNTER_FIELDS.index(f)] for f in fields], key
    # orders: distinct order ids of purchases per window, on `all` only (pandas)
    buys = ref.in_interval(df[(df["event_type"] == "purchase") & df["order_id"].notna()])
    orders: dict[tuple[str, str], int] = defaultdict(int)
    for (dt, hour), n in buys.groupby(["dt", "hour"])["order_id"].nunique().items():
        orders[("all", f"h#{dt}T{hour}:00:00Z")] = n
    for dt, n in buys.groupby("dt")["order_id"].nunique().items():
        orders[("all", f"d#{dt}T00:00:00Z")] = n
    assert {k: r["orders"] for k, r in got.items() if r["orders"]} == dict(orders)
    # and pandas for the url dimension (query strings and fragments cut)
    urls = ref.in_interval(df[df["url_path"].notna()]).groupby("url_path").size()
    day_totals: dict[str, int] = defaultdict(int)
    for (pk, sk), r in got.items():
        if pk.startswith("url#") and sk.startswith("d#"):
            day_totals[pk[4:]] += r["events"]
    assert day_totals == urls.to_dict()
