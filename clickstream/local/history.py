"""`clickstream simulate --history 7d` and `make demo`'s lake of the past: write it, then backfill it.

1. `write_history`: the simulated past (`clickstream.simulate.history`) into the raw archive's
   arrival-hour partitions, and the event-time hours it filled into the batch table (reconciliation
   leaves them out: the speed layer never saw them).
2. `backfill_history`: Airflow backfills through the REST API, the way the UI's Backfill dialog
   creates them: `compact_raw_events_daily` over the days that ended (a run compacts a day of
   arrival hours: a week is 7 runs, not 168), then `compact_raw_events` over today's hours.
   The compactions' asset events schedule `batch_metrics`, whose asset schedules
   `reconcile_speed_batch`. It waits for all of them, printing progress.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from clickstream.errors import ConfigError
from clickstream.local.airflow_api import AirflowApi, AirflowApiError
from clickstream.settings import Settings
from clickstream.simulate.history import HistoryConfig, HistoryReport, describe, history_objects

Notify = Callable[[str], None]

BACKFILL_DAG: Final = "compact_raw_events_daily"
METRICS_DAG: Final = "batch_metrics"
DOWNSTREAM_DAGS: Final = (METRICS_DAG, "reconcile_speed_batch")
CURATED_EVENTS_ASSET: Final = "curated_events"  # what the compaction DAGs emit
PUT_THREADS: Final = 8
POLL_S: Final = 2.0
BACKFILL_TIMEOUT_S: Final = 1800.0
DAY: Final = timedelta(days=1)
HOUR: Final = timedelta(hours=1)
HOURLY_DAG: Final = "compact_raw_events"
SETTLED_POLLS: Final = 3  # downstream DAGs idle this many polls in a row: done
FINISHED: Final = ("success", "failed")
EVENTS_500_RETRIES: Final = 5


def write_history(settings: Settings, config: HistoryConfig, notify: Notify) -> dict[str, Any]:
    """Write the simulated past into the raw archive; returns what was written."""
    from clickstream.adapters.dynamodb.history import record_history_hours
    from clickstream.adapters.s3 import lake_bucket

    began = time.monotonic()
    bucket = lake_bucket(settings)
    report = HistoryReport()
    notify(
        f"==> history: the {describe(config.duration)} before {config.end:%Y-%m-%d %H:%M} UTC, about {config.events:,} events "
        f"of {config.users:,} returning users (seed {config.seed}) into the raw archive"
    )
    with ThreadPoolExecutor(PUT_THREADS, thread_name_prefix="history-put") as pool:
        pending: deque[Future[int]] = deque()
        for obj in history_objects(config, report):
            pending.append(pool.submit(bucket.put_ndjson_gz, obj.key, obj.lines))
            if len(pending) >= 4 * PUT_THREADS:  # a long history is not held in memory whole
                pending.popleft().result()
        for future in pending:
            future.result()
    record_history_hours(settings, report.event_hours)
    seconds = round(time.monotonic() - began, 1)
    notify(
        f"    {report.events:,} events ({report.distinct:,} distinct; {report.late:,} late, {report.duplicates:,} "
        f"retries) of {report.users:,} users in {report.sessions:,} sessions: {report.objects:,} objects over "
        f"{len(report.hours)} arrival hours, in {seconds} s"
    )
    return {
        "start": config.start.isoformat(),
        "end": config.end.isoformat(),
        "events": report.events,
        "distinct": report.distinct,
        "late": report.late,
        "duplicates": report.duplicates,
        "users": report.users,
        "sessions": report.sessions,
        "objects": report.objects,
        "arrival_hours": len(report.hours),
        "rejected": dict(report.rejected),
        "seconds": seconds,
    }


def load_history(
    settings: Settings, config: HistoryConfig, notify: Notify, *, airflow_url: str | None = None, backfill: bool = True
) -> dict[str, Any]:
    """`write_history`, then `backfill_history` through the Airflow at `airflow_url` (the local
    one by default) unless `backfill` is False: what `simulate --history`, `make demo` and
    `make up` run. Returns {"history": …, "backfill": …, "seconds": …}."""
    from clickstream.local.airflow import airflow_url as local_airflow_url

    began = time.monotonic()
    result: dict[str, Any] = {"history": write_history(settings, config, notify)}
    if backfill:
        api = AirflowApi(airflow_url or local_airflow_url(settings))
        result["backfill"] = backfill_history(api, config.start, config.end, notify)
    result["seconds"] = round(time.monotonic() - began, 1)
    return result


@dataclass(frozen=True)
class Segment:
    """One backfill: `dag_id` over the intervals starting first..last (both included)."""

    dag_id: str
    first: datetime
    last: datetime
    step: timedelta

    @property
    def runs(self) -> int:
        return int((self.last - self.first) / self.step) + 1


def backfill_plan(start: datetime, end: datetime) -> list[Segment]:
    """The backfills that compact the arrival hours of [start, end) (hours, UTC): the days that ended
    by `end` through the daily DAG, a run a day; today's hours through the hourly DAG, whose
    intervals have ended (a daily interval still under way gets no backfill run)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first_day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    today = end.replace(hour=0, minute=0, second=0, microsecond=0)
    plan = []
    if today > first_day:
        plan.append(Segment(BACKFILL_DAG, first_day, today - DAY, DAY))
    first_hour = max(today, start.replace(minute=0, second=0, microsecond=0))
    last_hour = (end - timedelta(microseconds=1)).replace(minute=0, second=0, microsecond=0)
    if last_hour >= first_hour:
        plan.append(Segment(HOURLY_DAG, first_hour, last_hour, HOUR))
    return plan


