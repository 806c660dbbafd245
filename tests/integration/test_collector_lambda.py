"""The collector Lambda handler, called with a real-shaped API Gateway HTTP API v2 event, against moto."""

from __future__ import annotations

import base64
import copy
import gzip
import http.server
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.stream_reading import kinesis_events as read_kinesis

from clickstream import constants as c
from clickstream.adapters import _clients
from clickstream.adapters.s3 import LakeBucket
from clickstream.deadline import CALL_MARGIN_SECONDS
from clickstream.events.codec import decode_event
from clickstream.lambda_context import lambda_context
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


class _StallingProxy(http.server.ThreadingHTTPServer):
    """An AWS endpoint in front of the embedded server that forwards every request, except that
    requests for `stalled` (an S3 path prefix, or "kinesis") get no answer at all."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, upstream: str, stalled: str) -> None:
        self.upstream, self.stalled, self.release = upstream, stalled, threading.Event()
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(http.server.BaseHTTPRequestHandler):
    server: _StallingProxy

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        kinesis = (self.headers.get("x-amz-target") or "").startswith("Kinesis")
        if (self.server.stalled == "kinesis") == kinesis and (kinesis or self.path.startswith(self.server.stalled)):
            self.server.release.wait(60)  # a stalled endpoint: connected, never answered
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(self.server.upstream + self.path, body, headers, method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=30) as upstream:
                status, reply, answer = upstream.status, upstream.headers, upstream.read()
        except urllib.error.HTTPError as exc:
            status, reply, answer = exc.code, exc.headers, exc.read()
        self.send_response(status)
        for k, v in reply.items():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(k, v)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _stalling(upstream: str, stalled: str) -> Iterator[str]:
    proxy = _StallingProxy(upstream, stalled)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy.url
    finally:
        proxy.release.set()
        proxy.shutdown()
        proxy.server_close()


def _invoke_within(event: dict[str, Any], timeout: float) -> tuple[dict[str, Any] | None, float]:
    """The collector Lambda invoked with a context of `timeout` seconds: (its answer, or None when
    it had not answered when Lambda would have stopped it, and the seconds it took)."""
    context = lambda_context(
        "collector", region="us-east-1", account="123456789012", request_id="r-1", clock=time.monotonic, timeout=timeout
    )
    answers: list[dict[str, Any]] = []
    started = time.monotonic()
    worker = threading.Thread(target=lambda: answers.append(collector_lambda.handler(event, context)), daemon=True)
    worker.start()
    worker.join(timeout)
    return (answers[0] if answers else None), time.monotonic() - started


@pytest.mark.slow  # each case waits out timeouts: 5-6 s
@pytest.mark.parametrize("stalled", ["kinesis", "/"], ids=["stream", "bad-rows-bucket"])
def test_a_stalled_endpoint_is_answered_503_before_the_invocation_times_out(
    settings: Settings, apigw_event: dict[str, Any], monkeypatch: pytest.MonkeyPatch, stalled: str
) -> None:
    """Lambda stops an invocation at its timeout, mid-call, and API Gateway answers 503 without
    Retry-After. The handler must answer by itself first: every AWS call ends a second before the
    deadline (`_clients.RequestBoundClient`). Before, the writer's client held a stalled
    stream's request for about 10 s (a 5 s read timeout, twice: botocore's `max_attempts` counts
    retries), and the bad rows' S3 client (30 s timeouts, 5 retries) for minutes."""
    events = json.loads(apigw_event["body"])["events"]
    events.append({"event_type": "page_view"})  # invalid: a bad row for S3
    event = with_body(apigw_event, {"events": events})
    timeout = c.COLLECTOR_LAMBDA_TIMEOUT_SECONDS
    with _stalling(str(settings.endpoint_url), stalled) as endpoint:
        monkeypatch.setenv(c.ENV_ENDPOINT, endpoint)
        _clients.reset_cache()
        response, elapsed = _invoke_within(event, timeout)

    assert response is not None, f"no answer within the {timeout} s invocation: Lambda would have cut it off"
    assert response["statusCode"] == 503, response
    assert float(response["headers"]["retry-after"]) > 0
    assert elapsed <= timeout - CALL_MARGIN_SECONDS + 0.5, f"answered after {elapsed:.1f} s of {timeout} s"
    print(f"\nstalled {stalled}: 503 after {elapsed:.1f} s of the {timeout} s invocation")
