"""The batch metrics job on the real moto server: curated Parquet + Glue in, metric tables + Glue +
the batch view in DynamoDB out; a re-run changes nothing; a day whose events are gone is emptied."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from support.metrics_lake import distinct, sim_events, write_curated

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb import ENGAGEMENT_PK, BatchView, latest_run
from clickstream.adapters.glue import glue_catalog
from clickstream.adapters.query.local import LocalEngine
from clickstream.jobs import curated_versions as cv
from clickstream.jobs.batch_metrics import compute_batch_metrics, metric_names
from clickstream.metrics import definitions as d
from clickstream.metrics.aggregate import aggregate
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # the batch metrics over a lake of several days

DAY1, DAY2 = date(2026, 11, 22), date(2026, 11, 23)
START = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)  # 21:00 → 03:00: both days, sessions across midnight


@pytest.fixture
def events(settings: Settings) -> list[dict[str, Any]]:
    events = distinct(sim_events(600, start=START, hours=6, seed=11, error_rate=0.05))
    write_curated(settings, events)
    return events


T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def locations(settings: Settings, table: str) -> dict[tuple[str, ...], str]:
    """{(dt,): key prefix} of the table's registered partitions."""
    located = glue_catalog(settings).partition_locations(settings.names.glue_database, table)
    bucket = f"s3://{settings.names.bucket}/"
    return {values: location.removeprefix(bucket) for values, location in located.items()}


