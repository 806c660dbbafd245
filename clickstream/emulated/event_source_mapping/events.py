"""The payloads an event source mapping hands a Lambda function, built from stream records. Pure.

Shapes as AWS documents them ("Using Lambda with Kinesis Data Streams", "Using Lambda with
self-managed Apache Kafka"): record data, Kafka keys and values base64-encoded, Kinesis arrival
times in epoch seconds (float), Kafka timestamps in epoch milliseconds, Kafka records grouped
under "<topic>-<partition>". The handler cannot tell these from the real thing, which is the
point: the same handler runs behind an event source mapping in AWS and behind these consumers.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clickstream.lambda_context import DEFAULT_ACCOUNT

KINESIS_EVENT_SOURCE = "aws:kinesis"
KAFKA_EVENT_SOURCE = "SelfManagedKafka"
LAMBDA_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024  # Lambda: 6 MB request payload for a synchronous invocation
BATCH_SIZE_MAX = 10_000  # Lambda event source mappings: Kinesis and Kafka batch size 1..10,000
BATCHING_WINDOW_MAX_SECONDS = 300.0  # Lambda: MaximumBatchingWindowInSeconds 0..300
# What one Kinesis record adds to the event besides its data, partition key and sequence
# number (twice: eventID and sequenceNumber): keys, fixed values, shard id and the two ARNs.
_KINESIS_RECORD_OVERHEAD = 320


@dataclass(frozen=True, slots=True)
class KinesisRecord:
    """One record as GetRecords returned it."""

    sequence: int
    partition_key: str
    data: bytes
    arrival: float  # ApproximateArrivalTimestamp, epoch seconds

    def payload_bytes(self, source: KinesisSource) -> int:
        """An upper bound of the bytes this record adds to a Lambda event (base64 data included)."""
        encoded = 4 * ((len(self.data) + 2) // 3)
        return (
            encoded
            + len(self.partition_key.encode()) * 6  # JSON escapes at worst
            + 2 * len(str(self.sequence))
            + len(source.stream_arn)
            + len(source.invoke_identity_arn)
            + _KINESIS_RECORD_OVERHEAD
        )


@dataclass(frozen=True)
class KinesisSource:
    """Where a Kinesis event says it comes from."""

    stream_arn: str
    region: str
    invoke_identity_arn: str

    @classmethod
    def from_stream_arn(cls, stream_arn: str, *, role: str) -> KinesisSource:
        """`arn:aws:kinesis:<region>:<account>:stream/<name>`; the invoke identity is `role` in that account."""
        region, account = _region_account(stream_arn)
        return cls(stream_arn, region, f"arn:aws:iam::{account}:role/{role}")


def kinesis_event(shard_id: str, records: Sequence[KinesisRecord], source: KinesisSource) -> dict[str, Any]:
    """The Lambda event for one batch of one shard (records in sequence order)."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": str(r.sequence),
                    "data": base64.b64encode(r.data).decode("ascii"),
                    "approximateArrivalTimestamp": r.arrival,
                },
                "eventSource": KINESIS_EVENT_SOURCE,
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{r.sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": source.invoke_identity_arn,
                "awsRegion": source.region,
                "eventSourceARN": source.stream_arn,
            }
            for r in records
        ]
    }


@dataclass(frozen=True, slots=True)
class KafkaMessage:
    """One consumed Kafka message."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # epoch milliseconds
    timestamp_type: str  # "CREATE_TIME" or "LOG_APPEND_TIME"
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def partition_id(self) -> str:
        return partition_id(self.topic, self.partition)


def partition_id(topic: str, partition: int) -> str:
    """How a Kafka event names a partition: `<topic>-<partition>`."""
    return f"{topic}-{partition}"


def kafka_event(messages: Sequence[KafkaMessage], *, bootstrap: str) -> dict[str, Any]:
    """The self-managed Kafka Lambda event for one poll batch (any number of partitions)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        record: dict[str, Any] = {
            "topic": m.topic,
            "partition": m.partition,
            "offset": m.offset,
            "timestamp": m.timestamp,
            "timestampType": m.timestamp_type,
        }
        if m.key is not None:
            record["key"] = base64.b64encode(m.key).decode("ascii")
        if m.value is not None:
            record["value"] = base64.b64encode(m.value).decode("ascii")
        # Lambda sends each header value as a list of byte values.
        record["headers"] = [{name: list(value)} for name, value in m.headers]
        grouped.setdefault(m.partition_id, []).append(record)
    return {"eventSource": KAFKA_EVENT_SOURCE, "bootstrapServers": bootstrap, "records": grouped}


def account_of(arn: str) -> str:
    """The account of an ARN (`arn:partition:service:region:account:...`), or the local default."""
    return _region_account(arn)[1]


def _region_account(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[3], parts[4] or DEFAULT_ACCOUNT
