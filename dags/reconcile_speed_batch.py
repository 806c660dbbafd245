"""reconcile_speed_batch: compare the speed layer's counters with the batch view just recomputed.

Data-aware: scheduled on the `batch_metrics` asset. It reads the days the triggering metric runs
recomputed (their asset-event extras) and calls `clickstream.jobs.reconcile.reconcile` over the
first to the last of them (inclusive). The drift per metric and window lands in S3, in the batch
table (`drift#<metric>`) and in the run summary the API's pipeline health reads.
A manual trigger may pass {"start_date": "YYYY-MM-DD", "end_date": "YYYY-MM-DD"} instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Asset, Param, dag, task

from clickstream.constants import CURATED_METRICS_PREFIX
from clickstream.jobs.airflow_compat import doubling_retry_backoff, task_exceptions
from clickstream.jobs.intervals import reconcile_range
from clickstream.settings import Settings

BATCH_METRICS_ASSET = "batch_metrics"  # emitted by batch_metrics
# the same name and URI as batch_metrics' outlet (a name-only Asset.ref gets no triggering events)
batch_metrics_asset = Asset(
    name=BATCH_METRICS_ASSET, uri=f"s3://{Settings.from_env().names.bucket}/{CURATED_METRICS_PREFIX}"
)


@dag(
    schedule=batch_metrics_asset,
    catchup=False,
    max_active_runs=1,
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
def reconcile_speed_batch() -> None:
    @task
    def reconcile(**context: Any) -> dict[str, Any]:
        events = [e for evs in context["triggering_asset_events"].values() for e in evs]
        span = reconcile_range(context["params"], [e.extra or {} for e in events])
        if span is None:
            raise task_exceptions().AirflowSkipException("no recomputed day to reconcile")

        from clickstream.jobs.reconcile import reconcile as reconcile_days

        return dict(reconcile_days(Settings.from_env(), *span).summary())  # drift: S3, batch table, run record

    reconcile()


reconcile_speed_batch()
