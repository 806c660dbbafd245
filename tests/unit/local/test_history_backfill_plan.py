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


class _Events:
    """The REST API's answer to GET /api/v2/assets/events, per source DAG."""

    def __init__(self, events: dict[str, list[dict[str, object]]]) -> None:
        self.events, self.paths = events, []

    def call(self, method: str, path: str, body: object = None) -> dict[str, object]:
        self.paths.append(path)
        dag = path.split("source_dag_id=")[1].split("&")[0]
        return {"asset_events": self.events.get(dag, []), "total_entries": len(self.events.get(dag, []))}


def _event(days: list[str], consumed_by: list[str], name: str = "curated_events") -> dict[str, object]:
    return {
        "name": name,
        "extra": {"partitions": [[day, "00"] for day in days]},
        "created_dagruns": [{"dag_id": dag, "run_id": "r"} for dag in consumed_by],
    }


def test_the_days_of_compaction_events_no_metrics_run_consumed_are_recomputed() -> None:
    from clickstream.local.history import unconsumed_days

    api = _Events(
        {
            BACKFILL_DAG: [
                _event(["2026-12-05"], ["batch_metrics"]),
                _event(["2026-12-05", "2026-12-06"], []),  # arrived while batch_metrics was running
            ],
            HOURLY_DAG: [
                _event(["2026-12-07"], ["batch_metrics", "reconcile_speed_batch"]),
                _event(["2026-12-07"], ["reconcile_speed_batch"]),
                _event(["2026-12-01"], [], name="something_else"),
            ],
        }
    )
    assert unconsumed_days(api, "2026-12-07T05:39:00.1+00:00") == ["2026-12-05", "2026-12-06", "2026-12-07"]  # type: ignore[arg-type]
    assert all("timestamp_gte=2026-12-07T05%3A39%3A00.1%2B00%3A00" in p for p in api.paths)
    assert unconsumed_days(_Events({}), "") == []  # type: ignore[arg-type]
