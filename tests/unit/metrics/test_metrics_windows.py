"""Event-time windows: sort keys, boundaries (59.999 s, midnight UTC), TTLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from clickstream.metrics.windows import (
    TTL_SECONDS,
    expires_at,
    sk_of,
    window_end,
    window_sks,
    window_start,
)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2026-11-22T14:03:00.000Z", ("m#2026-11-22T14:03:00Z", "h#2026-11-22T14:00:00Z", "d#2026-11-22T00:00:00Z")),
        # 59.999 s is still the same minute; the next millisecond is the next one
        ("2026-11-22T14:03:59.999Z", ("m#2026-11-22T14:03:00Z", "h#2026-11-22T14:00:00Z", "d#2026-11-22T00:00:00Z")),
        ("2026-11-22T14:04:00.000Z", ("m#2026-11-22T14:04:00Z", "h#2026-11-22T14:00:00Z", "d#2026-11-22T00:00:00Z")),
        # the last millisecond of a day and the first of the next (midnight UTC)
        ("2026-11-22T23:59:59.999Z", ("m#2026-11-22T23:59:00Z", "h#2026-11-22T23:00:00Z", "d#2026-11-22T00:00:00Z")),
        ("2026-11-23T00:00:00.000Z", ("m#2026-11-23T00:00:00Z", "h#2026-11-23T00:00:00Z", "d#2026-11-23T00:00:00Z")),
        # year end
        ("2026-12-31T23:59:59.999Z", ("m#2026-12-31T23:59:00Z", "h#2026-12-31T23:00:00Z", "d#2026-12-31T00:00:00Z")),
    ],
)
def test_window_sort_keys(timestamp: str, expected: tuple[str, str, str]) -> None:
    assert window_sks(timestamp) == expected


def test_sort_keys_order_like_time() -> None:
    times = [
        datetime(2026, 11, 22, tzinfo=UTC) + timedelta(seconds=s) for s in (0, 59.999, 60, 3599, 3600, 86399.5, 86400)
    ]
    for resolution in ("m", "h", "d"):
        sks = [sk_of(resolution, t) for t in times]
        assert sks == sorted(sks)


def test_sk_of_converts_other_zones_and_naive_to_utc() -> None:
    # 01:30 at UTC+2 is 23:30 UTC the previous day
    moment = datetime(2026, 11, 23, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert sk_of("d", moment) == "d#2026-11-22T00:00:00Z"
    assert sk_of("h", moment) == "h#2026-11-22T23:00:00Z"
    assert sk_of("m", datetime(2026, 11, 22, 23, 30, 59)) == "m#2026-11-22T23:30:00Z"


@pytest.mark.parametrize(
    ("sk", "length"),
    [("m#2026-11-22T14:03:00Z", 60), ("h#2026-11-22T14:00:00Z", 3600), ("d#2026-11-22T00:00:00Z", 86400)],
)
def test_window_bounds(sk: str, length: int) -> None:
    start = window_start(sk)
    assert datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") == sk[2:]
    assert window_end(sk) - start == length


def test_ttl_minute_7_days_hour_90_days_day_never() -> None:
    start = window_start("m#2026-11-22T14:03:00Z")
    assert expires_at("m#2026-11-22T14:03:00Z") == start + 7 * 86400
    assert expires_at("h#2026-11-22T14:00:00Z") == window_start("h#2026-11-22T14:00:00Z") + 90 * 86400
    assert expires_at("d#2026-11-22T00:00:00Z") is None
    assert TTL_SECONDS == {"m": 7 * 86400, "h": 90 * 86400, "d": None}
