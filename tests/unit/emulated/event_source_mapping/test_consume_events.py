"""The Lambda payloads built from stream records: shape, encoding, sizes, the context object."""

from __future__ import annotations

import base64

import orjson
import pytest

from clickstream.emulated.event_source_mapping.events import (
    KafkaMessage,
    KinesisRecord,
    KinesisSource,
    kafka_event,
    kinesis_event,
)
from clickstream.lambda_context import lambda_context

ARN = "arn:aws:kinesis:eu-west-1:111122223333:stream/clicks"
SOURCE = KinesisSource.from_stream_arn(ARN, role="stream-processor-role")


def test_kinesis_event_has_every_field_of_the_real_payload() -> None:
    records = [
        KinesisRecord(49590338271490256608559692538361571095921575989136588801 + i, f"u{i}", b'{"a":1}', 1.5 + i)
        for i in range(2)
    ]

    event = kinesis_event("shardId-000000000001", records, SOURCE)

    assert len(event["Records"]) == 2
    first = event["Records"][0]
    assert first == {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "u0",
            "sequenceNumber": "49590338271490256608559692538361571095921575989136588801",
            "data": base64.b64encode(b'{"a":1}').decode(),
            "approximateArrivalTimestamp": 1.5,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": "shardId-000000000001:49590338271490256608559692538361571095921575989136588801",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::111122223333:role/stream-processor-role",
        "awsRegion": "eu-west-1",
        "eventSourceARN": ARN,
    }
    assert event["Records"][1]["kinesis"]["sequenceNumber"].endswith("802")


@pytest.mark.parametrize("data", [b"", b"x", b"xy", b"xyz", bytes(range(256)) * 40])
@pytest.mark.parametrize("key", ["u", "user-\u00e9\u4e2d" * 20, 'quote"back\\slash'])
def test_payload_bytes_is_an_upper_bound_of_the_serialised_record(data: bytes, key: str) -> None:
    record = KinesisRecord(10**55 + 7, key, data, 1_795_000_000.123)
    serialised = orjson.dumps(kinesis_event("shardId-000000000000", [record], SOURCE)["Records"][0])
    assert len(serialised) + 1 <= record.payload_bytes(SOURCE)  # +1: the comma between records


def test_kafka_event_groups_partitions_and_encodes_keys_values_and_headers() -> None:
    messages = [
        KafkaMessage("clicks", 0, 5, 1_795_000_000_123, "CREATE_TIME", b"u1", b'{"e":1}', (("h", b"\x01\x02"),)),
        KafkaMessage("clicks", 2, 9, 1_795_000_000_124, "LOG_APPEND_TIME", None, b'{"e":2}'),
        KafkaMessage("clicks", 0, 6, 1_795_000_000_125, "CREATE_TIME", b"u2", None),
    ]

    event = kafka_event(messages, bootstrap="127.0.0.1:9092")

    assert event["eventSource"] == "SelfManagedKafka"
    assert event["bootstrapServers"] == "127.0.0.1:9092"
    assert list(event["records"]) == ["clicks-0", "clicks-2"]
    first, third = event["records"]["clicks-0"]
    assert first == {
        "topic": "clicks",
        "partition": 0,
        "offset": 5,
        "timestamp": 1_795_000_000_123,
        "timestampType": "CREATE_TIME",
        "key": base64.b64encode(b"u1").decode(),
        "value": base64.b64encode(b'{"e":1}').decode(),
        "headers": [{"h": [1, 2]}],
    }
    assert "key" not in event["records"]["clicks-2"][0]
    assert "value" not in third and third["offset"] == 6


def test_lambda_context_counts_down_from_the_timeout() -> None:
    now = [100.0]
    ctx = lambda_context(
        "fn", region="us-east-1", account="123456789012", request_id="r-1", clock=lambda: now[0], timeout=3
    )

    assert ctx.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert ctx.get_remaining_time_in_millis() == 3000
    now[0] = 102.5
    assert ctx.get_remaining_time_in_millis() == 500
    now[0] = 200.0
    assert ctx.get_remaining_time_in_millis() == 0
    assert ctx.aws_request_id == "r-1" and ctx.function_version == "$LATEST"


def test_a_source_needs_a_real_arn() -> None:
    with pytest.raises(ValueError, match="not an ARN"):
        KinesisSource.from_stream_arn("clicks", role="r")
