"""The daily traffic curve and the timeline built on it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from clickstream.simulate.diurnal import HOURLY_RATE, Timeline, rate_at

MIDNIGHT = datetime(2026, 11, 22, tzinfo=UTC).timestamp()


def test_curve_is_low_at_night_and_peaks_midday_and_evening() -> None:
    assert rate_at(MIDNIGHT + 4 * 3600) == min(HOURLY_RATE)
    assert rate_at(MIDNIGHT + 20 * 3600) == max(HOURLY_RATE)
    assert rate_at(MIDNIGHT + 14 * 3600) > 5 * rate_at(MIDNIGHT + 4 * 3600)
    assert rate_at(MIDNIGHT + 4.5 * 3600) == pytest.approx((HOURLY_RATE[4] + HOURLY_RATE[5]) / 2)


def test_timeline_is_increasing_and_ends_at_the_span() -> None:
    timeline = Timeline(MIDNIGHT + 1234.5, 86_400, 10_000)
    times = [timeline.time_of(k) for k in range(1, 10_001)]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert times[-1] == pytest.approx(MIDNIGHT + 1234.5 + 86_400, abs=1e-3)
    assert timeline.time_of(20_000) > times[-1]  # past the span the curve continues


def test_timeline_density_follows_the_curve() -> None:
    timeline = Timeline(MIDNIGHT, 86_400, 24_000)
    times = [timeline.time_of(k) for k in range(1, 24_001)]
    per_hour = [sum(1 for t in times if h * 3600 <= t - MIDNIGHT < (h + 1) * 3600) for h in range(24)]
    assert per_hour[14] > 5 * per_hour[4]
    expected = (HOURLY_RATE[14] + HOURLY_RATE[15]) / 2 / (sum(HOURLY_RATE)) * 24_000
    assert per_hour[14] == pytest.approx(expected, rel=0.02)


def test_flat_timeline_is_linear() -> None:
    timeline = Timeline(100.0, 50.0, 10, diurnal=False)
    assert [timeline.time_of(k) for k in (1, 5, 10)] == [105.0, 125.0, 150.0]
