"""An older tool's event (no event type, a URL without its leading slash, a status) is counted the
same way by both layers once the collector has normalised it: the speed layer's decoder and
counters, and the compaction's parse and quality gate (docs/DATA_CONTRACT.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from clickstream.events.codec import encode_event
from clickstream.events.stored import decode_stored
from clickstream.events.validate import validate_event
from clickstream.jobs.compact_parse import parse_objects, record_offsets
from clickstream.jobs.compact_quality import sql_validator
from clickstream.metrics import definitions as d
from clickstream.metrics.aggregate import aggregate
from clickstream.quality.suite import MAX_EVENT_TIME, MIN_EVENT_TIME

RECEIVED = datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC)
SENT = {"user_id": "u-9", "url": "cart", "http_status": 500, "event_timestamp": 1795341600}  # 2026-11-22T10:00Z


def stored_line() -> bytes:
    result = validate_event(SENT, received_at=RECEIVED)
    assert result.ok, result.errors
    return encode_event(result.event)  # what the collector puts on the stream and Firehose archives


def test_the_speed_layer_counts_it_as_a_page_view_and_an_error_on_its_url() -> None:
    event = decode_stored(stored_line())
    counters = aggregate([event])
    hour = "h#2026-11-22T10:00:00Z"
    fields = dict(zip(d.COUNTER_FIELDS, counters[("type#page_view", hour)], strict=True))
    assert fields[d.EVENTS] == 1 and fields[d.ERRORS] == 1
    assert ("url#/cart", hour) in counters, sorted(counters)


def test_the_batch_layer_parses_it_and_its_gate_passes_it() -> None:
    payload = stored_line() + b"\n"
    batch = parse_objects([payload], [record_offsets(payload)])
    assert not batch.malformed
    row = batch.frame.to_pylist()[0]
    assert (row["event_type"], row["url"], row["http_status"]) == ("page_view", "/cart", 500)
    window = {MIN_EVENT_TIME: "2026-11-22T00:00:00Z", MAX_EVENT_TIME: "2026-11-23T00:00:00Z"}
    verdict = sql_validator(batch.frame, window, "older-tool")
    assert verdict.failures == {} and not verdict.batch_failures
