"""Stream-processor Lambda: Kinesis or MSK/self-managed Kafka event → realtime counters in DynamoDB.

Event source mapping settings this handler assumes: `FunctionResponseTypes:
[ReportBatchItemFailures]`, ParallelizationFactor 1 (one batch per shard at a time, in order:
the per-shard watermarks need it), BisectBatchOnFunctionError optional (re-cut batches are safe).

Why not Powertools' `BatchProcessor`: it runs a handler per record and reports the records that
raised. Our unit of work is the whole batch (one UpdateItem per key per batch, not per record),
poison records never fail (they go to bad rows), and the only failure, DynamoDB or S3 throttled
past the retries, is batch-wide. So the response is built directly: a failed shard is reported
from its first record, and Lambda redelivers the whole batch. That is safe because each window
item of the shard applies its records at most once (its `wm` watermark) and skips, item by
item, what an earlier attempt already wrote; see `clickstream.adapters.dynamodb.counters`. Powertools'
Logger, Metrics and Tracer still wrap the handler (`lambdas.observability`).

Response: `{"batchItemFailures": [{"itemIdentifier": <sequence number, or Kafka offset as str>}]}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clickstream import constants as c
from clickstream.speed.processor import BatchResult, SpeedProcessor
from lambdas.observability import instrumented, telemetry


def deps() -> SpeedProcessor:
    """Built on the first invocation and reused while the execution environment lives."""
    from clickstream.speed.processor import deps as processor_deps

    return processor_deps()


@instrumented(c.SERVICE_STREAM_PROCESSOR)
def handler(event: dict[str, Any], context: object) -> dict[str, list[dict[str, str]]]:
    t = telemetry(c.SERVICE_STREAM_PROCESSOR)
    batches, records = delivered(event)
    t.count(c.METRIC_BATCHES, batches)  # before processing: a failed invocation still shows what came
    t.count(c.METRIC_RECORDS, records)
    applied: list[BatchResult] = []
    response = deps().handle_event(event, on_batch=applied.append)
    failed = len(response["batchItemFailures"])
    bad, duplicates = sum(r.bad for r in applied), sum(r.duplicates for r in applied)
    t.count(c.METRIC_FAILED_BATCHES, failed)
    t.count(c.METRIC_BAD_ROWS, bad)
    t.count(c.METRIC_DUPLICATES, duplicates)
    t.logger.info(
        "batches applied", batches=batches, records=records, failed_batches=failed, bad_rows=bad, duplicates=duplicates
    )
    return response


def delivered(event: Mapping[str, Any]) -> tuple[int, int]:
    """(batches, records) of a Kinesis or Kafka event, grouped as `shard_batches` groups them, undecoded."""
    partitions = event.get("records")
    if isinstance(partitions, Mapping):  # Kafka: {"<topic>-<partition>": [record, ...]}
        sizes = [len(r) for r in partitions.values() if r]
        return len(sizes), sum(sizes)
    kinesis = event.get("Records") or []
    return len({str(r.get("eventID", "")).rpartition(":")[0] for r in kinesis}), len(kinesis)
