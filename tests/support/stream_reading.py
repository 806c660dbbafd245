"""Read back what landed on the Kinesis stream (shared by the integration tests)."""

from __future__ import annotations

from typing import Any

from clickstream.adapters import _clients
from clickstream.events.codec import decode_event
from clickstream.settings import Settings


def kinesis_records(settings: Settings, stream: str | None = None) -> list[dict[str, Any]]:
    """Every record on every shard of the stream, from TRIM_HORIZON, each with its `ShardId`."""
    client = _clients.client("kinesis", settings)
    stream = stream or settings.names.stream
    out: list[dict[str, Any]] = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            if not page["Records"]:
                break
            out.extend({**r, "ShardId": shard["ShardId"]} for r in page["Records"])
            iterator = page.get("NextShardIterator")
    return out


def kinesis_events(settings: Settings, stream: str | None = None) -> list[dict[str, Any]]:
    """Every event on the stream, decoded."""
    return [decode_event(r["Data"]) for r in kinesis_records(settings, stream)]
