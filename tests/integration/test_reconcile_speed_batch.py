"""Reconciliation on the real moto server: the real speed layer (SpeedProcessor → realtime table) and the
batch job over the same events agree exactly; duplicates the speed layer's best-effort dedupe misses
show up as the drift they cause, and nothing else drifts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from support.metrics_lake import SHARD, as_records, distinct, sim_events, speed_processor, write_curated

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb import BatchView, drift_pk, latest_run
from clickstream.adapters.glue import glue_catalog
from clickstream.adapters.query.local import LocalEngine
from clickstream.jobs.batch_metrics import compute_batch_metrics
from clickstream.jobs.reconcile import ReconciliationReport, reconcile
from clickstream.metrics.definitions import revenue_of
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # the speed layer over hundreds of events on the embedded server

DAY = date(2026, 11, 22)
START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ARRIVAL = START + timedelta(hours=4, minutes=5)  # after every event, well within the lateness bound


@pytest.fixture
def events(settings: Settings) -> list[dict[str, Any]]:
    # producer retries included: the speed layer drops them in-batch, the batch layer by event_id
    stream = sim_events(300, start=START, hours=4, seed=21, error_rate=0.05, duplicate_fraction=0.04)
    assert len(stream) > len(distinct(stream))
    result = speed_processor(settings).process(SHARD, as_records(stream, first=1_000, arrival=ARRIVAL))
    assert result.duplicates == len(stream) - len(distinct(stream)) and result.bad == 0
    write_curated(settings, distinct(stream))
    compute_batch_metrics(settings, DAY, DAY)
    return distinct(stream)


def by_key(report: ReconciliationReport) -> dict[tuple[str, str, str], Any]:
    return {(r.pk, r.sk, r.metric): r for r in report.drifts}


def test_a_clean_run_reconciles_with_zero_drift_and_a_rerun_writes_the_same_report(
    settings: Settings, events: list[dict[str, Any]]
) -> None:
    report = reconcile(settings, DAY, DAY)

    assert report.windows == 25 and report.mismatches == [] and report.max_abs_drift == 0
    rows = by_key(report)
    day = "d#2026-11-22T00:00:00Z"
    assert rows[("all", day, "events")].batch == rows[("all", day, "events")].speed == len(events)
    assert {m for (_, _, m) in rows} >= {
        "events",
        "errors",
        "revenue",
        "orders",
        "duration_ms",
        "timed_events",
        "users",
        "sessions",
    }
    assert any(pk.startswith("url#") for (pk, _, _) in rows) and any(pk.startswith("product#") for (pk, _, _) in rows)
    # uniques: the HLL estimate within 3 RSE of the exact count (at this size, near exact)
    users = rows[("uniq#users", day, "users")]
    assert users.batch == len({e["user_id"] for e in events}) and users.within_tolerance and not users.exact
    assert rows[("uniq#sessions", day, "sessions")].batch == len({e["session_id"] for e in events if e["session_id"]})
    # outputs: Parquet + Glue table, drift items in the batch table, the run record
    assert glue_catalog(settings).partitions(settings.names.glue_database, "metric_reconciliation") == [
        {"dt": "2026-11-22"}
    ]
    table = LocalEngine(settings).execute(
        "SELECT count(*) AS n, max(abs(drift)) AS worst FROM metric_reconciliation WHERE exact"
    )
    assert table.to_pylist() == [{"n": sum(1 for r in report.drifts if r.exact), "worst": 0.0}]
    item = BatchView(settings).get(drift_pk("events"), day)
    assert item is not None and item["drift"] == 0 and item["within_tolerance"] is True and item["speed"] == len(events)
    run = latest_run(settings, "reconcile_speed_batch")
    assert run is not None and run["status"] == "success" and run["mismatches"] == 0 and run["max_abs_drift"] == 0

    # a rerun (the task retried, or triggered again) writes the same report, byte for byte
    s3 = _clients.client("s3", settings)
    key = "curated/metrics/reconciliation/dt=2026-11-22/data.parquet"
    body = s3.get_object(Bucket=settings.names.bucket, Key=key)["Body"].read()
    assert reconcile(settings, DAY, DAY).drifts == report.drifts
    assert s3.get_object(Bucket=settings.names.bucket, Key=key)["Body"].read() == body


def test_duplicates_the_speed_layer_missed_are_the_drift(settings: Settings, events: list[dict[str, Any]]) -> None:
    # GIVEN a cold-started speed processor (empty recent-ids window) receives 30 events again, at new
    # stream positions: a producer retry after a Lambda restart, which best-effort dedupe cannot see
    again = [e for e in events if e["event_type"] == "purchase"][:5] + [e for e in events if e["http_status"] >= 400][
        :5
    ]
    again += [e for e in events if e not in again][: 30 - len(again)]
    result = speed_processor(settings).process(SHARD, as_records(again, first=100_000, arrival=ARRIVAL))
    assert result.duplicates == 0 and result.kept == len(again)

    # WHEN reconciling
    report = reconcile(settings, DAY, DAY)

    # THEN each window drifts by exactly what the duplicates added, computed from them independently
    rows = by_key(report)
    per_hour = Counter(f"h#{e['timestamp'][:13]}:00:00Z" for e in again)
    for sk, n in per_hour.items():
        assert rows[("all", sk, "events")].drift == n and not rows[("all", sk, "events")].within_tolerance
    day = "d#2026-11-22T00:00:00Z"
    assert rows[("all", day, "events")].drift == len(again)
    assert rows[("all", day, "errors")].drift == sum(1 for e in again if e["http_status"] >= 400) > 0
    revenue = sum((revenue_of(e) or Decimal(0) for e in again), Decimal(0))
    assert Decimal(repr(rows[("all", day, "revenue")].drift)) == revenue > 0
    assert rows[("all", day, "timed_events")].drift == sum(1 for e in again if e["duration_ms"] is not None)
    duration = sum(e["duration_ms"] or 0 for e in again)
    assert rows[("all", day, "duration_ms")].drift == duration > 0
    by_type = Counter(e["event_type"] for e in again)
    for event_type, n in by_type.items():
        assert rows[(f"type#{event_type}", day, "events")].drift == n
    # orders are claimed once per order and window, and uniques are sets: neither drifts
    assert rows[("all", day, "orders")].drift == 0
    assert all(r.within_tolerance for r in report.drifts if not r.exact)
    # every mismatch is explained by the duplicates; the hours without one are clean
    assert {r.sk for r in report.mismatches} == set(per_hour) | {day}
    assert report.max_abs_drift == float(max(len(again), revenue, duration))
    item = BatchView(settings).get(drift_pk("events"), day)
    assert item is not None and item["drift"] == len(again) and item["within_tolerance"] is False
    run = latest_run(settings, "reconcile_speed_batch")
    assert run is not None and run["mismatches"] == len(report.mismatches) > 0
