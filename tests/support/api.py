"""Shared by the API's integration tests: data written through the real layers, and a keyed client.

- `speed_write`: events through the real speed layer (`SpeedProcessor` on the realtime table);
- `archive_raw`: NDJSON.gz objects where the raw archiver writes them (arrival dt/hour);
- `write_curated`: Parquet under curated/events/dt=/hour= (event time), registered in Glue;
- `close_windows`: batch-view items, as the batch metrics job writes them.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from clickstream.adapters.dynamodb import BatchView
from clickstream.adapters.query import s3_filesystem
from clickstream.adapters.s3 import lake_bucket
from clickstream.api.app import create_app
from clickstream.api.deps import ApiDeps
from clickstream.api.lake import default_schema, events_table
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Settings
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import build_processor
from support.metrics_lake import register_curated

NOW = datetime(2026, 11, 22, 14, 30, 5, tzinfo=UTC)
READ = {"X-API-Key": "local-read-key"}
_positions = itertools.count(1_000)


def event(
    event_type: str = "page_view",
    at: datetime = NOW - timedelta(minutes=5),
    *,
    url: str = "/home",
    status: int = 200,
    user: str = "u1",
    session: str | None = "s1",
    **extra: Any,
) -> dict[str, Any]:
    """One validated, normalised event (what the collector puts on the stream)."""
    raw = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "user_id": user,
        "session_id": session,
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "url": url,
        "http_status": status,
        **extra,
    }
    result = validate_event(raw, received_at=at + timedelta(seconds=1))
    assert result.event is not None, result.errors
    return result.event


def speed_write(settings: Settings, events: Sequence[Mapping[str, Any]], *, arrival: datetime = NOW) -> None:
    processor = build_processor(settings)
    records = [InRecord(next(_positions), int(arrival.timestamp() * 1000), encode_event(dict(e))) for e in events]
    processor.process("shardId-000000000000", records)


def archive_raw(settings: Settings, events: Sequence[Mapping[str, Any]], *, arrival: datetime, name: str = "a") -> str:
    key = f"raw/events/dt={arrival:%Y-%m-%d}/hour={arrival:%H}/kinesis-{name}.ndjson.gz"
    lake_bucket(settings).put_ndjson_gz(key, [encode_event(dict(e)) for e in events])
    return key


def write_curated(settings: Settings, events: Iterable[Mapping[str, Any]]) -> None:
    fs = s3_filesystem(settings)
    by_hour: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_hour.setdefault(e["timestamp"][:13], []).append(dict(e))
    for hour, rows in by_hour.items():
        path = f"{settings.names.bucket}/curated/events/dt={hour[:10]}/hour={hour[11:13]}/part-0.parquet"
        pq.write_table(events_table(rows, default_schema()), path, filesystem=fs)
    register_curated(settings, [(hour[:10], hour[11:13]) for hour in by_hour])


def close_windows(settings: Settings, items: Sequence[Mapping[str, Any]]) -> None:
    BatchView(settings).put_items(items)


def client(settings: Settings, *, now: datetime = NOW) -> TestClient:
    return TestClient(create_app(settings, deps=ApiDeps(settings, clock=lambda: now)))
