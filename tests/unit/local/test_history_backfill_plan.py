"""`clickstream.local.history.backfill_plan`: which backfills compact a history's arrival hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clickstream.local.history import BACKFILL_DAG, HOURLY_DAG, Segment, backfill_plan

DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def covered(plan: list[Segment]) -> set[datetime]:
    """The arrival hours the plan's runs compact."""
    hours = set()
    for seg in plan:
        run = seg.first
        while run <= seg.last:
            hours |= {run + i * HOUR for i in range(int(seg.step / HOUR))}
            run += seg.step
    return hours


def test_a_week_before_4_am_is_seven_daily_runs_and_four_hourly_ones() -> None:
    plan = backfill_plan(at(7, 4) - 7 * DAY, at(7, 4))
    assert plan == [
        Segment(BACKFILL_DAG, datetime(2026, 11, 30, tzinfo=UTC), at(6), DAY),
        Segment(HOURLY_DAG, at(7, 0), at(7, 3), HOUR),
    ]
    assert [seg.runs for seg in plan] == [7, 4]


def test_at_midnight_only_daily_runs_and_within_one_day_only_hourly_ones() -> None:
    assert backfill_plan(at(5), at(7)) == [Segment(BACKFILL_DAG, at(5), at(6), DAY)]
    assert backfill_plan(at(7, 1), at(7, 5)) == [Segment(HOURLY_DAG, at(7, 1), at(7, 4), HOUR)]


def test_every_arrival_hour_of_the_history_is_compacted_whatever_its_bounds() -> None:
    for start, end in [
        (at(5, 22), at(7, 4)),
        (at(1, 13), at(7, 0)),
        (at(6, 23), at(7, 1)),
        (at(7, 2), at(7, 3)),
    ]:
        wanted = {start + i * HOUR for i in range(int((end - start) / HOUR))}
        got = covered(backfill_plan(start, end))
        assert wanted <= got, (start, end, sorted(wanted - got))
        assert max(got) < end  # no run of an hour still under way