def backfill_history(
    api: AirflowApi, start: datetime, end: datetime, notify: Notify, *, timeout: float = BACKFILL_TIMEOUT_S
) -> dict[str, Any]:
    """Backfill the arrival hours of [start, end) (`backfill_plan`), then wait for the DAGs the
    compactions' asset events schedule."""
    began = time.monotonic()
    deadline = began + timeout
    done: list[dict[str, Any]] = []
    for segment in backfill_plan(start, end):
        done.append(run_backfill(api, segment, notify, deadline))
    compacted = time.monotonic() - began
    wait_for_metrics(api, notify, deadline, since=min(b["created_at"] for b in done) if done else "")
    seconds = round(time.monotonic() - began, 1)
    notify(f"    history backfilled in {seconds} s (compaction {compacted:.0f} s, then the metrics)")
    return {
        "backfills": [{k: b[k] for k in ("dag_id", "id", "runs")} for b in done],
        "compaction_seconds": round(compacted, 1),
        "seconds": seconds,
    }


def wait_for_metrics(api: AirflowApi, notify: Notify, deadline: float, *, since: str = "") -> None:
    """Wait until the DAGs the compactions' asset events schedule are idle, and have the days of
    any compaction event no `batch_metrics` run consumed recomputed (`unconsumed_days`); none of
    their runs queued since `since` may have failed."""
    notify(f"    waiting for {' and '.join(DOWNSTREAM_DAGS)}, scheduled by the compactions' asset events")
    _settle(api, deadline)
    for _ in range(EVENTS_500_RETRIES):
        try:
            days = unconsumed_days(api, since)
            break
        except AirflowApiError as exc:  # 500 while a run the events created has not started (BATCH.md)
            if exc.status != 500:
                raise
            _settle(api, deadline)
    else:
        raise ConfigError("GET /api/v2/assets/events kept answering 500: see the Airflow api-server log")
    if days:
        notify(
            f"    {len(days)} day(s) whose compaction events no batch_metrics run consumed: a run for "
            f"{days[0]} to {days[-1]}"
        )
        conf = {"start_date": days[0], "end_date": days[-1]}
        api.call("POST", f"/api/v2/dags/{METRICS_DAG}/dagRuns", {"logical_date": None, "conf": conf})
        _settle(api, deadline)
    for dag in DOWNSTREAM_DAGS:
        bad = [r["dag_run_id"] for r in api.dag_runs(dag) if r["state"] == "failed" and _queued_since(r, since)]
        if bad:
            raise ConfigError(f"{dag} runs failed after the backfill: {bad}; see their task logs in the Airflow UI")


def _settle(api: AirflowApi, deadline: float) -> None:
    idle = 0
    while idle < SETTLED_POLLS:
        idle = 0 if any(api.busy(dag) for dag in DOWNSTREAM_DAGS) else idle + 1
        _check_deadline(deadline, f"{' and '.join(DOWNSTREAM_DAGS)} after the backfill")
        time.sleep(POLL_S)


