"""Sinks without servers: the collector sink over httpx.MockTransport, the stream sink's bookkeeping
(with the shared NullWriter), the file sink."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from clickstream import constants as c
from clickstream.adapters.streams import NullWriter, StreamRecord
from clickstream.events.codec import decode_event
from clickstream.settings import Settings
from clickstream.simulate.sinks import CollectorSink, FileSink, SinkError, StreamSink, request_bodies


def events(n: int, *, pad: int = 0) -> list[dict[str, Any]]:
    return [{"event_id": f"e{i}", "event_type": "click", "user_id": f"u{i % 7}", "pad": "x" * pad} for i in range(n)]


class FakeCollector:
    """An httpx transport answering like the collector; `answers` are consumed in order, then 200."""

    def __init__(self, answers: list[httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = answers or []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answers:
            return self.answers.pop(0)
        batch = orjson.loads(request.content)
        return httpx.Response(200, json={"status": "accepted", "accepted": len(batch), "rejected": 0, "errors": []})


def collector_sink(fake: FakeCollector, sleeps: list[float] | None = None) -> CollectorSink:
    client = httpx.Client(transport=httpx.MockTransport(fake))
    return CollectorSink(
        "http://127.0.0.1:9/", "secret", client=client, sleep=(sleeps if sleeps is not None else []).append
    )


def test_collector_sink_posts_batches_of_at_most_500_with_the_write_key() -> None:
    fake = FakeCollector()
    result = collector_sink(fake).send(events(1200))
    assert result.accepted == 1200 and result.rejected == 0
    sizes = [len(orjson.loads(r.content)) for r in fake.requests]
    assert sizes == [500, 500, 200]
    request = fake.requests[0]
    assert str(request.url) == "http://127.0.0.1:9/v1/events"
    assert request.headers["x-write-key"] == "secret"
    assert request.headers["content-type"] == "application/json"
    assert [e["event_id"] for r in fake.requests for e in orjson.loads(r.content)] == [f"e{i}" for i in range(1200)]


def test_request_bodies_also_respect_the_byte_limit() -> None:
    bodies = request_bodies(events(40, pad=30_000))  # ~1.2 MB in all
    assert len(bodies) >= 3
    assert all(len(body) <= c.MAX_REQUEST_BYTES for body, _ in bodies)
    assert sum(n for _, n in bodies) == 40


def test_rejections_are_counted_by_reason_once_per_event() -> None:
    verdict = {
        "status": "partial",
        "accepted": 2,
        "rejected": 2,
        "errors": [
            {"index": 1, "field": "timestamp", "reason": "in_future", "message": "..."},
            {"index": 1, "field": "price", "reason": "invalid_type", "message": "..."},
            {"index": 3, "field": "event_type", "reason": "unknown_event_type", "message": "..."},
        ],
    }
    result = collector_sink(FakeCollector([httpx.Response(200, json=verdict)])).send(events(4))
    assert (result.accepted, result.rejected) == (2, 2)
    assert result.rejected_by_reason == Counter({"in_future": 1, "unknown_event_type": 1})


def test_a_batch_with_only_invalid_events_is_a_verdict_not_an_error() -> None:
    verdict = {"status": "rejected", "accepted": 0, "rejected": 1, "errors": [{"index": 0, "reason": "missing"}]}
    result = collector_sink(FakeCollector([httpx.Response(400, json=verdict)])).send(events(1))
    assert result.rejected_by_reason == Counter({"missing": 1})


def test_503_is_retried_after_retry_after() -> None:
    busy = httpx.Response(503, headers={"retry-after": "2"}, json={"error": "unavailable", "message": "stream down"})
    fake, sleeps = FakeCollector([busy, busy]), list[float]()
    result = collector_sink(fake, sleeps).send(events(3))
    assert result.accepted == 3 and len(fake.requests) == 3
    assert sleeps == [2.0, 2.0]


def test_a_collector_that_stays_unavailable_is_an_error_with_its_message() -> None:
    busy = [httpx.Response(503, headers={"retry-after": "1"}, json={"error": "unavailable", "message": "stream down"})]
    with pytest.raises(SinkError, match=r"503.*stream down"):
        collector_sink(FakeCollector(busy * 10)).send(events(1))


def test_request_errors_raise_with_the_collectors_message() -> None:
    denied = httpx.Response(401, json={"error": "unauthorized", "message": "missing or invalid write key"})
    with pytest.raises(SinkError, match=r"401.*unauthorized: missing or invalid write key"):
        collector_sink(FakeCollector([denied])).send(events(1))


def test_an_unreachable_collector_is_a_clear_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    sink = CollectorSink("http://127.0.0.1:9", "k", client=client, sleep=lambda s: None)
    with pytest.raises(SinkError, match=re.escape("cannot reach the collector at http://127.0.0.1:9/v1/events")):
        sink.send(events(1))


class Verdict:
    def __init__(self, ok: bool, event: dict[str, Any] | None, errors: list[Any]) -> None:
        self.ok, self.event, self.errors = ok, event, errors


class Err:
    def __init__(self, reason: str) -> None:
        self.field, self.reason, self.message = "x", reason, reason


def test_stream_sink_writes_valid_events_keyed_by_user_and_counts_the_rest() -> None:
    def validate(raw: dict[str, Any], *, received_at: Any, limits: Any) -> Verdict:
        if raw["event_id"] in ("e2", "e5"):
            return Verdict(False, None, [Err("in_future"), Err("invalid_type")])
        return Verdict(True, {**raw, "received_at": "now"}, [])

    class Recorder(NullWriter):
        def __init__(self) -> None:
            super().__init__()
            self.records: list[StreamRecord] = []

        def write(self, records: Sequence[StreamRecord]) -> None:
            super().write(records)
            self.records.extend(records)

    class BadRows:
        def __init__(self) -> None:
            self.rows: list[dict[str, Any]] = []

        def put(self, rows: Sequence[dict[str, Any]], *, received_at: Any, source: str) -> None:
            self.rows.extend(rows)

    writer, bad_rows = Recorder(), BadRows()
    sink = StreamSink(Settings(), writer=writer, validate=validate, bad_rows=bad_rows)
    result = sink.send(events(7))
    assert (result.accepted, result.rejected, writer.count) == (5, 2, 5)
    assert [row["payload"]["event_id"] for row in bad_rows.rows] == ["e2", "e5"]
    assert {row["reason"] for row in bad_rows.rows} == {"in_future"}
    assert result.rejected_by_reason == Counter({"in_future": 2})
    assert [r.key for r in writer.records] == ["u0", "u1", "u3", "u4", "u6"]
    assert decode_event(writer.records[0].data) == {**events(1)[0], "received_at": "now"}


def test_file_sink_writes_ndjson(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    sink = FileSink(path)
    assert sink.send(events(3)).accepted == 3
    sink.send(events(2))
    sink.close()
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line)["event_id"] for line in lines] == ["e0", "e1", "e2", "e0", "e1"]
