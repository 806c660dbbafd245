"""The rehearsal's traffic, and the checks `make demo` makes, run through the Lambda bundles.

The collector gets API Gateway HTTP API (payload v2) events, the stream processor gets the
Kinesis events its event source mapping would send (the template's batch size, failed items
retried from the first failure), and the query API gets API Gateway events. Everything they do
lands in the embedded stack under the stage's names, and is read back from there."""

from __future__ import annotations

import base64
import gzip
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from rehearsal.assembly import KinesisMapping
from rehearsal.lambdas import Invoker

from clickstream.emulated.event_source_mapping.events import KinesisRecord, KinesisSource, kinesis_event
from clickstream.simulate.generator import SimConfig, generate

REQUEST_EVENTS = 20  # events per collector request: the capacity model's request size
RAW_PREFIX = "raw/events/"


def http_api_event(
    method: str, path: str, *, headers: Mapping[str, str], body: bytes = b"", query: str = ""
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2 event, as AWS documents it."""
    now = datetime.now(UTC)
    host = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": host, "user-agent": "clickstream-rehearsal", "x-forwarded-proto": "https", **headers},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": host,
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "clickstream-rehearsal",
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def traffic(events: int, *, seed: int, now: datetime) -> list[dict[str, Any]]:
    """`events` simulated shop events of the last hour, without duplicates or late ones."""
    config = SimConfig(
        start=now - timedelta(hours=1), events=events, users=max(10, events // 20), seed=seed, diurnal=False
    )
    return [dict(e) for e in generate(config)]


def send(collector: Invoker, events: list[dict[str, Any]], write_key: str) -> tuple[set[str], dict[int, int]]:
    """POST the events to /v1/events in requests of REQUEST_EVENTS: (acknowledged ids, answers by status)."""
    acknowledged: set[str] = set()
    statuses: dict[int, int] = {}
    for lo in range(0, len(events), REQUEST_EVENTS):
        batch = events[lo : lo + REQUEST_EVENTS]
        body = json.dumps({"events": batch}).encode()
        headers = {"content-type": "application/json", "x-write-key": write_key}
        answer = collector.invoke(http_api_event("POST", "/v1/events", headers=headers, body=body))
        status = int(answer["statusCode"])
        statuses[status] = statuses.get(status, 0) + 1
        if 200 <= status < 300:
            acknowledged |= set(json.loads(answer["body"])["event_ids"])
    return acknowledged, statuses


def read_stream(kinesis: Any, stream: str) -> dict[str, list[KinesisRecord]]:
    """Every record of every shard from TRIM_HORIZON, as GetRecords returns them."""
    shards: dict[str, list[KinesisRecord]] = {}
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        shard_id = shard["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        records: list[KinesisRecord] = []
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            records += [
                KinesisRecord(
                    sequence=int(r["SequenceNumber"]),
                    partition_key=r["PartitionKey"],
                    data=r["Data"],
                    arrival=r["ApproximateArrivalTimestamp"].timestamp(),
                )
                for r in page["Records"]
            ]
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
        shards[shard_id] = records
    return shards


def process(
    processor: Invoker,
    shards: Mapping[str, list[KinesisRecord]],
    mapping: KinesisMapping,
    stream_arn: str,
    retries: int,
) -> dict[str, int]:
    """Each shard's records in batches of the mapping's size, in order, as the event source
    mapping delivers them: a batch that reports failures is retried from the first failed record
    (ReportBatchItemFailures), at most `retries` times. Returns batches and retries."""
    source = KinesisSource.from_stream_arn(stream_arn, role="clickstream-rehearsal")
    batches = retried = 0
    for shard_id, records in shards.items():
        position = 0
        attempts = 0
        while position < len(records):
            batch = records[position : position + mapping.batch_size]
            answer = processor.invoke(kinesis_event(shard_id, batch, source))
            batches += 1
            failures = answer.get("batchItemFailures") or []
            if not failures:
                position += len(batch)
                attempts = 0
                continue
            if not mapping.report_failures or attempts >= retries:
                raise RuntimeError(
                    f"{shard_id}: the batch at record {position} still fails after {attempts} retries: {failures}"
                )
            first = min(int(f["itemIdentifier"]) for f in failures)
            position += next(i for i, r in enumerate(batch) if r.sequence == first)
            attempts += 1
            retried += 1
    return {"batches": batches, "retried": retried}


def raw_lines(s3: Any, bucket: str) -> Iterator[bytes]:
    """Every line of every raw archive object (NDJSON.gz under raw/events/)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=RAW_PREFIX):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            yield from (line for line in gzip.decompress(body).splitlines() if line.strip())


def wait_for_archive(s3: Any, bucket: str, expected: set[str], timeout: float) -> tuple[list[bytes], set[str]]:
    """The archive's lines once every expected id is there, or at `timeout`: (lines, ids missing)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = list(raw_lines(s3, bucket))
        missing = expected - {json.loads(line)["event_id"] for line in lines}
        if not missing or time.monotonic() > deadline:
            return lines, missing
        time.sleep(1.0)
