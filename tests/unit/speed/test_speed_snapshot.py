"""The realtime snapshot from items, without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clickstream.metrics.sketch import merge_top, merge_uniques, uniques_sketch
from clickstream.speed.snapshot import build_snapshot, detail_keys, snapshot_keys, windows

NOW = datetime(2026, 11, 22, 0, 0, 30, tzinfo=UTC)  # just after midnight: the previous minute is yesterday


def test_windows_around_midnight() -> None:
    assert windows(NOW) == {
        "minute": "m#2026-11-22T00:00:00Z",
        "previous_minute": "m#2026-11-21T23:59:00Z",
        "hour": "h#2026-11-22T00:00:00Z",
        "day": "d#2026-11-22T00:00:00Z",
    }
    assert len(snapshot_keys(NOW)) == len(set(snapshot_keys(NOW))) <= 100  # one BatchGetItem


def test_empty_table_gives_zeros_and_no_ratios() -> None:
    snap = build_snapshot({}, [], NOW)
    assert snap["totals"]["hour"] == {
        "events": 0,
        "errors": 0,
        "orders": 0,
        "duration_ms": 0,
        "timed_events": 0,
        "revenue": 0.0,
        "error_rate": None,
        "aov": None,
    }
    assert snap["statuses"] == snap["top_urls"] == []
    assert snap["freshness_seconds"] is None and snap["lag_seconds"] is None
    assert snap["uniques"]["users"]["hour"] == {"estimate": 0, "lower": 0, "upper": 0}


def test_snapshot_from_items() -> None:
    hour = "h#2026-11-22T00:00:00Z"
    items: dict[tuple[str, str], dict[str, Any]] = {
        ("all", hour): {"events": Decimal(10), "errors": Decimal(2), "revenue": Decimal("50.5"), "orders": Decimal(2)},
        ("top#status", hour): {"sketch": merge_top(None, {"200": 8, "503": 2})},
        ("top#url", hour): {"sketch": merge_top(None, {"/a": 7, "/b": 3})},
        ("status#503", hour): {"events": Decimal(2), "errors": Decimal(2)},
        ("status#200", hour): {"events": Decimal(8)},
        ("url#/a", hour): {"events": Decimal(7), "errors": Decimal(1)},
        ("url#/b", hour): {"events": Decimal(3), "errors": Decimal(1)},
        ("uniq#users", hour): {"sketch": merge_uniques(None, uniques_sketch(["u1", "u2", "u3"]))},
        ("meta#freshness", "latest"): {
            "event#s0": "2026-11-22T00:00:20.000Z",
            "event#s1": "2026-11-22T00:00:25.000Z",
            "arrival#s0": Decimal(int(NOW.timestamp() * 1000) - 1500),
        },
    }
    assert ("status#503", "m#2026-11-22T00:00:00Z") in detail_keys(items, NOW)

    snap = build_snapshot(items, [{"sk": "m#2026-11-22T00:00:00Z", "events": Decimal(10)}], NOW)

    assert snap["totals"]["hour"]["error_rate"] == 0.2 and snap["totals"]["hour"]["aov"] == 25.25
    assert [(s["status"], s["hour_events"], s["error"]) for s in snap["statuses"]] == [
        ("200", 8, False),
        ("503", 2, True),
    ]
    assert snap["top_urls"] == [{"url": "/a", "events": 7, "errors": 1}, {"url": "/b", "events": 3, "errors": 1}]
    assert snap["uniques"]["users"]["hour"]["estimate"] == 3
    assert snap["freshness_seconds"] == 5.0  # the newest event over all shards
    assert snap["lag_seconds"] == 1.5
    assert snap["events_per_minute"] == {"2026-11-22T00:00:00Z": 10}
