"""SpeedProcessor wiring without a server: NullCounters computes every write and sends none."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clickstream.adapters.dynamodb import NullCounters, WriteStats
from clickstream.errors import RetryableError
from clickstream.events.validate import validate_event
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import SpeedProcessor

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


class ListSink:
    def __init__(self) -> None:
        self.puts: list[tuple[list[dict[str, Any]], str]] = []

    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> str | None:
        self.puts.append((list(rows), source))
        return "key"


class ThrottledCounters(NullCounters):
    def add_counters(self, counters_after: Any, *, shard: str, first: int, last: int) -> WriteStats:
        raise RetryableError("DynamoDB update_item: ProvisionedThroughputExceededException after 6 attempts")


def kinesis_event() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / "kinesis_stream_event.json").read_text())
    return loaded


def test_sample_event_is_processed_in_full() -> None:
    counters, sink = NullCounters(), ListSink()
    processor = SpeedProcessor(counters, sink)

    assert processor.handle_event(kinesis_event()) == {"batchItemFailures": []}

    assert sink.puts == []
    assert counters.items > 0 and counters.sketches > 0


def test_retryable_failure_reports_the_batch_from_its_first_record_and_commits_nothing() -> None:
    event = kinesis_event()
    processor = SpeedProcessor(ThrottledCounters(), ListSink())

    response = processor.handle_event(event)

    first = event["Records"][0]["kinesis"]["sequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": first}]}
    # no id was remembered: the retry must see the batch exactly as the first attempt did
    assert processor.recent.seen("shardId-000000000001").get("6f1c2a3e-8b1d-4a7e-9c2f-0d3b5e7a9c11") is None


def test_poison_only_batch_succeeds_and_goes_to_bad_rows() -> None:
    sink = ListSink()
    processor = SpeedProcessor(NullCounters(), sink)

    result = processor.process(
        "shardId-0", [InRecord(1, 1_795_356_238_000, b"\x00\x01"), InRecord(2, 1_795_356_238_000, b"{}")]
    )

    assert (result.records, result.kept, result.bad) == (2, 0, 2)
    ((rows, source),) = sink.puts
    assert source == "stream-kinesis"
    assert [row["reason"] for row in rows] == ["invalid_value", "missing"]


def test_committed_ids_drop_a_later_duplicate_but_not_a_redelivery() -> None:
    processor = SpeedProcessor(NullCounters(), ListSink())
    raw = {"event_id": "e1", "event_type": "click", "user_id": "u", "timestamp": "2026-11-22T14:00:00Z"}
    arrival = 1_795_356_238_000
    event = validate_event(raw, received_at=datetime.fromtimestamp(arrival / 1000, UTC)).event
    data = json.dumps(event).encode()  # as the collector puts it on the stream

    assert processor.process("s", [InRecord(1, arrival, data)]).kept == 1
    assert processor.process("s", [InRecord(1, arrival, data)]).kept == 1  # the same record again
    later = processor.process("s", [InRecord(2, arrival, data)])  # a producer retry
    assert (later.kept, later.duplicates) == (0, 1)


@pytest.mark.parametrize("records", [[]])
def test_empty_batch_is_a_no_op(records: list[InRecord]) -> None:
    assert SpeedProcessor(NullCounters(), ListSink()).process("s", records).records == 0


def test_positions_are_fixed_width_text_in_number_order() -> None:
    from clickstream.adapters.dynamodb.counters import POSITION_DIGITS, encode_position

    kinesis = 49656980227040428066208429483744412548911094318478049378
    positions = [0, 7, 1200, 10**20, kinesis, kinesis + 2]
    encoded = [encode_position(p) for p in positions]
    assert all(len(e) == POSITION_DIGITS for e in encoded)
    assert encoded == sorted(encoded)
    with pytest.raises(ValueError):
        encode_position(10**POSITION_DIGITS)
