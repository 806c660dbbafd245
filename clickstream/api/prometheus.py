"""GET /metrics: Prometheus exposition from a registry of our own (never the process-global one).

Every value is read at scrape time (no background thread): real-time counters of the current UTC
day from the realtime table, pipeline health from its freshness and bad-row items, and batch job
runs from the batch table (`clickstream.adapters.dynamodb.runs`). The metric NAMES below are the contract
with the Grafana dashboards and alert rules (their tests check every expression against them).
A source that cannot be read is reported in `clickstream_scrape_errors{source}`, never as a 500.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from clickstream.api.deps import ApiDeps
from clickstream.constants import EVENT_TYPES
from clickstream.errors import ClickstreamError
from clickstream.events.schema import REASONS
from clickstream.metrics import definitions as d
from clickstream.metrics.sketch import top_items
from clickstream.metrics.windows import DAY, HOUR, MINUTE, sk_of

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

# --- metric names (Grafana imports these) --------------------------------------------------------
EVENTS_TODAY: Final = "clickstream_events_today"  # {event_type}: events of the current UTC day
EVENTS_ALL_TODAY: Final = "clickstream_events_all_today"  # every event of the current UTC day
EVENTS_LAST_MINUTE: Final = "clickstream_events_last_minute"  # events of the previous complete minute
ERRORS_TODAY: Final = "clickstream_errors_today"  # {status}: events with that status >= 400, today
ERROR_RATE: Final = "clickstream_error_rate"  # {window=last_minute|hour|day}: errors / events
REVENUE_TODAY: Final = "clickstream_revenue_today"  # Σ price * quantity of today's purchases
CONSUMER_LAG_SECONDS: Final = "clickstream_consumer_lag_seconds"  # {shard}: now - newest arrival applied
FRESHNESS_SECONDS: Final = "clickstream_freshness_seconds"  # now - newest event time applied
BAD_ROWS_TODAY: Final = "clickstream_bad_rows_today"  # {reason}: records rejected by the speed layer today
BAD_ROW_RATE: Final = "clickstream_bad_row_rate"  # bad rows / (bad rows + events), today
DUPLICATES_TODAY: Final = "clickstream_duplicates_today"  # producer duplicates dropped today
JOB_LAST_SUCCESS: Final = "clickstream_job_last_success_timestamp_seconds"  # {job}
JOB_LAST_RUN: Final = "clickstream_job_last_run_timestamp_seconds"  # {job}
JOB_LAST_RUN_SUCCESS: Final = "clickstream_job_last_run_success"  # {job}: 1 success, 0 failed
DATA_QUALITY_PASS_RATE: Final = "clickstream_data_quality_pass_rate"  # latest compaction's GX pass rate
RECONCILIATION_MAX_ABS_DRIFT: Final = "clickstream_reconciliation_max_abs_drift"  # latest reconcile run
SCRAPE_ERRORS: Final = "clickstream_scrape_errors"  # {source}: 1 when that source could not be read
METRIC_NAMES: Final[tuple[str, ...]] = (
    EVENTS_TODAY, EVENTS_ALL_TODAY, EVENTS_LAST_MINUTE, ERRORS_TODAY, ERROR_RATE, REVENUE_TODAY,
    CONSUMER_LAG_SECONDS, FRESHNESS_SECONDS, BAD_ROWS_TODAY, BAD_ROW_RATE, DUPLICATES_TODAY,
    JOB_LAST_SUCCESS, JOB_LAST_RUN, JOB_LAST_RUN_SUCCESS, DATA_QUALITY_PASS_RATE,
    RECONCILIATION_MAX_ABS_DRIFT, SCRAPE_ERRORS,
)  # fmt: skip

JOBS: Final = ("compact_raw_events", "batch_metrics", "reconcile_speed_batch")
COMMON_STATUSES: Final = (400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504)
PASS_RATE_KEYS: Final = ("pass_rate", "quality_pass_rate", "data_quality_pass_rate")
_HISTORY_DAYS = 7  # how far back the last success is looked for when the latest run failed


def _gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


class PipelineCollector(Collector):
    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps

    def collect(self) -> Iterator[Metric]:
        errors = _gauge(SCRAPE_ERRORS, "1 when a source could not be read at this scrape", ("source",))
        now = self.deps.clock()
        for source, read in (("realtime", self._realtime), ("runs", self._runs)):
            try:
                yield from read(now)
                errors.add_metric([source], 0)
            except (ClickstreamError, ClientError, BotoCoreError):
                errors.add_metric([source], 1)
        yield errors

    def _realtime(self, now: datetime) -> Iterator[Metric]:
        day, hour, minute = sk_of(DAY, now), sk_of(HOUR, now), sk_of(MINUTE, now - timedelta(minutes=1))
        table = self.deps.realtime
        hours = [sk_of(HOUR, now.replace(hour=h)) for h in range(now.hour + 1)]
        keys = [(d.pk(d.TYPE, t), day) for t in EVENT_TYPES] + [(d.ALL, day), (d.ALL, hour), (d.ALL, minute)]
        keys += [(d.bad_pk(r), day) for r in REASONS] + [(d.DUPLICATES_PK, day), (d.FRESHNESS_PK, d.FRESHNESS_SK)]
        keys += [(d.top_pk(d.STATUS), sk) for sk in hours]
        items = table.get_items(keys)
        statuses = {str(s) for s in COMMON_STATUSES}
        for sk in hours:
            blob = (items.get((d.top_pk(d.STATUS), sk)) or {}).get("sketch")
            statuses.update(v for v, _ in top_items(bytes(blob) if blob is not None else None, 50))
        error_statuses = sorted(s for s in statuses if s.isdigit() and d.is_error(int(s)))
        items.update(table.get_items([(d.pk(d.STATUS, s), day) for s in error_statuses]))

        def num(pk: str, sk: str, attr: str = d.EVENTS) -> float:
            return float((items.get((pk, sk)) or {}).get(attr, 0))

        by_type = _gauge(EVENTS_TODAY, "events of the current UTC day by type (speed layer)", ("event_type",))
        for t in EVENT_TYPES:
            by_type.add_metric([t], num(d.pk(d.TYPE, t), day))
        yield by_type
        yield GaugeMetricFamily(EVENTS_ALL_TODAY, "events of the current UTC day", value=num(d.ALL, day))
        yield GaugeMetricFamily(EVENTS_LAST_MINUTE, "events of the previous minute", value=num(d.ALL, minute))
        yield GaugeMetricFamily(REVENUE_TODAY, "revenue of the current UTC day", value=num(d.ALL, day, d.REVENUE))
        errors = _gauge(ERRORS_TODAY, "error events (http_status >= 400) of the current UTC day", ("status",))
        for s in error_statuses:
            if num(d.pk(d.STATUS, s), day):
                errors.add_metric([s], num(d.pk(d.STATUS, s), day))
        yield errors
        rate = _gauge(ERROR_RATE, "errors / events per window (NaN: no events)", ("window",))
        for name, sk in (("last_minute", minute), ("hour", hour), ("day", day)):
            events = num(d.ALL, sk)
            rate.add_metric([name], num(d.ALL, sk, d.ERRORS) / events if events else float("nan"))
        yield rate
        bad = _gauge(BAD_ROWS_TODAY, "records rejected by the speed layer today (arrival time)", ("reason",))
        bad_total = 0.0
        for r in REASONS:
            n = num(d.bad_pk(r), day)
            bad_total += n
            bad.add_metric([r], n)
        yield bad
        seen = bad_total + num(d.ALL, day)
        yield GaugeMetricFamily(
            BAD_ROW_RATE, "bad rows / (bad rows + events), today", value=bad_total / seen if seen else 0.0
        )
        yield GaugeMetricFamily(DUPLICATES_TODAY, "producer duplicates dropped today", value=num(d.DUPLICATES_PK, day))
        yield from _freshness(items.get((d.FRESHNESS_PK, d.FRESHNESS_SK)) or {}, now)

    def _runs(self, now: datetime) -> Iterator[Metric]:
        last_success = _gauge(JOB_LAST_SUCCESS, "when the job last succeeded (unix seconds)", ("job",))
        last_run = _gauge(JOB_LAST_RUN, "when the job last finished (unix seconds)", ("job",))
        ok = _gauge(JOB_LAST_RUN_SUCCESS, "1 when the job's latest run succeeded", ("job",))
        runs: dict[str, dict[str, Any] | None] = {}
        for job in JOBS:
            run = runs[job] = self.deps.latest_run(job)
            if not run:
                continue
            finished = _epoch(run.get("finished_at"))
            if finished is not None:
                last_run.add_metric([job], finished)
            success = run.get("status") == "success"
            ok.add_metric([job], 1.0 if success else 0.0)
            when = finished if success else self._last_success(job, now)
            if when is not None:
                last_success.add_metric([job], when)
        yield from (last_success, last_run, ok)
        compaction = runs["compact_raw_events"] or {}
        pass_rate = next((compaction[k] for k in PASS_RATE_KEYS if compaction.get(k) is not None), None)
        if pass_rate is not None:
            yield GaugeMetricFamily(
                DATA_QUALITY_PASS_RATE, "data-quality pass rate of the latest compaction", value=float(pass_rate)
            )
        drift = (runs["reconcile_speed_batch"] or {}).get("max_abs_drift")
        if drift is not None:
            yield GaugeMetricFamily(
                RECONCILIATION_MAX_ABS_DRIFT, "largest |speed - batch| of the latest reconciliation", value=float(drift)
            )

    def _last_success(self, job: str, now: datetime) -> float | None:
        from clickstream.adapters.dynamodb import run_pk

        since = (now - timedelta(days=_HISTORY_DAYS)).strftime("%Y-%m-%dT%H:%M:%S")
        history = self.deps.batch.query(run_pk(job), since, "9")  # history sks are ISO times; `latest` sorts after
        wins = [_epoch(i.get("finished_at")) for i in history if i.get("status") == "success"]
        return max((w for w in wins if w is not None), default=None)


def _freshness(item: Mapping[str, Any], now: datetime) -> Iterator[Metric]:
    lag = _gauge(CONSUMER_LAG_SECONDS, "now - arrival time of the newest record applied, per shard", ("shard",))
    for key, value in sorted(item.items()):
        if key.startswith(d.FRESHNESS_ARRIVAL):
            lag.add_metric([key.split("#", 1)[1]], max(0.0, now.timestamp() - float(value) / 1000))
    yield lag
    newest = max((str(v) for k, v in item.items() if k.startswith(d.FRESHNESS_EVENT)), default=None)
    if newest is not None:
        age = _epoch(newest)
        if age is not None:
            yield GaugeMetricFamily(FRESHNESS_SECONDS, "now - newest event time applied", value=now.timestamp() - age)


def _epoch(stamp: Any) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def exposition(deps: ApiDeps) -> bytes:
    """The text exposition of a registry holding only our collector (built per scrape: no global state)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(deps))
    return generate_latest(registry)
