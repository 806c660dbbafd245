"""Real-shaped Lambda Kinesis events from simulator traffic, as the collector would put it on the stream."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.simulate.generator import SimConfig, generate

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # fixed: the same fixtures on every run
SHARDS = 4
SEQUENCE_BASE = 49656980227040428066208429483744412548911094318478049378  # 56 digits, like Kinesis


def normalised_events(n: int, *, seed: int = 1, start: datetime = START) -> list[dict[str, Any]]:
    """`n` simulator events (errors, late events and producer duplicates included), validated
    as the collector does; the few the collector would reject are dropped."""
    received = start + timedelta(hours=1)
    config = SimConfig(
        start=start, events=n, users=max(100, n // 20), seed=seed, error_rate=0.02, late_fraction=0.02,
        duplicate_fraction=0.01,
    )  # fmt: skip
    out = []
    for raw in generate(config):
        result = validate_event(raw, received_at=received)
        if result.event is not None:
            out.append(result.event)
    return out


def kinesis_events(events: list[dict[str, Any]], *, batch_size: int, start: datetime = START) -> list[dict[str, Any]]:
    """Lambda Kinesis events of up to `batch_size` records, one shard each (partition key = user_id,
    hashed over SHARDS shards as Kinesis does with MD5), arriving an hour after `start`."""
    arrival = (start + timedelta(hours=1)).timestamp()
    per_shard: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        shard = int.from_bytes(hashlib.md5(event["user_id"].encode()).digest()) % SHARDS
        per_shard.setdefault(shard, []).append(event)
    out = []
    for shard, shard_events in sorted(per_shard.items()):
        shard_id = f"shardId-{shard:012d}"
        for lo in range(0, len(shard_events), batch_size):
            records = []
            for i, event in enumerate(shard_events[lo : lo + batch_size], start=lo):
                seq = str(SEQUENCE_BASE + 2 * i)
                records.append(
                    {
                        "kinesis": {
                            "kinesisSchemaVersion": "1.0",
                            "partitionKey": event["user_id"],
                            "sequenceNumber": seq,
                            "data": base64.b64encode(encode_event(event)).decode(),
                            "approximateArrivalTimestamp": arrival + i / 1000,
                        },
                        "eventSource": "aws:kinesis",
                        "eventVersion": "1.0",
                        "eventID": f"{shard_id}:{seq}",
                        "eventName": "aws:kinesis:record",
                        "invokeIdentityArn": "arn:aws:iam::123456789012:role/clickstream-bench",
                        "awsRegion": "us-east-1",
                        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/clickstream-bench-events",
                    }
                )
            out.append({"Records": records})
    return out


def record_count(lambda_events: list[dict[str, Any]]) -> int:
    return sum(len(e["Records"]) for e in lambda_events)
