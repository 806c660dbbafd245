"""The collector Lambda handler, called with a real-shaped API Gateway HTTP API v2 event, against moto."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.stream_reading import kinesis_events as read_kinesis

from clickstream import constants as c
from clickstream.adapters import _clients
from clickstream.adapters.s3 import LakeBucket
from clickstream.events.codec import decode_event
from clickstream.settings import Settings
from lambdas.collector import handler as collector_lambda

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


@pytest.fixture(autouse=True)
def _fresh_deps() -> Iterator[None]:
    # deps() is cached per execution environment; every test is a new one (new server state, new env).
    collector_lambda.deps.cache_clear()
    yield
    if collector_lambda.deps.cache_info().currsize:
        collector_lambda.deps().writer.close()  # a Kafka producer: deliver and release it
    collector_lambda.deps.cache_clear()


@pytest.fixture
def apigw_event() -> dict[str, Any]:
    return json.loads((EVENTS_DIR / "apigw_http_v2_events.json").read_text())


def bad_row_keys(settings: Settings) -> list[str]:
    return list(LakeBucket(settings.names.bucket, client=_clients.client("s3", settings)).list_keys(c.RAW_BAD_PREFIX))


def with_body(event: dict[str, Any], body: object, *, path: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["body"] = json.dumps(body)
    if path:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


def test_sample_event_lands_on_the_stream(settings: Settings, apigw_event: dict[str, Any]) -> None:
    sent = json.loads(apigw_event["body"])["events"]

    response = collector_lambda.handler(apigw_event, None)

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    body = json.loads(response["body"])
    assert body["status"] == "accepted"
    assert body["event_ids"] == [e["event_id"] for e in sent]
    landed = {e["event_id"]: e for e in read_kinesis(settings)}
    assert set(landed) == set(body["event_ids"])
    first = landed[sent[0]["event_id"]]
    assert first["ip_address"] == "203.0.113.0"
    assert first["browser"] == "Safari"
    assert bad_row_keys(settings) == []


def test_base64_gzip_body(settings: Settings, apigw_event: dict[str, Any]) -> None:
    # API Gateway base64-encodes bodies it does not treat as text (e.g. gzip).
    apigw_event["body"] = base64.b64encode(gzip.compress(apigw_event["body"].encode())).decode()
    apigw_event["isBase64Encoded"] = True
    apigw_event["headers"]["content-encoding"] = "gzip"

    response = collector_lambda.handler(apigw_event, None)

    assert response["statusCode"] == 200, response["body"]
    assert len(read_kinesis(settings)) == 2


def test_named_stage_and_track_route(settings: Settings, apigw_event: dict[str, Any]) -> None:
    event = with_body(apigw_event, {"event_type": "click", "user_id": "u1", "url": "/"}, path="/prod/v1/track")
    event["requestContext"]["stage"] = "prod"

    response = collector_lambda.handler(event, None)

    assert response["statusCode"] == 200, response["body"]
    [landed] = read_kinesis(settings)
    assert landed["timestamp"] == landed["received_at"]


def test_invalid_records_go_to_bad_rows(settings: Settings, apigw_event: dict[str, Any]) -> None:
    bad = {"event_type": "page_view", "timestamp": "2025-01-15T10:30:00Z"}
    event = with_body(apigw_event, [bad])

    response = collector_lambda.handler(event, None)

    assert response["statusCode"] == 400
    assert json.loads(response["body"])["status"] == "rejected"
    [key] = bad_row_keys(settings)
    [row] = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings)).get_ndjson_gz(key)
    assert orjson.loads(row)["payload"] == bad
    assert read_kinesis(settings) == []


def test_missing_write_key_is_401_and_nothing_written(settings: Settings, apigw_event: dict[str, Any]) -> None:
    del apigw_event["headers"]["x-write-key"]

    response = collector_lambda.handler(apigw_event, None)

    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "unauthorized"
    assert read_kinesis(settings) == [] and bad_row_keys(settings) == []


def test_healthz(settings: Settings, apigw_event: dict[str, Any]) -> None:
    apigw_event.update(rawPath="/healthz", body=None)
    apigw_event["requestContext"]["http"].update(method="GET", path="/healthz")

    response = collector_lambda.handler(apigw_event, None)

    assert (response["statusCode"], json.loads(response["body"])) == (200, {"status": "ok"})


def test_missing_stream_is_503(
    settings: Settings, apigw_event: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(c.ENV_STREAM, "no-such-stream")

    response = collector_lambda.handler(apigw_event, None)

    assert response["statusCode"] == 503
    assert int(response["headers"]["retry-after"]) >= 1
    assert read_kinesis(settings) == [] and bad_row_keys(settings) == []


def test_kafka_transport(settings: Settings, apigw_event: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from kafka import KafkaConsumer

    monkeypatch.setenv(c.ENV_TRANSPORT, "kafka")

    response = collector_lambda.handler(apigw_event, None)

    assert response["statusCode"] == 200, response["body"]
    consumer = KafkaConsumer(
        settings.names.topic,
        bootstrap_servers=settings.require_kafka(),
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=1000,
    )
    got: list[Any] = []
    deadline = time.monotonic() + 20
    while len(got) < 2 and time.monotonic() < deadline:
        got.extend(consumer)
    consumer.close()
    assert sorted(decode_event(m.value)["event_id"] for m in got) == sorted(json.loads(response["body"])["event_ids"])
