"""The repo's dags/ as Airflow's DagBag sees them: no import errors, the intended schedules,
retries, catch-up and asset wiring, and nothing heavy imported while parsing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
HOUR_11 = datetime(2026, 11, 22, 11, tzinfo=UTC)
DAG_IDS = {"compact_raw_events", "compact_raw_events_daily", "batch_metrics", "reconcile_speed_batch"}


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("airflow")
    saved = {k: os.environ.get(k) for k in ("AIRFLOW_HOME", "AIRFLOW__CORE__LOAD_EXAMPLES", "CLICKSTREAM_BUCKET")}
    os.environ.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False", CLICKSTREAM_BUCKET="unit-lake")
    from airflow.dag_processing.dagbag import DagBag

    try:
        yield DagBag(dag_folder=str(DAGS))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_every_dag_file_imports_cleanly_and_dag_id_is_the_file_name(bag: Any) -> None:
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DAG_IDS
    for dag_id in DAG_IDS:
        assert Path(bag.dags[dag_id].fileloc).name == f"{dag_id}.py"


def test_dag_files_are_wiring_only() -> None:
    for path in DAGS.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 110, f"{path.name}: move logic into clickstream/"


def test_parsing_imports_no_job_module_and_no_heavy_library(tmp_path: Path) -> None:
    # Airflow parses every DAG file every 30 s: the jobs (GX, pandas, pyarrow) load inside tasks; only the
    # stdlib-only interval helpers (clickstream.jobs.intervals) and the Airflow spellings
    # (clickstream.jobs.airflow_compat, which imports only Airflow) are imported at parse time.
    # (boto3 is allowed: Airflow's amazon provider loads it to normalise the s3:// asset URIs.)
    code = (
        "import sys, json; from airflow.dag_processing.dagbag import DagBag; "
        f"b = DagBag(dag_folder={str(DAGS)!r}); "
        "mods = [m for m in sys.modules if m.startswith(('clickstream.jobs.', 'great_expectations', 'pyarrow', "
        "'duckdb', 'pandas')) and m not in ('clickstream.jobs.intervals', 'clickstream.jobs.airflow_compat')]; "
        "print(json.dumps({'errors': list(b.import_errors), 'mods': mods}))"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"errors": [], "mods": []}


def test_compact_raw_events_is_hourly_with_intervals_catchup_retries_and_the_curated_asset(bag: Any) -> None:
    from airflow.sdk import CronDataIntervalTimetable

    dag = bag.dags["compact_raw_events"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)  # [start, end) intervals, not trigger times
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("0 * * * *", "UTC")
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable

    # a run triggered at 11:00 (UI, REST, `dags test`) compacts the hour that just ended
    interval = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(run_after=pendulum.instance(HOUR_11))
    assert (interval.start, interval.end) == (HOUR_11 - timedelta(hours=1), HOUR_11)
    assert dag.catchup is True
    assert 1 <= dag.max_active_runs <= 4
    assert dag.start_date is not None and dag.start_date.minute == 0
    assert [t.task_id for t in dag.topological_sort()] == ["wait_for_archive", "compact"]
    sensor, compact = dag.get_task("wait_for_archive"), dag.get_task("compact")
    assert sensor.mode == "reschedule"
    assert compact.retries == 2
    assert compact.retry_exponential_backoff == 2.0
    assert compact.retry_delay == timedelta(minutes=1)
    [asset] = compact.outlets
    assert (asset.name, asset.uri) == ("curated_events", "s3://unit-lake/curated/events")


def test_compact_raw_events_daily_compacts_a_day_per_run_for_backfills_and_emits_the_same_asset(bag: Any) -> None:
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable

    dag, hourly = bag.dags["compact_raw_events_daily"], bag.dags["compact_raw_events"]
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("0 0 * * *", "UTC")
    interval = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(run_after=pendulum.instance(HOUR_11))
    assert (interval.start, interval.end) == (datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))
    assert dag.catchup is False  # the hourly DAG catches up; this one is backfilled on purpose
    assert dag.start_date == hourly.start_date
    assert [t.task_id for t in dag.topological_sort()] == ["wait_for_archive", "compact"]
    compact = dag.get_task("compact")
    assert compact.retries == 2 and compact.max_active_tis_per_dag == 1
    assert [(a.name, a.uri) for a in compact.outlets] == [(a.name, a.uri) for a in hourly.get_task("compact").outlets]


def test_batch_metrics_is_scheduled_on_the_curated_asset_and_emits_the_metrics_asset(bag: Any) -> None:
    dag = bag.dags["batch_metrics"]
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    assert (dag.timetable.asset_condition.name, dag.timetable.asset_condition.uri) == (
        "curated_events",
        "s3://unit-lake/curated/events",
    )
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    [task] = dag.tasks
    assert task.task_id == "compute" and task.retries == 2
    [asset] = task.outlets
    assert (asset.name, asset.uri) == ("batch_metrics", "s3://unit-lake/curated/metrics")
    assert set(dag.params) == {"start_date", "end_date"}


def test_reconcile_is_scheduled_on_the_metrics_asset(bag: Any) -> None:
    dag = bag.dags["reconcile_speed_batch"]
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    assert (dag.timetable.asset_condition.name, dag.timetable.asset_condition.uri) == (
        "batch_metrics",
        "s3://unit-lake/curated/metrics",
    )
    [task] = dag.tasks
    assert task.task_id == "reconcile" and task.retries == 2 and not task.outlets


def test_the_asset_chain_connects_compaction_to_metrics_to_reconciliation(bag: Any) -> None:
    # concrete assets on both sides: Airflow 3.3 gives a run scheduled on a name-only
    # Asset.ref none of the triggering events (their extras are how the days travel)
    emitted = {(a.name, a.uri) for d in bag.dags.values() for t in d.tasks for a in t.outlets}
    conditions = [getattr(d.timetable, "asset_condition", None) for d in bag.dags.values()]
    consumed = {(c.name, c.uri) for c in conditions if c is not None}
    assert consumed == emitted
    assert {name for name, _ in emitted} == {"curated_events", "batch_metrics"}