def metric_rows(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every metric table's rows as a reader sees them, in a stable order."""
    engine = LocalEngine(settings)
    out = {}
    for name in metric_names():
        table = engine.execute(f"SELECT * FROM metric_{name}")
        out[name] = sorted(table.to_pylist(), key=repr)
    return out


def batch_items(settings: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    client = _clients.client("dynamodb", settings)
    out = {}
    for page in client.get_paginator("scan").paginate(TableName=settings.names.batch_table):
        for raw in page["Items"]:
            item = {k: TypeDeserializer().deserialize(v) for k, v in raw.items()}
            out[(item["pk"], item["sk"])] = item
    return out


def lake_objects(settings: Settings) -> dict[str, bytes]:
    s3 = _clients.client("s3", settings)
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.names.bucket, Prefix="curated/metrics/"):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = s3.get_object(Bucket=settings.names.bucket, Key=obj["Key"])["Body"].read()
    return out


def test_metric_tables_glue_and_batch_view_are_written(settings: Settings, events: list[dict[str, Any]]) -> None:
    # WHEN the job runs for both days
    report = compute_batch_metrics(settings, DAY1, DAY2)

    # THEN every metric has a Glue table metric_<name> with both day partitions and Parquet under curated/metrics
    glue = glue_catalog(settings)
    database = settings.names.glue_database
    for name in metric_names():
        assert glue.table(database, f"metric_{name}") is not None, name
        assert glue.partitions(database, f"metric_{name}") == [{"dt": "2026-11-22"}, {"dt": "2026-11-23"}], name
    # AND each day partition is a version the engine wrote (UNLOAD), where Glue points
    keys = lake_objects(settings)
    located = locations(settings, "metric_engagement")
    assert set(located) == {("2026-11-22",), ("2026-11-23",)}
    for (dt,), prefix in located.items():
        assert re.fullmatch(rf"curated/metrics/engagement/v=[^/]+/dt={dt}/", prefix), prefix
        assert [k for k in keys if k.startswith(prefix) and k.endswith(".parquet")], prefix
    assert {m.name for m in report.metrics} == set(metric_names())
    assert all(m.rows > 0 for m in report.metrics), "rows counted from the written files' footers"

    # AND the metric tables read back through the local engine (Glue → S3 Parquet)
    engine = LocalEngine(settings)
    day = engine.execute("SELECT dt, sessions, bounces FROM metric_engagement ORDER BY dt").to_pylist()
    assert [r["dt"] for r in day] == ["2026-11-22", "2026-11-23"] and all(r["sessions"] > 0 for r in day)

    # AND the batch view holds the speed layer's own aggregation of the same events, hour and day windows
    items = batch_items(settings)
    expected = {k: dict(zip(d.COUNTER_FIELDS, v, strict=True)) for k, v in aggregate(events).items() if k[1][0] in "hd"}
    for key, counters in expected.items():
        got = items[key]
        for field in (d.EVENTS, d.ERRORS, d.REVENUE, d.DURATION_MS, d.TIMED_EVENTS):
            assert got.get(field, 0) == counters[field], (key, field)
    # orders on `all`, distinct order ids per day
    for day_sk, prefix in (("d#2026-11-22T00:00:00Z", "2026-11-22"), ("d#2026-11-23T00:00:00Z", "2026-11-23")):
        orders = {
            e["order_id"]
            for e in events
            if e["event_type"] == "purchase" and e["order_id"] and e["timestamp"].startswith(prefix)
        }
        assert items[("all", day_sk)].get("orders", 0) == len(orders)
    # every hour of the interval is closed, also the ones without events
    view = BatchView(settings)
    assert view.is_closed("h#2026-11-22T05:00:00Z") and view.get("all", "h#2026-11-22T05:00:00Z")["events"] == 0
    hours = view.query("all", "h#2026-11-22T00:00:00Z", "h#2026-11-22T23:00:00Z")
    assert len(hours) == 24 and sum(h["events"] for h in hours) == sum(
        1 for e in events if e["timestamp"].startswith("2026-11-22")
    )
    # uniques are exact
    users = {e["user_id"] for e in events if e["timestamp"].startswith("2026-11-23")}
    sessions = {e["session_id"] for e in events if e["timestamp"].startswith("2026-11-23") and e["session_id"]}
    assert view.get("uniq#users", "d#2026-11-23T00:00:00Z")["count"] == len(users)
    assert view.get("uniq#sessions", "d#2026-11-23T00:00:00Z")["count"] == len(sessions)
    # engagement: sessions by the day of their first event add up to the engagement metric table
    engaged = {i["sk"]: i for i in view.query(ENGAGEMENT_PK, "d#", "d#~")}
    assert [engaged[f"d#{r['dt']}T00:00:00Z"]["sessions"] for r in day] == [r["sessions"] for r in day]
    # and the run is recorded
    run = latest_run(settings, "batch_metrics")
    assert run is not None and run["status"] == "success" and run["interval"] == "2026-11-22/2026-11-23"


def test_a_rerun_publishes_the_same_rows_and_items_and_old_versions_go_once_due(
    settings: Settings, events: list[dict[str, Any]]
) -> None:
    compute_batch_metrics(settings, DAY1, DAY2, now=lambda: T0)
    first_versions = {name: locations(settings, f"metric_{name}") for name in metric_names()}
    rows, items = metric_rows(settings), batch_items(settings)

    compute_batch_metrics(settings, DAY1, DAY2, now=lambda: T0 + timedelta(minutes=5))

    # the same rows under new versions: readers moved to them, the old ones wait for their queries
    assert metric_rows(settings) == rows
    rerun = batch_items(settings)
    runs = {k for k in rerun if k[0].startswith("run#")}
    assert {k: v for k, v in rerun.items() if k not in runs} == {k: v for k, v in items.items() if k not in runs}
    for name, located in first_versions.items():
        now_at = locations(settings, f"metric_{name}")
        assert set(now_at) == set(located) and all(now_at[p] != located[p] for p in located), name
    keys = lake_objects(settings)
    assert all(
        any(k.startswith(prefix) for k in keys) for located in first_versions.values() for prefix in located.values()
    )

    # a run after the longest query timeout deletes the replaced versions, and only those
    compute_batch_metrics(settings, DAY1, DAY2, now=lambda: T0 + cv.RETIRE_AFTER + timedelta(minutes=10))
    keys = lake_objects(settings)
    for located in first_versions.values():
        assert not [k for k in keys for prefix in located.values() if k.startswith(prefix)]
    assert metric_rows(settings) == rows


def test_a_day_without_events_any_more_is_emptied(settings: Settings, events: list[dict[str, Any]]) -> None:
    compute_batch_metrics(settings, DAY1, DAY2)
    before = batch_items(settings)
    # GIVEN the second day's curated events are gone (e.g. a re-compaction quarantined them)
    s3 = _clients.client("s3", settings)
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.names.bucket, Prefix="curated/events/dt=2026-11-23/"
    ):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=settings.names.bucket, Key=obj["Key"])

    compute_batch_metrics(settings, DAY1, DAY2)

    for name in metric_names():  # the day is gone from every metric table for readers
        assert set(locations(settings, f"metric_{name}")) == {("2026-11-22",)}, name
    engine = LocalEngine(settings)
    assert engine.execute("SELECT count(*) AS n FROM metric_products WHERE dt = '2026-11-23'")["n"].to_pylist() == [0]
    assert BatchView(settings).get("all", "d#2026-11-23T00:00:00Z")["events"] == 0
    # the second day's dimension, uniques and engagement items are gone; its `all` items say "closed, 0"
    left = {k for k in batch_items(settings) if k[1][2:12] == "2026-11-23" and not k[0].startswith(("run#", "view#"))}
    assert {k[0] for k in left} == {"all"} and len(left) == 25
    assert len([k for k in before if k[1][2:12] == "2026-11-23" and k[0] != "all"]) > 50
    # the first day's items are untouched
    first = {k: v for k, v in before.items() if k[1][2:12] == "2026-11-22" and not k[0].startswith(("run#", "view#"))}
    assert {k: v for k, v in batch_items(settings).items() if k in first} == first


def test_a_failed_run_is_recorded_and_raised(settings: Settings) -> None:
    with pytest.raises(ValueError, match="before start"):
        compute_batch_metrics(settings, DAY2, DAY1)
    run = latest_run(settings, "batch_metrics")
    assert run is not None and run["status"] == "failed" and "before start" in run["error"]
