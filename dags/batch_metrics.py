"""batch_metrics: recompute the exact metrics of the days a compaction touched.

Data-aware: scheduled on the `curated_events` asset (emitted by `compact_raw_events`). One run
may stand for several compaction runs (asset events queue up while it runs); it reads their
extras, takes the event-time days of the partitions they wrote and recomputes them with
`clickstream.jobs.batch_metrics.compute_batch_metrics` (one call per run of consecutive days).
On success it emits the `batch_metrics` asset with those days, which schedules reconciliation.
A manual trigger may pass {"start_date": "YYYY-MM-DD", "end_date": "YYYY-MM-DD"} instead.
Nothing touched (empty hours) -> the task is skipped and no asset event is emitted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Asset, Param, dag, task

from clickstream.constants import CURATED_EVENTS_PREFIX, CURATED_METRICS_PREFIX
from clickstream.jobs.airflow_compat import doubling_retry_backoff, task_exceptions
from clickstream.jobs.intervals import day_ranges, requested_days
from clickstream.settings import Settings

BATCH_METRICS_ASSET = "batch_metrics"
CURATED_EVENTS_ASSET = "curated_events"  # emitted by compact_raw_events


# Concrete assets (name and URI), not Asset.ref: Airflow 3.3 queues a run for a name reference
# but hands it none of the triggering events.
_bucket = Settings.from_env().names.bucket
curated_events = Asset(name=CURATED_EVENTS_ASSET, uri=f"s3://{_bucket}/{CURATED_EVENTS_PREFIX}")
batch_metrics_asset = Asset(name=BATCH_METRICS_ASSET, uri=f"s3://{_bucket}/{CURATED_METRICS_PREFIX}")


@dag(
    schedule=curated_events,
    catchup=False,
    max_active_runs=1,  # one recomputation at a time; queued asset events wait for the next run
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": doubling_retry_backoff(),
    },
    params={
        "start_date": Param(None, type=["null", "string"], format="date", description="manual runs: first day"),
        "end_date": Param(None, type=["null", "string"], format="date", description="manual runs: last day"),
    },
    tags=["clickstream", "batch"],
    doc_md=__doc__,
)
def batch_metrics() -> None:
    @task(outlets=[batch_metrics_asset])
    def compute(**context: Any) -> dict[str, Any]:
        events = [e for evs in context["triggering_asset_events"].values() for e in evs]
        days = requested_days(context["params"], [e.extra or {} for e in events])
        if not days:
            raise task_exceptions().AirflowSkipException(
                f"the {len(events)} compaction(s) wrote no partition: nothing to recompute"
            )

        from clickstream.jobs.batch_metrics import compute_batch_metrics

        settings = Settings.from_env()
        ranges = day_ranges(days)
        reports = [compute_batch_metrics(settings, first, last).summary() for first, last in ranges]
        summary = {
            "days": [d.isoformat() for d in days],
            "ranges": [[a.isoformat(), b.isoformat()] for a, b in ranges],
            "source_runs": sorted({f"{e.source_dag_id}/{e.source_run_id}" for e in events}),
            "metrics": reports,
        }
        context["outlet_events"][batch_metrics_asset].extra = summary  # read by reconcile_speed_batch
        return summary

    compute()


batch_metrics()
