"""The simulator's sinks against real targets: a file, the moto Kinesis stream, the mock Kafka broker.

The stream sinks validate with the real contract and write with the real writers, so these tests
also show that every simulated event (errors, late events and duplicates included) is valid.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from support.stream_reading import kinesis_records as read_kinesis

from clickstream.adapters import _clients
from clickstream.events.codec import decode_event
from clickstream.settings import Settings
from clickstream.simulate.generator import SimConfig, generate
from clickstream.simulate.run import run_simulation
from clickstream.simulate.sinks import CollectorSink, FileSink, StreamSink

EVENTS = 1500


def recent_config(**overrides: Any) -> SimConfig:
    """Timestamps in the last hour (the collector's contract refuses the future and > 24 h late)."""
    now = datetime.now(UTC).replace(microsecond=0)
    fields: dict[str, Any] = {
        "start": now - timedelta(minutes=70),
        "span": timedelta(minutes=60),
        "users": 200,
        "events": EVENTS,
        "seed": 2026,
        "error_rate": 0.03,
        "late_fraction": 0.03,
        "duplicate_fraction": 0.02,
    }
    fields.update(overrides)
    return SimConfig(**fields)


def read_kafka(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[Any]:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"simulate-test-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                messages.append(msg)
        end = time.monotonic() + 1.0  # anything beyond `expected` would be a bug: look a little longer
        while time.monotonic() < end:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                messages.append(msg)
    finally:
        consumer.close()
    return messages


@pytest.fixture
def collector_url(settings: Settings) -> Iterator[str]:
    """The real collector app (uvicorn, random port) writing to the moto Kinesis stream."""
    from clickstream.collector.app import create_app
    from clickstream.collector.deps import build_service

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(lambda: build_service(settings)), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()


def test_collector_sink_sends_through_the_real_collector(settings: Settings, collector_url: str) -> None:
    config = recent_config(events=1200)
    summary = run_simulation(config, CollectorSink(collector_url, settings.write_key or ""), batch_size=500)
    assert (summary.sent, summary.accepted, summary.rejected) == (1200, 1200, 0), summary.rejected_by_reason
    stored = [decode_event(r["Data"]) for r in read_kinesis(settings)]
    assert Counter(e["event_id"] for e in stored) == Counter(e["event_id"] for e in generate(config))


def test_collector_sink_counts_what_the_collector_rejects(settings: Settings, collector_url: str) -> None:
    # A day ahead: far beyond the allowed clock skew, so the collector refuses every event.
    config = recent_config(events=300, start=datetime.now(UTC) + timedelta(days=1), span=timedelta(hours=1))
    summary = run_simulation(config, CollectorSink(collector_url, settings.write_key or ""))
    assert (summary.accepted, summary.rejected) == (0, 300)
    assert summary.rejected_by_reason == Counter({"in_future": 300})


def test_file_sink_round_trips(tmp_path: Path) -> None:
    config = recent_config(events=800)
    path = tmp_path / "events.ndjson"
    summary = run_simulation(config, FileSink(path))
    assert summary.sent == summary.accepted == 800
    assert [orjson.loads(line) for line in path.read_bytes().splitlines()] == list(generate(config))


def test_kinesis_sink_puts_every_event_on_the_stream(settings: Settings) -> None:
    config = recent_config()
    summary = run_simulation(config, StreamSink(replace(settings, transport="kinesis")), batch_size=300)
    assert (summary.sent, summary.accepted, summary.rejected) == (EVENTS, EVENTS, 0), summary.rejected_by_reason
    assert summary.duplicates > 0 and summary.late > 0 and summary.errors > 0

    records = read_kinesis(settings)
    stored = [decode_event(r["Data"]) for r in records]
    expected = Counter(e["event_id"] for e in generate(config))
    assert Counter(e["event_id"] for e in stored) == expected
    assert all(r["PartitionKey"] == decode_event(r["Data"])["user_id"] for r in records)
    assert all(e["received_at"] and e["schema_version"] == 1 and e["device"] for e in stored)


def test_kafka_sink_puts_every_event_on_the_topic(settings: Settings) -> None:
    config = recent_config(seed=7)
    summary = run_simulation(config, StreamSink(replace(settings, transport="kafka")), batch_size=500)
    assert (summary.sent, summary.accepted, summary.rejected) == (EVENTS, EVENTS, 0), summary.rejected_by_reason

    messages = read_kafka(settings.require_kafka(), settings.names.topic, EVENTS)
    stored = [decode_event(m.value()) for m in messages]
    assert Counter(e["event_id"] for e in stored) == Counter(e["event_id"] for e in generate(config))
    assert all(m.key().decode() == decode_event(m.value())["user_id"] for m in messages)
    assert len({m.partition() for m in messages}) > 1  # keyed by user: spread over partitions


def test_stream_sink_keeps_rejected_events_in_bad_rows(settings: Settings) -> None:
    """A producer that skips the collector still loses nothing: rejects land in raw/bad/."""
    from clickstream.adapters.s3 import LakeBucket

    sink = StreamSink(replace(settings, transport="kinesis"))
    good = {"event_type": "page_view", "user_id": "u1", "timestamp": datetime.now(UTC).isoformat(), "url": "/"}
    bad = {"event_type": "teleport", "user_id": "u2", "timestamp": datetime.now(UTC).isoformat()}
    result = sink.send([good, bad])
    sink.close()
    assert (result.accepted, result.rejected) == (1, 1)
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
    keys = list(bucket.list_keys("raw/bad/"))
    assert len(keys) == 1 and "/producer-" in keys[0]
    rows = [orjson.loads(line) for line in bucket.get_ndjson_gz(keys[0])]
    assert [(r["reason"], r["payload"]["event_type"]) for r in rows] == [("unknown_event_type", "teleport")]
    assert len(read_kinesis(settings)) == 1
