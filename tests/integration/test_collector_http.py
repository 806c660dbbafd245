"""The collector over real HTTP: uvicorn on a random port → moto Kinesis/S3 or the mock Kafka broker."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx
import pytest
import uvicorn
from support.stream_reading import kinesis_events as read_kinesis

from clickstream.adapters import _clients
from clickstream.adapters.s3 import BadRowsStore, LakeBucket
from clickstream.adapters.streams import KafkaWriter
from clickstream.collector.app import create_app
from clickstream.collector.deps import build_service
from clickstream.collector.service import CollectorService
from clickstream.constants import LOCAL_WRITE_KEY, RAW_BAD_PREFIX
from clickstream.events.codec import decode_event
from clickstream.settings import Settings

AUTH = {"X-Write-Key": LOCAL_WRITE_KEY}
JSON = {**AUTH, "Content-Type": "application/json"}


# --- helpers ---------------------------------------------------------------------------


def bad_rows(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
    return {key: [decode_event(line) for line in bucket.get_ndjson_gz(key)] for key in bucket.list_keys(RAW_BAD_PREFIX)}


def event(i: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=i + 1)),
        "event_type": "page_view",
        "user_id": f"user-{i % 7}",
        "timestamp": "2025-01-15T10:30:00Z",
        "url": f"/p/{i}",
        **extra,
    }


class RunningCollector:
    """uvicorn serving `create_app(factory)` in a background thread, on a random free port."""

    def __init__(self, factory: Callable[[], CollectorService]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(factory), log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.http = httpx.Client(base_url=self.url, timeout=30, trust_env=False)

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@pytest.fixture
def start() -> Iterator[Callable[[Callable[[], CollectorService]], RunningCollector]]:
    running: list[RunningCollector] = []

    def _start(factory: Callable[[], CollectorService]) -> RunningCollector:
        running.append(RunningCollector(factory))
        return running[-1]

    yield _start
    for collector in running:
        collector.stop()


@pytest.fixture
def collector(settings: Settings, start: Any) -> RunningCollector:
    return start(lambda: build_service(settings))


# --- happy paths -------------------------------------------------------------------------


def test_valid_batch_lands_on_the_stream(collector: RunningCollector, settings: Settings) -> None:
    batch = [event(i) for i in range(40)]

    response = collector.http.post("/v1/events", json={"events": batch}, headers=AUTH)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["accepted"], body["rejected"], body["errors"]) == ("accepted", 40, 0, [])
    assert body["event_ids"] == [e["event_id"] for e in batch]
    landed = read_kinesis(settings)
    assert sorted(e["event_id"] for e in landed) == sorted(body["event_ids"])
    assert {e["received_at"] for e in landed} and all(e["received_at"].endswith("Z") for e in landed)
    assert bad_rows(settings) == {}


def test_mixed_batch_streams_the_valid_and_stores_the_invalid(collector: RunningCollector, settings: Settings) -> None:
    invalid_a = {"event_type": "page_view", "timestamp": "2025-01-15T10:30:00Z"}  # no user_id
    invalid_b = {"event_type": "levitate", "user_id": "u9", "timestamp": "not a time"}
    batch = [event(0), invalid_a, event(2), invalid_b]

    response = collector.http.post("/v1/events", json=batch, headers=AUTH)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["accepted"], body["processed"], body["rejected"]) == ("partial", 2, 2, 2)
    assert {(e["index"], e["field"], e["reason"]) for e in body["errors"]} == {
        (1, "user_id", "missing"),
        (3, "event_type", "unknown_event_type"),
        (3, "timestamp", "invalid_value"),
    }
    assert sorted(e["event_id"] for e in read_kinesis(settings)) == sorted([event(0)["event_id"], event(2)["event_id"]])
    [(key, rows)] = bad_rows(settings).items()
    assert key.startswith(f"{RAW_BAD_PREFIX}/dt=") and "/hour=" in key and key.endswith(".ndjson.gz")
    assert [r["payload"] for r in rows] == [invalid_a, invalid_b]
    assert [r["reason"] for r in rows] == ["missing", "unknown_event_type"]


def test_gzip_body(collector: RunningCollector, settings: Settings) -> None:
    import orjson

    body = gzip.compress(orjson.dumps([event(i) for i in range(5)]))

    response = collector.http.post("/v1/events", content=body, headers={**JSON, "Content-Encoding": "gzip"})

    assert response.status_code == 200 and response.json()["accepted"] == 5
    assert len(read_kinesis(settings)) == 5


def test_beacon_text_plain_and_bearer_and_basic_auth(collector: RunningCollector, settings: Settings) -> None:
    import orjson

    beacon = collector.http.post(
        "/v1/track",
        content=orjson.dumps(event(1)),
        headers={"Content-Type": "text/plain;charset=UTF-8", "Authorization": f"Bearer {LOCAL_WRITE_KEY}"},
    )
    segment = httpx.post(
        f"{collector.url}/v1/events", json={"batch": [event(2)]}, auth=(LOCAL_WRITE_KEY, ""), trust_env=False
    )

    assert beacon.status_code == 200 and segment.status_code == 200
    assert len(read_kinesis(settings)) == 2


def test_legacy_events_route(collector: RunningCollector, settings: Settings) -> None:
    legacy = {
        "records": [
            {
                "event_type": "page_view",
                "user_id": "user_123",
                "session_id": "session_abc",
                "timestamp": "2025-01-15T10:30:00Z",
                "properties": {"page": "/products", "referrer": "google.com"},
            }
        ]
    }

    response = collector.http.post("/events", json=legacy, headers=AUTH)

    assert response.status_code == 200
    assert response.json()["status"] == "accepted" and response.json()["processed"] == 1
    [landed] = read_kinesis(settings)
    assert (landed["user_id"], landed["url"], landed["referrer"]) == ("user_123", "/products", "google.com")


def test_legacy_track_route(collector: RunningCollector, settings: Settings) -> None:
    legacy = {
        "user_id": "550e8400-e29b-41d4-a716-446655440000",
        "page_url": "/home",
        "event_type": "click",
        "user_agent": "Mozilla/5.0",
        "ip_address": "192.168.1.1",
    }

    response = collector.http.post("/track", json=legacy, headers=AUTH)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "accepted" and body["processed"] == 1
    [landed] = read_kinesis(settings)
    assert landed["event_id"] == body["event_ids"][0] and uuid.UUID(landed["event_id"])
    assert landed["timestamp"] == landed["received_at"]  # no client timestamp: receive time
    assert landed["ip_address"] == "192.168.1.0"
    assert (landed["url"], landed["event_type"]) == ("/home", "click")


def test_an_error_monitoring_event_without_a_type_lands_as_a_page_view(
    collector: RunningCollector, settings: Settings
) -> None:
    # docs/DATA_CONTRACT.md "Events without an event type": a user, a URL without its leading
    # slash, a status and an epoch time under the legacy name; no event type
    sent = {"user_id": "u-42", "url": "checkout/pay", "http_status": 503, "event_timestamp": int(time.time()) - 5}

    response = collector.http.post("/v1/events", json={"events": [sent]}, headers=AUTH)

    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, 0)
    [landed] = read_kinesis(settings)
    assert (landed["event_type"], landed["url"], landed["http_status"]) == ("page_view", "/checkout/pay", 503)
    assert landed["user_id"] == "u-42" and bad_rows(settings) == {}


def test_concurrent_requests_all_land(collector: RunningCollector, settings: Settings) -> None:
    def send(n: int) -> int:
        batch = [event(n * 100 + i) for i in range(25)]
        return collector.http.post("/v1/events", json=batch, headers=AUTH).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(8)))

    assert statuses == [200] * 8
    assert len({e["event_id"] for e in read_kinesis(settings)}) == 200


def test_health_and_docs(collector: RunningCollector) -> None:
    assert collector.http.get("/healthz").json() == {"status": "ok"}
    assert "swagger" in collector.http.get("/docs").text.lower()
    assert "/v1/events" in collector.http.get("/openapi.json").json()["paths"]
    missing = collector.http.post("/v2/nothing", json={}, headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


# --- request errors: JSON error, nothing written -----------------------------------------

_BIG = "x" * 40_000


@pytest.mark.parametrize(
    ("name", "headers", "content", "status", "code"),
    [
        ("malformed json", JSON, b'{"events": [{"event_type": ', 400, "malformed_json"),
        (
            "wrong content type",
            {**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
            b"a=1",
            415,
            "unsupported_media_type",
        ),
        ("oversize event", JSON, None, 413, "event_too_large"),
        ("oversize request", JSON, None, 413, "payload_too_large"),
        ("too many events", JSON, None, 400, "too_many_events"),
        ("missing key", {"Content-Type": "application/json"}, None, 401, "unauthorized"),
        ("wrong key", {**JSON, "X-Write-Key": "not-the-key"}, None, 401, "unauthorized"),
        ("wrong envelope", JSON, b'{"events": "nope"}', 400, "invalid_envelope"),
    ],
)
def test_request_errors_write_nothing(
    collector: RunningCollector,
    settings: Settings,
    name: str,
    headers: dict[str, str],
    content: bytes | None,
    status: int,
    code: str,
) -> None:
    import orjson

    if content is None:
        batch = {
            "oversize event": [event(0), event(1, properties={"blob": _BIG}), {"user_id": "invalid"}],
            "oversize request": [event(i, properties={"blob": "y" * 20_000}) for i in range(30)],
            "too many events": [event(i) for i in range(501)],
        }.get(name, [event(0), {"user_id": "invalid"}])
        content = orjson.dumps(batch)

    response = collector.http.post("/v1/events", content=content, headers=headers)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == code and response.json()["message"]
    if status == 401:
        assert "X-Write-Key" in response.json()["message"]
    assert read_kinesis(settings) == []
    assert bad_rows(settings) == {}


# --- other transports and failures --------------------------------------------------------


def test_kafka_transport_end_to_end(settings: Settings, start: Any) -> None:
    from kafka import KafkaConsumer

    kafka_settings = replace(settings, transport="kafka")
    collector = start(lambda: build_service(kafka_settings))
    batch = [event(i) for i in range(30)]

    response = collector.http.post("/v1/events", json=batch, headers=AUTH)

    assert response.status_code == 200, response.text
    consumer = KafkaConsumer(
        settings.names.topic,
        bootstrap_servers=settings.require_kafka(),
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=1000,
    )
    got: list[Any] = []
    deadline = time.monotonic() + 20
    while len(got) < 30 and time.monotonic() < deadline:
        got.extend(consumer)
    consumer.close()
    assert sorted(decode_event(m.value)["event_id"] for m in got) == sorted(response.json()["event_ids"])
    assert all(m.key.decode() == decode_event(m.value)["user_id"] for m in got)
    assert read_kinesis(settings) == []


def test_missing_kinesis_stream_is_503_and_nothing_stored(settings: Settings, start: Any) -> None:
    broken = replace(settings, names=replace(settings.names, stream=f"missing-{uuid.uuid4().hex[:8]}"))
    collector = start(lambda: build_service(broken))

    response = collector.http.post("/v1/events", json=[event(0), {"user_id": "invalid"}], headers=AUTH)

    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"] == "unavailable"
    assert bad_rows(settings) == {}


def test_refused_kafka_is_503_and_nothing_stored(settings: Settings, start: Any) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        refused = f"127.0.0.1:{s.getsockname()[1]}"
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))

    def factory() -> CollectorService:
        writer = KafkaWriter(refused, settings.names.topic, message_timeout_ms=1_500)
        return CollectorService(settings, writer, BadRowsStore(bucket))

    collector = start(factory)

    started = time.monotonic()
    response = collector.http.post("/v1/events", json=[event(0), {"user_id": "invalid"}], headers=AUTH)

    assert time.monotonic() - started < 6
    assert response.status_code == 503 and "retry-after" in response.headers
    assert bad_rows(settings) == {}
