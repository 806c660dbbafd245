"""compact_raw_events: every hour, the raw archive's arrival hour -> curated Parquet + Glue partitions.

Wiring only; the logic is `clickstream.jobs.compact.compact_interval`, called with the run's data
interval [start, end) and Airflow's run id. The run for 10:00-11:00 starts once the archiver had
time to flush that hour (`wait_for_archive`, a rescheduling sensor: it frees its slot while it
waits), then compacts. On success it emits the `curated_events` asset with the (dt, hour)
partitions it wrote, which schedules `batch_metrics` (data-aware: only the days touched).

Environment (read when the file is parsed; `clickstream.jobs.intervals`):
  CLICKSTREAM_BATCH_START            first hour to compact (ISO, UTC); default 00:00 UTC yesterday
  CLICKSTREAM_ARCHIVE_SETTLE_SECONDS how long after an hour ends its raw objects keep landing
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

curated_events = Asset(
    name=CURATED_EVENTS_ASSET,
    uri=f"s3://{Settings.from_env().names.bucket}/{CURATED_EVENTS_PREFIX}",
)


@dag(
    schedule=cron_data_interval_timetable()("0 * * * *", timezone="UTC"),  # [HH:00, HH+1:00) intervals
    start_date=batch_start(),
    catchup=True,
    max_active_runs=2,  # catch-up: the next hour's sensor waits while one compacts
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": doubling_retry_backoff(),
        "max_retry_delay": timedelta(minutes=10),
    },
    tags=["clickstream", "batch"],
    doc_md=__doc__,
)
def compact_raw_events() -> None:
    settle = archive_settle_seconds()
    wait_for_archive = TimeDeltaSensor(
        task_id="wait_for_archive",
        delta=timedelta(seconds=settle),
        mode="reschedule",  # frees its worker slot between pokes
        poke_interval=max(settle, 30),  # usually two pokes: at the hour's end, then settled
    )

    # One compaction at a time, backfills included: two runs merging into the same event-hour
    # partition would each write it without the other's rows.
    @task(outlets=[curated_events], max_active_tis_per_dag=1)
    def compact(**context: Any) -> dict[str, Any]:
        from clickstream.jobs.compact import DataQualityError, compact_interval
        from clickstream.jobs.intervals import run_interval

        conf = getattr(context.get("dag_run"), "conf", None)  # a manual run may name its interval
        # a manual run without a logical date has no data interval: its conf names one
        start, end = run_interval(context.get("data_interval_start"), context.get("data_interval_end"), conf)
        try:
            report = compact_interval(Settings.from_env(), start, end, run_id=context["run_id"])
        except DataQualityError as exc:  # the same rows fail again: fix the data, then clear the task
            raise task_exceptions().AirflowFailException(str(exc)) from exc
        extra = report.asset_extra(start, end)
        context["outlet_events"][curated_events].extra = extra  # read by batch_metrics
        return extra

    wait_for_archive >> compact()


compact_raw_events()
