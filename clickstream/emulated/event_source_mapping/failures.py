"""The dead-letter message of a batch that exhausted its retries. Pure.

Shaped like the invocation record Lambda sends to an event source mapping's on-failure
destination (`requestContext`, `responseContext`, `KinesisBatchInfo` with the shard and the
first and last sequence numbers), so tooling written for AWS reads ours. Lambda's record does
not say why the batch failed; ours adds a top-level `reason` (the last error or partial-failure
summary). The records themselves stay on the stream: the message says where to find them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from clickstream.emulated.event_source_mapping.events import KafkaMessage, KinesisRecord

CONDITION_RETRIES_EXHAUSTED = "RetryAttemptsExhausted"


def kinesis_failure(
    *,
    shard_id: str,
    records: Sequence[KinesisRecord],
    stream_arn: str,
    function_arn: str,
    attempts: int,
    reason: str,
    request_id: str,
    now: datetime,
) -> dict[str, Any]:
    """The on-failure record of one Kinesis batch (records in sequence order)."""
    first, last = records[0], records[-1]
    return _envelope(function_arn, attempts, reason, request_id, now) | {
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": str(first.sequence),
            "endSequenceNumber": str(last.sequence),
            "approximateArrivalOfFirstRecord": _iso(datetime.fromtimestamp(first.arrival, UTC)),
            "approximateArrivalOfLastRecord": _iso(datetime.fromtimestamp(last.arrival, UTC)),
            "batchSize": len(records),
            "streamArn": stream_arn,
        }
    }


def kafka_failure(
    *,
    messages: Sequence[KafkaMessage],
    bootstrap: str,
    function_arn: str,
    attempts: int,
    reason: str,
    request_id: str,
    now: datetime,
) -> dict[str, Any]:
    """The on-failure record of one Kafka batch: first and last offset of each partition in it."""
    info: dict[str, dict[str, str]] = {}
    for m in messages:
        part = info.get(m.partition_id)
        stamp = _iso(datetime.fromtimestamp(m.timestamp / 1000, UTC))
        if part is None:
            info[m.partition_id] = {
                "firstRecordOffset": str(m.offset),
                "firstRecordTimestamp": stamp,
                "lastRecordOffset": str(m.offset),
                "lastRecordTimestamp": stamp,
            }
        else:
            part["lastRecordOffset"], part["lastRecordTimestamp"] = str(m.offset), stamp
    return _envelope(function_arn, attempts, reason, request_id, now) | {
        "KafkaBatchInfo": {"batchSize": len(messages), "bootstrapServers": bootstrap, "recordsInfo": info}
    }


def _envelope(function_arn: str, attempts: int, reason: str, request_id: str, now: datetime) -> dict[str, Any]:
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": CONDITION_RETRIES_EXHAUSTED,
            "approximateInvokeCount": attempts,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": _iso(now),
        "reason": reason,
    }


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
