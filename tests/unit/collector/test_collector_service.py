"""CollectorService rules with in-memory stand-ins for the stream and the bad-rows store.

The real adapters are exercised over HTTP in tests/integration/test_collector_http.py.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from clickstream.adapters.streams import StreamRecord
from clickstream.collector.admission import WriteGate
from clickstream.collector.service import CollectorService
from clickstream.errors import ConfigError, RetryableError, StreamUnavailableError
from clickstream.events.codec import decode_event
from clickstream.settings import Limits, Settings

NOW = datetime(2025, 1, 15, 10, 31, 0, tzinfo=UTC)
KEY = "test-key"
HEADERS = {"X-Write-Key": KEY, "Content-Type": "application/json"}


class MemoryWriter:
    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[list[StreamRecord]] = []
        self.fail = fail

    def write(self, records: Sequence[StreamRecord]) -> None:
        if self.fail:
            raise self.fail
        self.calls.append(list(records))

    def close(self) -> None:
        pass

    @property
    def events(self) -> list[dict[str, Any]]:
        return [decode_event(r.data) for call in self.calls for r in call]


class MemoryBadRows:
    def __init__(self, fail: Exception | None = None) -> None:
        self.puts: list[tuple[list[dict[str, Any]], datetime, str]] = []
        self.fail = fail

    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> str | None:
        if self.fail:
            raise self.fail
        self.puts.append((list(rows), received_at, source))
        return "raw/bad/key"


def event(i: int = 0, **extra: Any) -> dict[str, Any]:
    return {"event_type": "page_view", "user_id": f"user-{i}", "timestamp": "2025-01-15T10:30:00Z", "url": "/", **extra}


@pytest.fixture
def make() -> Any:
    def _make(
        writer: MemoryWriter | None = None, bad: MemoryBadRows | None = None, limits: Limits | None = None
    ) -> tuple[CollectorService, MemoryWriter, MemoryBadRows]:
        writer, bad = writer or MemoryWriter(), bad or MemoryBadRows()
        settings = Settings(write_key=KEY, limits=limits or Limits())
        return CollectorService(settings, writer, bad, clock=lambda: NOW), writer, bad

    return _make


def post(service: CollectorService, route: str, body: object, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return service.handle(route, headers if headers is not None else HEADERS, raw)


def test_valid_batch_goes_to_the_stream_in_one_write(make: Any) -> None:
    service, writer, bad = make()
    batch = [event(i) for i in range(5)]

    response = post(service, "/v1/events", {"events": batch})

    assert response.status == 200
    assert response.body["status"] == "accepted" and response.body["accepted"] == 5
    assert len(writer.calls) == 1
    assert [r.key for r in writer.calls[0]] == [f"user-{i}" for i in range(5)]
    assert [e["event_id"] for e in writer.events] == response.body["event_ids"]
    assert all(e["received_at"] == "2025-01-15T10:31:00.000Z" for e in writer.events)
    assert bad.puts == []


def test_mixed_batch_lists_every_error_and_stores_bad_rows(make: Any) -> None:
    service, writer, bad = make()
    invalid = {"event_type": "teleport", "timestamp": "2025-01-15T10:30:00Z"}  # unknown type AND no user_id

    response = post(service, "/v1/events", [event(0), invalid, event(2)])

    assert response.status == 200
    assert response.body["status"] == "partial"
    assert (response.body["accepted"], response.body["rejected"]) == (2, 1)
    assert {(e["index"], e["field"], e["reason"]) for e in response.body["errors"]} == {
        (1, "event_type", "unknown_event_type"),
        (1, "user_id", "missing"),
    }
    assert [e["user_id"] for e in writer.events] == ["user-0", "user-2"]
    [(rows, received_at, _)] = bad.puts
    assert received_at == NOW
    assert rows[0]["payload"] == invalid
    assert rows[0]["source"] == "collector:/v1/events"


def test_all_invalid_is_400_rejected_with_bad_rows_stored(make: Any) -> None:
    service, writer, bad = make()

    response = post(service, "/v1/events", [{"user_id": "u"}, 42])

    assert response.status == 400
    assert response.body["status"] == "rejected" and response.body["rejected"] == 2
    assert writer.calls == []
    assert len(bad.puts[0][0]) == 2


@pytest.mark.parametrize("route", ["/track", "/v1/track"])
def test_track_routes_take_one_event_and_default_the_timestamp(make: Any, route: str) -> None:
    service, writer, _ = make()

    response = post(service, route, {"event_type": "click", "user_id": "u1", "page_url": "/home"})

    assert response.status == 200 and response.body["processed"] == 1
    assert writer.events[0]["timestamp"] == "2025-01-15T10:31:00.000Z"
    assert writer.events[0]["url"] == "/home"


def test_v1_events_does_not_default_the_timestamp(make: Any) -> None:
    service, _, _ = make()

    response = post(service, "/v1/events", [{"event_type": "click", "user_id": "u1"}])

    assert response.status == 400 and response.body["errors"][0]["field"] == "timestamp"


def test_track_routes_refuse_an_array(make: Any) -> None:
    service, writer, _ = make()

    response = post(service, "/v1/track", [event()])

    assert (response.status, response.body["error"]) == (400, "invalid_envelope")
    assert writer.calls == []


@pytest.mark.parametrize(
    ("route", "headers", "body", "status", "code"),
    [
        ("/v1/events", {"Content-Type": "application/json"}, [event()], 401, "unauthorized"),
        ("/v1/events", {**HEADERS, "X-Write-Key": "nope"}, [event()], 401, "unauthorized"),
        ("/v1/events", {"X-Write-Key": KEY, "Content-Type": "text/csv"}, [event()], 415, "unsupported_media_type"),
        ("/v1/events", HEADERS, b'{"events": [', 400, "malformed_json"),
        ("/v1/events", HEADERS, b"\xff\xfe", 400, "malformed_json"),
        ("/v1/events", HEADERS, {"events": {"not": "a list"}}, 400, "invalid_envelope"),
        ("/v1/events", HEADERS, "just a string", 400, "invalid_envelope"),
        ("/v1/events", HEADERS, [], 400, "empty_batch"),
        ("/v1/events", HEADERS, [event(i) for i in range(501)], 400, "too_many_events"),
        ("/v1/events", HEADERS, [event(), event(1, blob="x" * 40_000)], 413, "event_too_large"),
        ("/v1/events", HEADERS, [event(i, blob="x" * 20_000) for i in range(30)], 413, "payload_too_large"),
        ("/nope", HEADERS, [event()], 404, "not_found"),
    ],
)
def test_request_errors_write_nothing(
    make: Any, route: str, headers: dict[str, str], body: object, status: int, code: str
) -> None:
    service, writer, bad = make()

    response = post(service, route, body, headers)

    assert (response.status, response.body["error"]) == (status, code)
    assert response.body["message"]
    assert writer.calls == [] and bad.puts == []


def test_auth_is_checked_before_the_body_is_read(make: Any) -> None:
    service, _, _ = make()

    assert post(service, "/v1/events", b"garbage", {"Content-Type": "application/json"}).status == 401


def test_gzip_body(make: Any) -> None:
    service, writer, _ = make()
    body = gzip.compress(orjson.dumps([event(i) for i in range(3)]))

    response = post(service, "/v1/events", body, {**HEADERS, "Content-Encoding": "gzip"})

    assert response.status == 200 and len(writer.events) == 3


def test_limits_come_from_settings(make: Any) -> None:
    service, _, _ = make(limits=replace(Limits(), max_batch_events=2))

    assert post(service, "/v1/events", [event(i) for i in range(3)]).body["error"] == "too_many_events"
    assert post(service, "/v1/events", [event(i) for i in range(2)]).status == 200


def test_stream_down_is_503_and_no_bad_rows(make: Any, caplog: pytest.LogCaptureFixture) -> None:
    service, _, bad = make(writer=MemoryWriter(fail=StreamUnavailableError("kinesis down", retry_after=2.5)))

    response = post(service, "/v1/events", [event(0), {"user_id": "bad"}])

    assert response.status == 503
    assert response.headers["retry-after"] == "3"
    assert response.body["error"] == "unavailable" and "kinesis down" not in response.body["message"]
    assert "kinesis down" in caplog.text  # the cause is logged for operators, not shown to clients
    assert bad.puts == []


def test_bad_rows_store_down_is_503(make: Any) -> None:
    service, _, _ = make(bad=MemoryBadRows(fail=RetryableError("s3 down")))

    response = post(service, "/v1/events", [event(0), {"user_id": "bad"}])

    assert response.status == 503 and response.body["error"] == "unavailable"


def test_resending_gives_the_same_event_ids(make: Any) -> None:
    service, _, _ = make()
    batch = [{"event_type": "click", "user_id": "u", "timestamp": "2025-01-15T10:30:00Z"}]

    first = post(service, "/v1/events", batch).body["event_ids"]
    second = post(service, "/v1/events", batch).body["event_ids"]

    assert first == second


def test_healthz_and_methods(make: Any) -> None:
    service, _, _ = make()

    assert service.handle("/healthz", {}, b"", method="GET").body == {"status": "ok"}
    wrong = service.handle("/v1/events", HEADERS, b"", method="GET")
    assert (wrong.status, wrong.headers["allow"]) == (405, "POST")
    assert service.handle("/v1/events/", HEADERS, orjson.dumps([event()])).status == 200  # trailing slash


def test_no_write_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CLICKSTREAM_WRITE_KEY"):
        CollectorService(Settings(write_key=None), MemoryWriter(), MemoryBadRows())


def test_service_import_pulls_in_no_aws_sdk_or_web_framework() -> None:
    # The Lambda imports the service: keep its cold start free of boto3 and FastAPI until deps() runs.
    code = "import sys, clickstream.collector.service; print(sorted({'boto3', 'fastapi', 'confluent_kafka'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.strip() == "[]"


def test_a_request_that_finds_every_write_slot_busy_is_503_at_once_and_writes_nothing() -> None:
    # GIVEN a collector with one write slot, held by a slow write
    release, started = threading.Event(), threading.Event()

    class SlowWriter(MemoryWriter):
        def write(self, records: Sequence[StreamRecord]) -> None:
            started.set()
            release.wait(10)
            super().write(records)

    writer = SlowWriter()
    gate = WriteGate(1, wait_seconds=0.2, retry_after=2)
    service = CollectorService(Settings(write_key=KEY), writer, MemoryBadRows(), clock=lambda: NOW, gate=gate)
    slow = threading.Thread(target=post, args=(service, "/v1/events", [event(1)]))
    slow.start()
    assert started.wait(5)

    # WHEN another request arrives, THEN it is told to come back, and nothing of it is written
    t0 = time.monotonic()
    busy = post(service, "/v1/events", [event(2)])
    assert busy.status == 503 and busy.headers["retry-after"] == "2"
    assert time.monotonic() - t0 < 2
    release.set()
    slow.join(5)
    assert [e["user_id"] for e in writer.events] == ["user-1"]
    assert post(service, "/v1/events", [event(3)]).status == 200  # the slot is free again


def test_write_gate_bounds_writes_in_flight() -> None:
    gate, inside, peak, lock = WriteGate(3, wait_seconds=5), [0], [0], threading.Lock()

    def work(_: int) -> None:
        with gate.slot():
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(24)))
    assert peak[0] == 3
    with pytest.raises(ValueError):
        WriteGate(0, wait_seconds=1)
