"""Data for the API benchmark: a day of traffic through the real speed layer and raw archive (for
/v1/metrics and /v1/stats), and a synthetic curated `events` dataset of N rows on local disk (for
/v1/query's engine, `LocalEngine.over`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from clickstream.adapters.s3 import lake_bucket
from clickstream.api.lake import default_schema
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Settings
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import build_processor

TYPES = np.array(["page_view", "page_view", "page_view", "click", "scroll", "search", "add_to_cart", "purchase"])


def seed_realtime(settings: Settings, *, events: int, now: datetime, batch: int = 2_000) -> None:
    """`events` events spread over the last 24 h, through `SpeedProcessor` (one shard, in order),
    and the last batch archived as a raw object (what /v1/stats shows as recent events)."""
    processor = build_processor(settings)
    rng = np.random.default_rng(7)
    # within the 24 h lateness bound; on 10-minute marks so moto is not seeded with 1,440 minute windows
    offsets = np.sort(rng.integers(0, 143, events) * 600 + 60)[::-1]
    position = 1
    for start in range(0, events, batch):
        raws = []
        for i in range(start, min(start + batch, events)):
            at = now - timedelta(seconds=int(offsets[i]))
            raw = {
                "event_id": str(uuid.UUID(int=i + 1)),
                "event_type": str(TYPES[i % len(TYPES)]),
                "user_id": f"u{i % 500}",
                "session_id": f"s{i % 2000}",
                "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "url": f"/page/{i % 8}",
                "http_status": 404 if i % 50 == 0 else 200,
                "price": 9.99 if TYPES[i % len(TYPES)] == "purchase" else None,
                "order_id": f"o{i}" if TYPES[i % len(TYPES)] == "purchase" else None,
            }
            result = validate_event(raw, received_at=now)
            assert result.event is not None, result.errors
            raws.append(encode_event(result.event))
        records = [InRecord(position + k, int(now.timestamp() * 1000), data) for k, data in enumerate(raws)]
        position += len(records)
        processor.process("shardId-000000000000", records)
    key = f"raw/events/dt={now:%Y-%m-%d}/hour={now:%H}/kinesis-bench.ndjson.gz"
    lake_bucket(settings).put_ndjson_gz(key, raws)


def write_events_dataset(root: Path, rows: int, *, files: int = 10, day: str = "2026-11-20") -> Path:
    """`rows` curated events in hive layout root/dt=<day>/hour=HH/part-0.parquet, column-wise (numpy)."""
    schema = default_schema()
    per = rows // files
    rng = np.random.default_rng(11)
    for f in range(files):
        idx = np.arange(f * per, (f + 1) * per)
        hour = f % 24
        start = np.datetime64(f"{day}T{hour:02d}:00:00", "ms")
        kinds = TYPES[rng.integers(0, len(TYPES), per)]
        columns = {
            "event_id": pa.array(np.char.add("e-", idx.astype(str))),
            "event_type": pa.array(kinds),
            "user_id": pa.array(np.char.add("u", rng.integers(0, 100_000, per).astype(str))),
            "session_id": pa.array(np.char.add("s", rng.integers(0, 400_000, per).astype(str))),
            "event_time": pa.array(start + rng.integers(0, 3_600_000, per).astype("timedelta64[ms]")).cast(
                schema.field("event_time").type
            ),
            "url": pa.array(np.char.add("/page/", rng.integers(0, 500, per).astype(str))),
            "http_status": pa.array(np.where(rng.random(per) < 0.02, 500, 200).astype(np.int16)),
            "price": pa.array(np.where(kinds == "purchase", 19.99, np.nan), from_pandas=True),
        }
        arrays = [columns.get(fld.name, pa.nulls(per, fld.type)) for fld in schema]
        out = root / f"dt={day}" / f"hour={hour:02d}"
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_arrays(arrays, schema=schema), out / f"part-{f}.parquet", compression="zstd")
    return root


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
