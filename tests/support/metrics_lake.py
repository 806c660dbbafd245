"""Helpers of the batch-metrics and reconciliation integration tests: simulator events, the curated
`events` table written to the lake (S3 Parquet by event-time dt/hour + Glue partitions, the layout the
compaction job publishes), and the speed layer applying the same events to the realtime table."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb import CountersTable
from clickstream.adapters.glue import glue_catalog
from clickstream.adapters.s3 import BadRowsStore, LakeBucket
from clickstream.catalog import EVENTS
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Settings
from clickstream.simulate.generator import SimConfig, generate
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import SpeedProcessor

SHARD = "shardId-000000000000"


def sim_events(n: int, *, start: datetime, hours: int, seed: int = 1, **config: Any) -> list[dict[str, Any]]:
    """Validated simulator events (what the collector puts on the stream); every 4th user has no session_id."""
    received = start + timedelta(hours=hours, minutes=5)
    events = []
    sim = SimConfig(start=start, events=n, users=max(10, n // 10), seed=seed, span=timedelta(hours=hours), **config)
    for raw in generate(sim):
        event = validate_event(raw, received_at=received).event
        if event is None:
            continue
        if uuid.uuid5(uuid.NAMESPACE_OID, event["user_id"]).int % 4 == 0:
            event["session_id"] = None
        events.append(event)
    return events


def distinct(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """First occurrence per event_id: what the batch layer's dedupe keeps."""
    seen: dict[str, dict[str, Any]] = {}
    for e in events:
        seen.setdefault(e["event_id"], e)
    return list(seen.values())


def curated_rows(events: Sequence[dict[str, Any]]) -> pa.Table:
    """Events as the curated table's columns (EVENTS; `timestamp` → event_time), dt/hour excluded."""
    types = {"timestamp": pa.timestamp("ms", tz="UTC"), "smallint": pa.int16(), "int": pa.int32()}
    types |= {"bigint": pa.int64(), "double": pa.float64(), "tinyint": pa.int8(), "string": pa.string()}
    schema = pa.schema([(c.name, types[c.type]) for c in EVENTS.columns])
    rows = []
    for e in events:
        row = {c.name: e.get(c.name) for c in EVENTS.columns}
        row["event_time"] = _instant(e["timestamp"])
        row["received_at"] = _instant(e["received_at"])
        row["properties"] = None if e.get("properties") is None else str(e["properties"])
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema)


def write_curated(settings: Settings, events: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Publish `events` as curated Parquet partitions (replacing them) and register the Glue partitions."""
    s3 = _clients.client("s3", settings)
    by_hour: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in events:
        by_hour.setdefault((e["timestamp"][:10], e["timestamp"][11:13]), []).append(e)
    partitions = []
    for (dt, hour), group in sorted(by_hour.items()):
        sink = io.BytesIO()
        pq.write_table(curated_rows(group), sink)
        key = f"{EVENTS.partition_prefix({'dt': dt, 'hour': hour})}part-00000.parquet"
        s3.put_object(Bucket=settings.names.bucket, Key=key, Body=sink.getvalue())
        partitions.append({"dt": dt, "hour": hour})
    glue_catalog(settings).upsert_partitions(settings.names.glue_database, EVENTS, settings.names.bucket, partitions)
    return partitions


def register_curated(settings: Settings, partitions: Sequence[tuple[str, str]]) -> None:
    """Register `events` partitions (dt, hour) written at their Hive prefix: readers take the
    table's partitions from Glue (ADR 0008), as compaction registers them."""
    parts = [{"dt": dt, "hour": hour} for dt, hour in sorted(set(partitions))]
    glue_catalog(settings).upsert_partitions(settings.names.glue_database, EVENTS, settings.names.bucket, parts)


def speed_processor(settings: Settings) -> SpeedProcessor:
    """A speed processor on the realtime table; each one starts with an empty recent-ids window (a cold start)."""
    counters = CountersTable(
        settings.names.realtime_table, client=_clients.client("dynamodb", settings), base_delay=0.001
    )
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
    return SpeedProcessor(counters, BadRowsStore(bucket), limits=settings.limits)


def as_records(events: Sequence[dict[str, Any]], *, first: int, arrival: datetime) -> list[InRecord]:
    arrival_ms = int(arrival.timestamp() * 1000)
    return [InRecord(first + i, arrival_ms + i, encode_event(e)) for i, e in enumerate(events)]


def _instant(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
