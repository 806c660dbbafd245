"""Stream-processor Lambda: Kinesis or MSK/self-managed Kafka event → realtime counters in DynamoDB.

Event source mapping settings this handler assumes: `FunctionResponseTypes:
[ReportBatchItemFailures]`, ParallelizationFactor 1 (one batch per shard at a time, in order:
the per-shard watermarks need it), BisectBatchOnFunctionError optional (re-cut batches are safe).

Why not Powertools' `BatchProcessor`: it runs a handler per record and reports the records that
raised. Our unit of work is the whole batch (one UpdateItem per key per batch, not per record),
poison records never fail (they go to bad rows), and the only failure, DynamoDB or S3 throttled
past the retries, is batch-wide. So the response is built directly: a failed shard is reported
from its first record, and Lambda redelivers the whole batch. That is safe because each counter
item applies a shard's records at most once (its `wm#<shard>` watermark) and skips, item by
item, what an earlier attempt already wrote; see `clickstream.adapters.counters`.

Response: `{"batchItemFailures": [{"itemIdentifier": <sequence number, or Kafka offset as str>}]}`.
"""

from __future__ import annotations

from typing import Any

from clickstream.speed.processor import SpeedProcessor


def deps() -> SpeedProcessor:
    """Built on the first invocation and reused while the execution environment lives."""
    from clickstream.speed.processor import deps as processor_deps

    return processor_deps()


def handler(event: dict[str, Any], context: object) -> dict[str, list[dict[str, str]]]:
    return deps().handle_event(event)
