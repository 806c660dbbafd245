"""KinesisWriter against the real moto server, KafkaWriter against the real librdkafka mock broker.

Per-record PutRecords failures are injected at the AWS-SDK boundary with botocore event hooks on
a real client: the "failed" records are removed from the request before it is sent (so the server
never stores them, as with a real throttled record) and reported back with an ErrorCode.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from support.stream_reading import kinesis_records as read_kinesis

from clickstream.adapters import _clients
from clickstream.adapters.streams import KafkaWriter, KinesisWriter, StreamRecord, stream_writer
from clickstream.errors import StreamUnavailableError
from clickstream.settings import Settings

THROTTLED = "ProvisionedThroughputExceededException"


def read_kafka(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list[Any]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None, consumer_timeout_ms=1000
    )
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            messages.extend(consumer)  # stops after 1 s without messages
    finally:
        consumer.close()
    return messages


def fresh_kinesis_client(settings: Settings) -> Any:
    # Not the shared cached client: the hooks below must not leak into anything else.
    return boto3.session.Session().client("kinesis", endpoint_url=settings.endpoint_url, region_name=settings.region)


class PutRecordsFaults:
    """Fault injection on a real boto3 client: records for which `fail(data, call_no)` is true are
    not sent and come back with ErrorCode=ProvisionedThroughputExceededException."""

    def __init__(self, client: Any, fail: Callable[[bytes, int], bool]) -> None:
        self.calls: list[int] = []  # records passed to each PutRecords call
        self._fail = fail
        self._flags: list[bool] = []
        events = client.meta.events
        events.register("before-parameter-build.kinesis.PutRecords", self._drop)
        events.register("before-call.kinesis.PutRecords", self._short_circuit)
        events.register("after-call.kinesis.PutRecords", self._report)

    def _drop(self, params: dict[str, Any], **kwargs: Any) -> None:
        records = params["Records"]
        self._flags = [self._fail(r["Data"], len(self.calls)) for r in records]
        self.calls.append(len(records))
        if not all(self._flags):
            params["Records"] = [r for r, failed in zip(records, self._flags, strict=True) if not failed]

    def _short_circuit(self, **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not all(self._flags):
            return None  # send the request (minus the dropped records)
        parsed = {"FailedRecordCount": len(self._flags), "Records": [self._error() for _ in self._flags]}
        return AWSResponse("http://fault-injection", 200, {}, None), parsed

    def _report(self, parsed: dict[str, Any], **kwargs: Any) -> None:
        if all(self._flags):
            return
        real = iter(parsed["Records"])
        parsed["Records"] = [self._error() if failed else next(real) for failed in self._flags]
        parsed["FailedRecordCount"] = sum(1 for r in parsed["Records"] if r.get("ErrorCode"))

    @staticmethod
    def _error() -> dict[str, str]:
        return {"ErrorCode": THROTTLED, "ErrorMessage": "Rate exceeded for shard shardId-000000000000"}


def records(n: int, prefix: str = "e") -> list[StreamRecord]:
    return [StreamRecord(key=f"user-{i % 37}", data=f'{{"id":"{prefix}{i}"}}'.encode()) for i in range(n)]


# --- Kinesis ---------------------------------------------------------------------------


def test_kinesis_records_land_on_every_shard_with_their_keys(settings: Settings) -> None:
    writer = stream_writer(settings)
    batch = records(100)

    writer.write(batch)

    landed = read_kinesis(settings)
    assert sorted((r["PartitionKey"], r["Data"]) for r in landed) == sorted((r.key, r.data) for r in batch)
    assert len({r["ShardId"] for r in landed}) == 2


def test_kinesis_more_than_500_records_are_chunked(settings: Settings) -> None:
    client = fresh_kinesis_client(settings)
    faults = PutRecordsFaults(client, fail=lambda data, call: False)  # counts calls only
    batch = records(1_201)

    KinesisWriter(settings.names.stream, client=client).write(batch)

    assert faults.calls == [500, 500, 201]
    assert sorted(r["Data"] for r in read_kinesis(settings)) == sorted(r.data for r in batch)


def test_kinesis_chunks_stay_under_5_mib(settings: Settings) -> None:
    client = fresh_kinesis_client(settings)
    faults = PutRecordsFaults(client, fail=lambda data, call: False)
    big = [StreamRecord(key=f"u{i}", data=bytes([65 + i]) * 600_000) for i in range(10)]  # 6 MB in total

    KinesisWriter(settings.names.stream, client=client).write(big)

    assert faults.calls == [8, 2]  # 8 * 600 KB <= 5 MiB < 9 * 600 KB
    assert len(read_kinesis(settings)) == 10


def test_kinesis_retries_only_the_failed_records(settings: Settings) -> None:
    client = fresh_kinesis_client(settings)
    # GIVEN the first PutRecords call throttles every third record
    faults = PutRecordsFaults(client, fail=lambda data, call: call == 0 and int(data[8:-2]) % 3 == 0)
    batch = records(30)

    KinesisWriter(settings.names.stream, client=client).write(batch)

    # THEN only the 10 throttled records were sent again, and each record is on the stream exactly once
    assert faults.calls == [30, 10]
    landed = sorted(r["Data"] for r in read_kinesis(settings))
    assert landed == sorted(r.data for r in batch)


def test_kinesis_persistent_failure_raises_and_acknowledges_nothing_more(settings: Settings) -> None:
    client = fresh_kinesis_client(settings)
    batch = records(17) + records(3, prefix="x")
    faults = PutRecordsFaults(client, fail=lambda data, call: data.startswith(b'{"id":"x'))
    writer = KinesisWriter(settings.names.stream, client=client, deadline_seconds=1.0)

    started = time.monotonic()
    with pytest.raises(StreamUnavailableError) as info:
        writer.write(batch)

    assert time.monotonic() - started < 3.0
    assert info.value.retry_after > 0
    assert "3 of 20 records not accepted" in str(info.value)
    assert THROTTLED in str(info.value)
    assert len(faults.calls) > 2 and faults.calls[1:] == [3] * (len(faults.calls) - 1)
    # the 17 good records were stored once; the 3 failing ones never
    assert sorted(r["Data"] for r in read_kinesis(settings)) == sorted(r.data for r in batch[:17])


def test_kinesis_missing_stream_is_unavailable(settings: Settings) -> None:
    writer = KinesisWriter("no-such-stream", client=_clients.client("kinesis", settings))

    with pytest.raises(StreamUnavailableError, match="ResourceNotFoundException"):
        writer.write(records(2))


# --- Kafka -----------------------------------------------------------------------------


def test_kafka_records_land_with_their_keys(settings: Settings) -> None:
    writer = stream_writer(replace(settings, transport="kafka"))
    batch = records(300)
    try:
        writer.write(batch)
        writer.write(records(5, prefix="second"))  # the producer is reused
    finally:
        writer.close()

    messages = read_kafka(settings.require_kafka(), settings.names.topic, expected=305)
    got = sorted((m.key, m.value) for m in messages)
    want = sorted((r.key.encode(), r.data) for r in batch + records(5, prefix="second"))
    assert got == want
    # one user's events stay on one partition
    partitions: dict[bytes, set[int]] = {}
    for m in messages:
        partitions.setdefault(m.key, set()).add(m.partition)
    assert all(len(p) == 1 for p in partitions.values())
    assert len({m.partition for m in messages}) > 1


def test_kafka_unreachable_broker_is_unavailable_within_the_message_timeout(settings: Settings) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    writer = KafkaWriter(f"127.0.0.1:{port}", settings.names.topic, message_timeout_ms=1_500)

    started = time.monotonic()
    with pytest.raises(StreamUnavailableError) as info:
        writer.write(records(3))
    elapsed = time.monotonic() - started

    assert 1.0 < elapsed < 5.0
    assert "3 of 3 records" in str(info.value)
    assert info.value.retry_after > 0
