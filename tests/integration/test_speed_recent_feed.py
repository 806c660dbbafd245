"""The live feed's items on the embedded DynamoDB: written by the real speed layer, read as the API does."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import orjson

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb import RecentFeed
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Settings
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import build_processor

KINESIS_SEQ = 49656980227040428066208429483744412548911094318478049384  # 56 digits: more than a DynamoDB number holds


def events(n: int, at: datetime) -> list[bytes]:
    out = []
    for i in range(n):
        raw = {"event_id": str(uuid.uuid4()), "event_type": "click", "user_id": f"u{i}", "session_id": "s",
               "timestamp": (at + timedelta(milliseconds=i)).isoformat(), "url": "/p", "http_status": 200}  # fmt: skip
        result = validate_event(raw, received_at=at + timedelta(seconds=1))
        assert result.event is not None
        out.append(encode_event(result.event))
    return out


def records(first: int, datas: list[bytes], at: datetime) -> list[InRecord]:
    return [InRecord(p, int(at.timestamp() * 1000), d) for p, d in zip(itertools.count(first), datas, strict=False)]


def test_feed_survives_restarts_keeps_newer_batches_and_merges_shards(settings: Settings) -> None:
    now = datetime.now(UTC)
    feed = RecentFeed(settings.names.realtime_table, client=_clients.client("dynamodb", settings))
    first = events(3, now)
    build_processor(settings).process("shardId-000000000000", records(KINESIS_SEQ, first, now))
    stored = feed.load("shardId-000000000000")
    assert len(stored) == 3 and all(e["applied_at"].endswith("Z") for e in stored)

    # a new process continues the stored list; a replay of the older batch does not roll it back
    second = events(2, now + timedelta(seconds=2))
    build_processor(settings).process("shardId-000000000000", records(KINESIS_SEQ + 3, second, now))
    assert len(feed.load("shardId-000000000000")) == 5
    assert not feed.store("shardId-000000000000", last=KINESIS_SEQ, events=[])
    assert len(feed.load("shardId-000000000000")) == 5

    # another shard: the API's read (freshness item → BatchGetItem) merges both, newest applied first
    other = events(1, now)
    build_processor(settings).process("shardId-000000000001", records(7, other, now))
    newest = feed.newest(10)
    assert len(newest) == 6
    assert newest[0]["event_id"] == orjson.loads(other[0])["event_id"]
    assert len(feed.newest(2)) == 2
