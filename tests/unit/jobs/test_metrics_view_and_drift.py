"""The pure parts of the batch view and of reconciliation: items from metric rows, drift and tolerance."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa

from clickstream.adapters.query.local import LocalEngine
from clickstream.jobs.metrics_view import counter_items, engagement_items, window_sks
from clickstream.jobs.reconcile import compare_counters, compare_uniques, drift_items, windows_both_saw
from clickstream.metrics.sketch import RSE, Estimate
from clickstream.sqlfiles import load, render

DAY = date(2026, 11, 22)


def test_counter_items_leave_zeros_out_and_close_every_window_of_the_interval() -> None:
    rows = pa.Table.from_pylist(
        [
            {
                "pk": "all",
                "sk": "h#2026-11-22T10:00:00Z",
                "events": 3,
                "errors": 0,
                "revenue": Decimal("1.5"),
                "orders": 1,
                "duration_ms": 0,
                "timed_events": 0,
            },
            {
                "pk": "url#/a",
                "sk": "h#2026-11-22T10:00:00Z",
                "events": 3,
                "errors": 1,
                "revenue": Decimal(0),
                "orders": 0,
                "duration_ms": 7,
                "timed_events": 1,
            },
        ]
    )
    items = {(i["pk"], i["sk"]): i for i in counter_items(rows, DAY, DAY)}
    assert items[("url#/a", "h#2026-11-22T10:00:00Z")] == {
        "pk": "url#/a",
        "sk": "h#2026-11-22T10:00:00Z",
        "events": 3,
        "errors": 1,
        "duration_ms": 7,
        "timed_events": 1,
    }
    assert items[("all", "h#2026-11-22T10:00:00Z")]["revenue"] == Decimal("1.5")
    closed = {sk for pk, sk in items if pk == "all"}
    assert closed == set(window_sks(DAY, DAY)) and len(closed) == 25
    assert items[("all", "h#2026-11-22T11:00:00Z")] == {"pk": "all", "sk": "h#2026-11-22T11:00:00Z", "events": 0}


def test_engagement_items_count_a_session_in_the_day_and_hour_it_started() -> None:
    session = {
        "dt": "2026-11-22",
        "start_hour": "23",
        "is_bounce": False,
        "duration_ms": 600_000,
        "page_views": 2,
        "clicks": 1,
        "purchases": 0,
        "add_to_carts": 1,
        "funnel_step": 2,
        "revenue": Decimal(0),
    }
    bounce = {
        **session,
        "start_hour": "09",
        "is_bounce": True,
        "duration_ms": 0,
        "page_views": 1,
        "clicks": 0,
        "add_to_carts": 0,
        "funnel_step": 1,
    }
    # the job fetches the engagement windows, never the sessions: the view's SQL, then its items
    sessions = pa.Table.from_pylist([session, bounce])
    engine = LocalEngine.over({"metric_sessions": sessions})
    sql = render(load("batch_view/engagement.sql"), {"start_dt": "2026-11-22", "end_dt": "2026-11-22"})
    windows = engine.execute(sql)
    assert windows.num_rows == 2, "one row per hour window, not per session"
    items = {i["sk"]: i for i in engagement_items(windows)}
    day = items["d#2026-11-22T00:00:00Z"]
    assert (
        day["sessions"],
        day["bounces"],
        day["abandoned_sessions"],
        day["funnel_add_to_cart"],
        day["funnel_checkout"],
    ) == (2, 1, 1, 1, 0)
    assert (
        items["h#2026-11-22T23:00:00Z"]["session_duration_ms"] == 600_000
        and items["h#2026-11-22T09:00:00Z"]["bounces"] == 1
    )


def test_exact_counters_have_no_tolerance_and_a_missing_side_counts_as_zero() -> None:
    batch = {("all", "d#2026-11-22T00:00:00Z"): {"events": 10, "revenue": Decimal("5.000001")}}
    speed = {
        ("all", "d#2026-11-22T00:00:00Z"): {"events": Decimal(11), "revenue": Decimal("5.000001")},
        ("url#/x", "d#2026-11-22T00:00:00Z"): {"events": Decimal(2)},
    }
    drifts = {(r.pk, r.metric): r for r in compare_counters(batch, speed)}
    assert (
        drifts[("all", "events")].drift == 1
        and drifts[("all", "events")].drift_pct == 10.0
        and not drifts[("all", "events")].within_tolerance
    )
    assert drifts[("all", "revenue")].within_tolerance and drifts[("all", "revenue")].drift == 0
    assert drifts[("url#/x", "events")].batch == 0 and drifts[("url#/x", "events")].drift_pct is None
    assert ("url#/x", "orders") not in drifts  # orders live on `all` only
    item = next(i for i in drift_items(drifts.values()) if i["pk"] == "drift#events")
    assert item["speed"] == 11 and item["mismatched_items"] == 2 and item["worst_item"] == "url#/x"


def test_uniques_are_within_three_relative_standard_errors() -> None:
    sk = "d#2026-11-22T00:00:00Z"
    inside = 1000 * (1 + 2.9 * RSE)
    outside = 1000 * (1 + 3.1 * RSE)
    ok, bad = (
        compare_uniques({("uniq#users", sk): 1000}, {("uniq#users", sk): Estimate(value, value, value)})[0]
        for value in (inside, outside)
    )
    assert ok.within_tolerance and not bad.within_tolerance and not ok.exact
    assert ok.tolerance == bad.tolerance == 1000 * 3 * RSE


def test_reconciliation_leaves_out_the_windows_a_history_filled_and_only_those() -> None:
    windows = window_sks(date(2026, 12, 6), date(2026, 12, 7))
    history = {f"2026-12-06T{h:02d}" for h in range(24)} | {"2026-12-07T00", "2026-12-07T03"}
    compared, left_out = windows_both_saw(windows, history)
    assert sorted(compared + left_out) == sorted(windows)
    # the whole history day, both history hours of the live day, and the live day's own total
    assert len(left_out) == 25 + 2 + 1
    assert "d#2026-12-07T00:00:00Z" in left_out and "h#2026-12-07T03:00:00Z" in left_out
    assert compared == [f"h#2026-12-07T{h:02d}:00:00Z" for h in range(24) if h not in (0, 3)]
    assert windows_both_saw(windows, set()) == (windows, [])