def unconsumed_days(api: AirflowApi, since: str) -> list[str]:
    """Days of the compactions' `curated_events` events since `since` that no `batch_metrics` run
    consumed.

    Airflow 3.3 gives an asset-triggered run the events up to when its queue row was created
    (`triggered_date` in `SchedulerJobRunner._create_dag_runs_asset_triggered`) and then deletes
    the row: events that arrive while `batch_metrics` waits for its running run (max_active_runs=1)
    fall outside that run and queue nothing new. The next compaction's event brings them into the
    next run, an hour later in production; at the end of a backfill there is no next one."""
    days: set[str] = set()
    for dag in (BACKFILL_DAG, HOURLY_DAG):
        query = f"source_dag_id={dag}&limit=1000" + (f"&timestamp_gte={quote(since)}" if since else "")
        for event in api.call("GET", f"/api/v2/assets/events?{query}")["asset_events"]:
            if event.get("name") != CURATED_EVENTS_ASSET:
                continue
            if any(run["dag_id"] == METRICS_DAG for run in event.get("created_dagruns") or ()):
                continue
            days |= {str(p[0]) for p in (event.get("extra") or {}).get("partitions") or ()}
    return sorted(days)


def run_backfill(api: AirflowApi, segment: Segment, notify: Notify, deadline: float) -> dict[str, Any]:
    """Create one backfill and wait until Airflow marks it complete, with progress; its runs must succeed."""
    began = time.monotonic()
    unit = ("day" if segment.step == DAY else "hour") + ("s" if segment.runs != 1 else "")
    body = {
        "dag_id": segment.dag_id,
        "from_date": segment.first.isoformat(),
        "to_date": segment.last.isoformat(),
        "reprocess_behavior": "completed",  # a second history over the same hours compacts them again
        # the next run's sensor is done while one compacts; the compactions themselves take turns
        # (max_active_tis_per_dag and the job's lease)
        "max_active_runs": 2,
        "dag_run_conf": {},
    }
    notify(
        f"==> Airflow backfill of {segment.dag_id}: {segment.runs} {unit}, "
        f"{segment.first:%Y-%m-%d %H:%M} to {segment.last:%Y-%m-%d %H:%M} UTC"
    )
    backfill = _create_backfill(api, body, deadline)
    finished = 0
    while True:
        latest = _latest_runs(api, segment)
        now_finished = sum(r["state"] in FINISHED for r in latest.values())
        if now_finished != finished:
            finished = now_finished
            notify(f"    {finished}/{segment.runs} {unit} compacted ({time.monotonic() - began:.0f} s)")
        # Airflow creates no backfill run for an interval whose scheduled run is queued or running
        # (the local scheduler catches up a few hours): that run compacts it, so wait for it too
        if finished == segment.runs and api.call("GET", f"/api/v2/backfills/{backfill['id']}").get("completed_at"):
            break
        _check_deadline(deadline, f"the backfill {backfill['id']} of {segment.dag_id}")
        time.sleep(POLL_S)
    failed = sorted(r["dag_run_id"] for r in latest.values() if r["state"] != "success")
    if failed:
        raise ConfigError(
            f"backfill {backfill['id']} of {segment.dag_id}: runs failed: {failed}; see their task logs in the "
            "Airflow UI, then backfill those intervals again (the raw archive holds the history)"
        )
    return {**backfill, "runs": segment.runs}  # intervals compacted (a scheduled run may have done one)


def _latest_runs(api: AirflowApi, segment: Segment) -> dict[datetime, dict[str, Any]]:
    """The latest run (any type) of each of the segment's intervals that has one."""
    latest: dict[datetime, dict[str, Any]] = {}
    for run in api.dag_runs(segment.dag_id):
        if not run.get("data_interval_start"):
            continue
        interval = datetime.fromisoformat(run["data_interval_start"].replace("Z", "+00:00"))
        if segment.first <= interval <= segment.last and (run.get("queued_at") or "") >= (
            latest.get(interval, {}).get("queued_at") or ""
        ):
            latest[interval] = run
    return latest


def _queued_since(run: dict[str, Any], since: str) -> bool:
    return (run.get("queued_at") or "") >= since[:19]


def _create_backfill(api: AirflowApi, body: dict[str, Any], deadline: float) -> dict[str, Any]:
    """POST the backfill; wait out another running backfill of the DAG (a 409) instead of failing."""
    while True:
        try:
            return dict(api.call("POST", "/api/v2/backfills", body))
        except AirflowApiError as exc:
            if exc.status != 409:
                raise
        _check_deadline(deadline, f"another running backfill of {BACKFILL_DAG}")
        time.sleep(POLL_S)


def _check_deadline(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise ConfigError(f"timed out waiting for {what}: see the Airflow UI")
