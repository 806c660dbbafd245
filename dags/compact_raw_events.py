"""compact_raw_events: every hour, the raw archive's arrival hour -> curated Parquet + Glue partitions.

Wiring only; the logic is `clickstream.jobs.compact.compact_interval`, called with the run's data
interval [start, end) and Airflow's run id. The run for 10:00-11:00 starts once the archiver had
time to flush that hour (`wait_for_archive`, a rescheduling sensor: it frees its slot while it
waits), then compacts. On success it emits the `curated_events` asset with the (dt, hour)
partitions it wrote, which schedules `batch_metrics` (data-aware: only the days touched).

Environment (read when the file is parsed):
  CLICKSTREAM_BATCH_START            first hour to compact, ISO date or datetime (UTC);
                                     default: 00:00 UTC yesterday (the local stack sets
                                     a few hours before its Airflow first started)
  CLICKSTREAM_ARCHIVE_SETTLE_SECONDS how long after an hour ends its raw objects keep
                                     landing (archiver flush age); default 120
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from clickstream.constants import CURATED_EVENTS_PREFIX, ENV_ARCHIVE_SETTLE, ENV_BATCH_START
from clickstream.settings import Settings

CURATED_EVENTS_ASSET = "curated_events"  # batch_metrics schedules on the same name and URI


def batch_start(env: Mapping[str, str] = os.environ, *, today: datetime | None = None) -> datetime:
    """The DAG's start_date: $CLICKSTREAM_BATCH_START, else 00:00 UTC yesterday (stable all day)."""
    raw = env.get(ENV_BATCH_START, "").strip()
    if raw:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"{ENV_BATCH_START}={raw!r}: expected an ISO date such as 2026-11-20") from exc
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    now = today or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


curated_events = Asset(
    name=CURATED_EVENTS_ASSET,
    uri=f"s3://{Settings.from_env().names.bucket}/{CURATED_EVENTS_PREFIX}",
)


@dag(
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),  # [HH:00, HH+1:00) intervals
    start_date=batch_start(),
    catchup=True,
    max_active_runs=2,  # catch-up on a laptop: two hours at a time, oldest first
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
    },
    tags=["clickstream", "batch"],
    doc_md=__doc__,
)
def compact_raw_events() -> None:
    settle = int(os.environ.get(ENV_ARCHIVE_SETTLE, "120"))
    wait_for_archive = TimeDeltaSensor(
        task_id="wait_for_archive",
        delta=timedelta(seconds=settle),
        mode="reschedule",  # frees its worker slot between pokes
        poke_interval=max(settle, 30),  # usually two pokes: at the hour's end, then settled
    )

    @task(outlets=[curated_events])
    def compact(**context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from clickstream.jobs.compact import DataQualityError, compact_interval
        from clickstream.jobs.intervals import run_interval

        conf = getattr(context.get("dag_run"), "conf", None)  # a manual run may name its interval
        # a manual run without a logical date has no data interval: its conf names one
        start, end = run_interval(context.get("data_interval_start"), context.get("data_interval_end"), conf)
        try:
            report = compact_interval(Settings.from_env(), start, end, run_id=context["run_id"])
        except DataQualityError as exc:  # the same rows fail again: fix the data, then clear the task
            raise AirflowFailException(str(exc)) from exc
        summary = {
            "interval": [start.isoformat(), end.isoformat()],
            "partitions": [[dt, hour] for dt, hour in report.partitions],  # event time: what metrics redo
            **{k: getattr(report, k) for k in ("raw_rows", "valid", "quarantined", "duplicates", "published")},
            "pass_rate": report.pass_rate,
        }
        context["outlet_events"][curated_events].extra = summary  # read by batch_metrics
        return summary

    wait_for_archive >> compact()


compact_raw_events()
