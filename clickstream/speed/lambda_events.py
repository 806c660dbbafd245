"""Lambda event-source payloads → per-shard record batches, and the partial-batch response. Pure.

Two shapes, as the AWS event source mappings deliver them (samples in tests/events/):

- Kinesis: `Records[].kinesis.{data (base64), sequenceNumber, partitionKey,
  approximateArrivalTimestamp (epoch seconds)}`, `eventID` = "<shardId>:<sequenceNumber>".
  A real invocation holds one shard; records of several are grouped anyway.
- MSK / self-managed Kafka (`eventSource` "aws:kafka" or "SelfManagedKafka"):
  `records: {"<topic>-<partition>": [{topic, partition, offset, timestamp (epoch ms), key, value (base64)}]}`.

The shard of a Kinesis batch is its shard id; of a Kafka batch, "<topic>-<partition>". Item
identifiers (what `batchItemFailures` reports) are the sequence number, or the offset as text.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clickstream.speed.batch import InRecord

KAFKA_SOURCES = frozenset({"aws:kafka", "SelfManagedKafka"})


@dataclass
class ShardRecords:
    shard: str
    source: str  # "kinesis" or "kafka"
    records: list[InRecord] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)  # aligned with records


def shard_batches(event: Mapping[str, Any], *, now_ms: int) -> list[ShardRecords]:
    """The records of a Lambda Kinesis or Kafka event, per shard, in stream order.

    `now_ms` stands in for a missing arrival time (a hand-written event; a Kafka record without
    a timestamp).
    """
    if event.get("eventSource") in KAFKA_SOURCES or isinstance(event.get("records"), Mapping):
        return _kafka(event["records"], now_ms)
    return _kinesis(event.get("Records") or [], now_ms)


def _kinesis(records: Iterable[Mapping[str, Any]], now_ms: int) -> list[ShardRecords]:
    shards: dict[str, ShardRecords] = {}
    for record in records:
        kinesis = record["kinesis"]
        sequence = str(kinesis["sequenceNumber"])
        shard = str(record.get("eventID", "")).rpartition(":")[0] or "shardId-unknown"
        group = shards.get(shard)
        if group is None:
            group = shards[shard] = ShardRecords(shard, "kinesis")
        arrival = kinesis.get("approximateArrivalTimestamp")
        arrival_ms = round(float(arrival) * 1000) if arrival else now_ms
        group.records.append(InRecord(int(sequence), arrival_ms, _b64(kinesis.get("data") or "")))
        group.item_ids.append(sequence)
    return list(shards.values())


def _kafka(partitions: Mapping[str, Iterable[Mapping[str, Any]]], now_ms: int) -> list[ShardRecords]:
    out = []
    for name, records in partitions.items():
        group = ShardRecords(name, "kafka")
        for record in sorted(records, key=lambda r: int(r["offset"])):
            offset = int(record["offset"])
            timestamp = record.get("timestamp")
            arrival_ms = int(timestamp) if timestamp and int(timestamp) > 0 else now_ms
            group.records.append(InRecord(offset, arrival_ms, _b64(record.get("value") or "")))
            group.item_ids.append(str(offset))
        if group.records:
            out.append(group)
    return out


def _b64(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text)
    except (binascii.Error, ValueError):
        # Not base64 (a hand-made event): keep the text, so the record reaches bad rows as it came.
        return text.encode("utf-8", "backslashreplace")


def partial_response(failed_item_ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """The ReportBatchItemFailures response: Lambda retries each shard from the item given."""
    return {"batchItemFailures": [{"itemIdentifier": item} for item in failed_item_ids]}
