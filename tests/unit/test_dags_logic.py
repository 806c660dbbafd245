"""The small pure helpers of the DAG files: start date, touched days, day ranges, reconcile span."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from clickstream.jobs import intervals

DAGS = Path(__file__).resolve().parents[2] / "dags"
MAX_DAG_FILE_LINES = 80  # wiring: schedule, retries, tasks calling clickstream.jobs, asset events


def load(name: str) -> ModuleType:
    # Airflow reads its configuration on first import: never the developer's ~/airflow
    if "AIRFLOW_HOME" not in os.environ:  # (setdefault would make a folder on every call, and leave it)
        home = tempfile.mkdtemp(prefix="airflow-unit-")
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        os.environ["AIRFLOW_HOME"] = home
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    spec = importlib.util.spec_from_file_location(f"dagfile_{name}", DAGS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compact() -> ModuleType:
    return load("compact_raw_events")


@pytest.fixture(scope="module")
def daily() -> ModuleType:
    return load("compact_raw_events_daily")


@pytest.fixture(scope="module")
def metrics() -> ModuleType:
    return load("batch_metrics")


@pytest.fixture(scope="module")
def reconcile() -> ModuleType:
    return load("reconcile_speed_batch")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T05:00:00Z", datetime(2026, 11, 20, 5, tzinfo=UTC)),
        ("2026-11-20T06:00:00+01:00", datetime(2026, 11, 20, 5, tzinfo=UTC)),
    ],
)
def test_batch_start_from_the_environment_is_utc(raw: str, expected: datetime) -> None:
    assert intervals.batch_start({"CLICKSTREAM_BATCH_START": raw}) == expected


def test_batch_start_defaults_to_yesterday_midnight_utc_stable_all_day() -> None:
    for now in (datetime(2026, 11, 22, 0, 1, tzinfo=UTC), datetime(2026, 11, 22, 23, 59, tzinfo=UTC)):
        assert intervals.batch_start({}, today=now) == datetime(2026, 11, 21, tzinfo=UTC)


def test_batch_start_rejects_garbage_with_the_variable_name() -> None:
    with pytest.raises(ValueError, match="CLICKSTREAM_BATCH_START"):
        intervals.batch_start({"CLICKSTREAM_BATCH_START": "last tuesday"})


def test_archive_settle_defaults_to_the_archivers_flush_age_and_names_a_bad_value() -> None:
    assert intervals.archive_settle_seconds({}) == intervals.DEFAULT_ARCHIVE_SETTLE_SECONDS
    assert intervals.archive_settle_seconds({"CLICKSTREAM_ARCHIVE_SETTLE_SECONDS": " 600 "}) == 600
    with pytest.raises(ValueError, match="CLICKSTREAM_ARCHIVE_SETTLE_SECONDS"):
        intervals.archive_settle_seconds({"CLICKSTREAM_ARCHIVE_SETTLE_SECONDS": "2m"})


def test_dag_files_hold_wiring_only() -> None:
    """The logic lives in clickstream.jobs (tested here without Airflow); a DAG file stays short."""
    for path in sorted(DAGS.glob("*.py")):
        lines = path.read_text().count("\n")
        assert lines <= MAX_DAG_FILE_LINES, f"{path.name}: {lines} lines; move logic into clickstream.jobs"


def test_touched_days_are_the_distinct_event_days_of_all_events(metrics: ModuleType) -> None:
    extras: list[dict[str, Any]] = [
        {"partitions": [["2026-11-21", "23"], ["2026-11-22", "00"]]},
        {"partitions": [["2026-11-22", "01"], ["2026-11-18", "07"]]},  # a late event, days back
        {"partitions": []},
        {},  # an event without extras (e.g. emitted by hand from the UI)
    ]
    assert intervals.touched_days(extras) == [date(2026, 11, 18), date(2026, 11, 21), date(2026, 11, 22)]


def test_day_ranges_group_consecutive_days(metrics: ModuleType) -> None:
    d = date.fromisoformat
    days = [d("2026-11-22"), d("2026-11-18"), d("2026-11-21"), d("2026-11-22"), d("2026-12-01")]
    assert intervals.day_ranges(days) == [
        (d("2026-11-18"), d("2026-11-18")),
        (d("2026-11-21"), d("2026-11-22")),
        (d("2026-12-01"), d("2026-12-01")),
    ]
    assert intervals.day_ranges([]) == []


def test_requested_days_prefers_the_manual_dates(metrics: ModuleType) -> None:
    extras = [{"partitions": [["2026-11-01", "00"]]}]
    got = intervals.requested_days({"start_date": "2026-11-20", "end_date": "2026-11-22"}, extras)
    assert got == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
    assert intervals.requested_days({"start_date": None, "end_date": None}, extras) == [date(2026, 11, 1)]
    with pytest.raises(ValueError, match="before"):
        intervals.requested_days({"start_date": "2026-11-22", "end_date": "2026-11-20"}, [])


def test_reconcile_range_spans_the_recomputed_days(reconcile: ModuleType) -> None:
    extras = [{"days": ["2026-11-22"]}, {"days": ["2026-11-20", "2026-11-21"]}]
    assert intervals.reconcile_range({}, extras) == (date(2026, 11, 20), date(2026, 11, 22))
    assert intervals.reconcile_range({}, [{}]) is None
    assert intervals.reconcile_range({"start_date": "2026-11-01"}, extras) == (date(2026, 11, 1), date(2026, 11, 1))


class Event:
    def __init__(self, extra: dict[str, Any], run: str) -> None:
        self.extra, self.source_dag_id, self.source_run_id = extra, "compact_raw_events", run


def test_compute_task_recomputes_each_run_of_touched_days_and_describes_them_in_the_asset_event(
    metrics: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clickstream.jobs.batch_metrics as job

    calls: list[tuple[date, date]] = []

    class Report:
        def summary(self) -> dict[str, Any]:
            return {"rows": len(calls)}

    def compute(settings: Any, a: date, b: date, **kw: Any) -> Report:
        calls.append((a, b))
        return Report()

    monkeypatch.setattr(job, "compute_batch_metrics", compute)
    outlet = type("Outlet", (), {"extra": {}})()
    context = {
        "triggering_asset_events": {
            "curated_events": [
                Event({"partitions": [["2026-11-22", "10"], ["2026-11-18", "03"]]}, "r1"),
                Event({"partitions": [["2026-11-21", "23"]]}, "r2"),
            ]
        },
        "params": {"start_date": None, "end_date": None},
        "outlet_events": {metrics.batch_metrics_asset: outlet},
    }

    summary = metrics.batch_metrics().get_task("compute").python_callable(**context)

    assert calls == [(date(2026, 11, 18), date(2026, 11, 18)), (date(2026, 11, 21), date(2026, 11, 22))]
    assert summary["days"] == ["2026-11-18", "2026-11-21", "2026-11-22"]
    assert outlet.extra == summary
    assert summary["source_runs"] == ["compact_raw_events/r1", "compact_raw_events/r2"]
    assert summary["metrics"] == [{"rows": 1}, {"rows": 2}]


def test_compute_task_skips_when_no_partition_was_written(metrics: ModuleType) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    context = {
        "triggering_asset_events": {"curated_events": [Event({"partitions": []}, "r1")]},
        "params": {},
        "outlet_events": {},
    }
    with pytest.raises(AirflowSkipException):
        metrics.batch_metrics().get_task("compute").python_callable(**context)


def test_compact_task_passes_the_data_interval_and_run_id_and_publishes_the_partitions(
    compact: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clickstream.jobs.compact as job

    calls: list[tuple[datetime, datetime, str]] = []

    class Report:
        partitions = (("2026-11-22", "09"), ("2026-11-22", "10"))
        raw_rows, valid, quarantined, duplicates, published, pass_rate = 12, 11, 1, 2, 9, 11 / 12
        asset_extra = job.CompactionReport.asset_extra  # the real one, on the fields it reads

    def fake(settings: Any, start: datetime, end: datetime, *, run_id: str) -> Report:
        calls.append((start, end, run_id))
        return Report()

    monkeypatch.setattr(job, "compact_interval", fake)
    outlet = type("Outlet", (), {"extra": {}})()
    start, end = datetime(2026, 11, 22, 10, tzinfo=UTC), datetime(2026, 11, 22, 11, tzinfo=UTC)
    context = {
        "data_interval_start": start,
        "data_interval_end": end,
        "run_id": "scheduled__2026-11-22T11:00:00+00:00",
        "outlet_events": {compact.curated_events: outlet},
    }

    summary = compact.compact_raw_events().get_task("compact").python_callable(**context)

    assert calls == [(start, end, "scheduled__2026-11-22T11:00:00+00:00")]
    assert summary["partitions"] == [["2026-11-22", "09"], ["2026-11-22", "10"]]
    assert summary["published"] == 9 and outlet.extra == summary


def test_a_data_quality_failure_fails_the_task_without_retries(
    compact: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    import clickstream.jobs.compact as job

    def failing(*args: Any, **kwargs: Any) -> None:
        raise job.DataQualityError("40% of the rows failed raw_events.v1")

    monkeypatch.setattr(job, "compact_interval", failing)
    hour = datetime(2026, 11, 22, 10, tzinfo=UTC)
    context = {"data_interval_start": hour, "data_interval_end": hour, "run_id": "r", "outlet_events": {}}
    with pytest.raises(AirflowFailException, match="40%"):
        compact.compact_raw_events().get_task("compact").python_callable(**context)


class _Run:
    def __init__(self, run_type: str, conf: dict[str, Any] | None = None) -> None:
        self.run_type, self.conf = run_type, conf or {}


def test_the_daily_dag_compacts_its_day_in_one_run_when_backfilled(
    daily: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clickstream.jobs.compact as job

    calls: list[tuple[datetime, datetime, str]] = []

    class Report:
        partitions = (("2026-11-21", "23"),)
        raw_rows, valid, quarantined, duplicates, published, pass_rate = 5, 5, 0, 0, 5, 1.0
        asset_extra = job.CompactionReport.asset_extra

    def fake(settings: Any, start: datetime, end: datetime, *, run_id: str) -> Report:
        calls.append((start, end, run_id))
        return Report()

    monkeypatch.setattr(job, "compact_interval", fake)
    outlet = type("Outlet", (), {"extra": {}})()
    start, end = datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
    context = {
        "data_interval_start": start,
        "data_interval_end": end,
        "run_id": "backfill__2026-11-21T00:00:00+00:00",
        "dag_run": _Run("backfill"),
        "outlet_events": {daily.curated_events: outlet},
    }
    summary = daily.compact_raw_events_daily().get_task("compact").python_callable(**context)
    assert calls == [(start, end, "backfill__2026-11-21T00:00:00+00:00")]
    assert outlet.extra == summary and summary["partitions"] == [["2026-11-21", "23"]]


def test_the_daily_dags_scheduled_runs_skip_because_the_hourly_dag_does_that_work(
    daily: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    import clickstream.jobs.compact as job

    monkeypatch.setattr(job, "compact_interval", lambda *a, **k: pytest.fail("a scheduled daily run compacted"))
    day = datetime(2026, 11, 21, tzinfo=UTC)
    context = {
        "data_interval_start": day,
        "data_interval_end": day,
        "run_id": "scheduled__x",
        "dag_run": _Run("scheduled"),
        "outlet_events": {},
    }
    with pytest.raises(AirflowSkipException, match="backfill this DAG"):
        daily.compact_raw_events_daily().get_task("compact").python_callable(**context)
