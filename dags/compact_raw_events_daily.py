"""compact_raw_events_daily: the hourly compaction, a day of arrival hours per run, for backfills.

A day through `compact_raw_events` is 24 runs, each with Airflow's own overhead (83.7-88.4 s for
9,600 events against 8.3-9.7 s here: docs/BENCHMARKS.md); this DAG runs the same job (`clickstream.jobs.compact.compact_interval`) over a day's
[00:00, 24:00), so a week is 7 runs. Backfill it (UI: Trigger -> Backfill; `clickstream simulate
--history` does), or trigger it with {"interval_start": ..., "interval_end": ...}. Its scheduled
runs skip: the hourly DAG compacts every hour. The job's lease keeps the two from publishing side
by side (`clickstream.jobs.exclusive`). On success it emits `curated_events`, as the hourly DAG.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import Asset, dag, task

from clickstream.constants import CURATED_EVENTS_PREFIX
from clickstream.jobs.airflow_compat import cron_data_interval_timetable, doubling_retry_backoff, task_exceptions
from clickstream.jobs.intervals import archive_settle_seconds, batch_start
from clickstream.settings import Settings

CURATED_EVENTS_ASSET = "curated_events"  # batch_metrics schedules on the same name and URI
SCHEDULED = "scheduled"  # DagRunType.SCHEDULED's value

curated_events = Asset(
    name=CURATED_EVENTS_ASSET, uri=f"s3://{Settings.from_env().names.bucket}/{CURATED_EVENTS_PREFIX}"
)


@dag(
    schedule=cron_data_interval_timetable()("0 0 * * *", timezone="UTC"),  # [00:00, 24:00) intervals
    start_date=batch_start(),
    catchup=False,
    max_active_runs=2,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": doubling_retry_backoff(),
        "max_retry_delay": timedelta(minutes=10),
    },
    tags=["clickstream", "batch", "backfill"],
    doc_md=__doc__,
)
def compact_raw_events_daily() -> None:
    settle = archive_settle_seconds()
    wait_for_archive = TimeDeltaSensor(
        task_id="wait_for_archive",
        delta=timedelta(seconds=settle),
        mode="reschedule",
        poke_interval=max(settle, 30),
    )

    @task(outlets=[curated_events], max_active_tis_per_dag=1)
    def compact(**context: Any) -> dict[str, Any]:
        from clickstream.jobs.compact import DataQualityError, compact_interval
        from clickstream.jobs.intervals import run_interval

        run = context.get("dag_run")
        run_type = getattr(run, "run_type", None)
        if getattr(run_type, "value", run_type) == SCHEDULED:
            raise task_exceptions().AirflowSkipException(
                "scheduled runs skip: compact_raw_events compacts every hour; backfill this DAG for long ranges"
            )
        start, end = run_interval(
            context.get("data_interval_start"), context.get("data_interval_end"), getattr(run, "conf", None)
        )
        try:
            report = compact_interval(Settings.from_env(), start, end, run_id=context["run_id"])
        except DataQualityError as exc:
            raise task_exceptions().AirflowFailException(str(exc)) from exc
        extra = report.asset_extra(start, end)
        context["outlet_events"][curated_events].extra = extra
        return extra

    wait_for_archive >> compact()


compact_raw_events_daily()
