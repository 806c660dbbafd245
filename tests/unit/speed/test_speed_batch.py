"""prepare_batch: poison records, lateness, producer duplicates, order claims, re-cut batches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from clickstream.events.validate import validate_event
from clickstream.metrics.aggregate import ORDERS, aggregate, as_dict
from clickstream.settings import Limits
from clickstream.speed.batch import InRecord, PreparedBatch, prepare_batch

ARRIVAL = datetime(2026, 11, 23, 14, 0, 0, tzinfo=UTC)
ARRIVAL_MS = int(ARRIVAL.timestamp() * 1000)
LIMITS = Limits()  # 24 h lateness


def ev(n: int, ts: str = "2026-11-23T13:59:30.000Z", **fields: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "event_type": "page_view", "user_id": "u1", "timestamp": ts, "url": "/", **fields}


def rec(position: int, payload: dict[str, Any] | bytes, arrival_ms: int = ARRIVAL_MS) -> InRecord:
    """A stream record as the collector writes it: a dict payload is validated into the stored
    event (received when it arrived); one the collector would refuse goes on the stream as it is."""
    if isinstance(payload, bytes):
        return InRecord(position, arrival_ms, payload)
    received = datetime.fromtimestamp(arrival_ms / 1000, UTC)
    stored = validate_event(payload, received_at=received, limits=Limits(clock_skew_seconds=10**9)).event
    return InRecord(position, arrival_ms, orjson.dumps(stored if stored is not None else payload))


def prepare(*records: InRecord, seen: dict[str, int] | None = None, limits: Limits = LIMITS) -> PreparedBatch:
    return prepare_batch("shardId-000000000000", list(records), limits=limits, seen=seen or {})


def counts(batch: PreparedBatch, **kwargs: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {key: as_dict(cell) for key, cell in batch.counters(**kwargs).items()}


def test_poison_records_become_bad_rows_with_reasons_and_are_counted() -> None:
    batch = prepare(
        rec(1, b"\xff\xfe not json"),
        rec(2, b"[1, 2]"),
        rec(3, {"event_type": "page_view", "timestamp": "2026-11-23T13:00:00Z"}),  # no user_id
        rec(4, ev(4)),
    )
    assert [row["reason"] for row in batch.bad_rows] == ["invalid_value", "not_an_object", "missing"]
    assert batch.bad_rows[0]["payload"] == "\\xff\\xfe not json"  # what arrived, kept visible
    assert batch.bad_rows[1]["payload"] == [1, 2]
    assert {row["source"] for row in batch.bad_rows} == {"stream:kinesis:shardId-000000000000"}
    assert [p for p, _ in batch.kept] == [4]
    got = counts(batch)
    minute = "m#2026-11-23T14:00:00Z"  # rejects count in their ARRIVAL window
    assert got[("bad#invalid_value", minute)] == {"events": 1}
    assert got[("bad#not_an_object", minute)] == {"events": 1}
    assert got[("bad#missing", "d#2026-11-23T00:00:00Z")] == {"events": 1}
    assert got[("all", "m#2026-11-23T13:59:00Z")] == {"events": 1}
    assert (batch.first, batch.last) == (1, 4)


def test_late_events_update_their_own_window_and_too_late_ones_go_to_bad_rows() -> None:
    batch = prepare(
        rec(1, ev(1, "2026-11-22T14:00:00.000Z")),  # exactly arrival - 24 h: still in
        rec(2, ev(2, "2026-11-22T13:59:59.999Z")),  # 1 ms older: too late
        rec(3, ev(3, "2026-11-23T09:15:00.000Z")),  # 5 h late: counted in its own window
    )
    assert [p for p, _ in batch.kept] == [1, 3]
    assert batch.too_late == 1
    (row,) = batch.bad_rows
    assert row["reason"] == "too_late" and row["errors"][0]["field"] == "timestamp"
    assert row["payload"]["event_id"] == "e2"
    got = counts(batch)
    assert got[("all", "h#2026-11-22T14:00:00Z")] == {"events": 1}
    assert got[("all", "m#2026-11-23T09:15:00Z")] == {"events": 1}
    assert ("all", "h#2026-11-22T13:00:00Z") not in got  # the too-late event counts nowhere but bad#too_late
    assert got[("bad#too_late", "h#2026-11-23T14:00:00Z")] == {"events": 1}


def test_lateness_bound_is_configurable_and_measured_from_each_records_arrival() -> None:
    one_hour = Limits(lateness_seconds=3600)
    event = ev(1, "2026-11-23T12:30:00.000Z")
    assert prepare(rec(1, event), limits=one_hour).too_late == 1
    # the same event on a record that arrived an hour earlier is in time
    assert prepare(rec(1, event, ARRIVAL_MS - 3_600_000), limits=one_hour).too_late == 0


def stored(n: int, **fields: Any) -> dict[str, Any]:
    """A stored event as the collector writes it, with `fields` changed after validation."""
    received = datetime.fromtimestamp(ARRIVAL_MS / 1000, UTC)
    event = validate_event(ev(n), received_at=received).event
    assert event is not None
    return {**event, **fields}


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"schema_version": 2}, "schema_version", "invalid_value"),  # a newer writer's events
        ({"http_status": "200"}, "http_status", "invalid_type"),
        ({"user_id": None}, "user_id", "missing"),
        ({"surprise": 1}, "surprise", "invalid_value"),  # a field the schema does not have
        ({"event_type": "teleport"}, "event_type", "unknown_event_type"),
        ({"timestamp": "2026-11-23T13:59:30Z"}, "timestamp", "invalid_value"),  # not the stored form
        ({"quantity": 0}, "price", "out_of_range"),
    ],
)
def test_a_record_that_is_not_a_stored_event_of_this_version_is_a_bad_row_never_counted(
    change: dict[str, Any], field: str, reason: str
) -> None:
    batch = prepare(rec(1, orjson.dumps(stored(1, **change))), rec(2, orjson.dumps(stored(2))))
    (row,) = batch.bad_rows
    assert (row["reason"], row["errors"][0]["field"]) == (reason, field)
    assert [p for p, _ in batch.kept] == [2]
    got = counts(batch)
    assert got[("all", "d#2026-11-23T00:00:00Z")] == {"events": 1}
    assert got[(f"bad#{reason}", "d#2026-11-23T00:00:00Z")] == {"events": 1}


def test_the_stored_event_is_taken_as_the_collector_wrote_it() -> None:
    # the collector's clock rules (in the future beyond the skew) were applied when it accepted
    # the event; the speed layer does not judge them again against the record's arrival
    batch = prepare(rec(1, orjson.dumps(stored(1, timestamp="2026-11-23T14:10:00.000Z"))))
    assert batch.bad_rows == [] and [p for p, _ in batch.kept] == [1]


def test_revenue_beyond_the_counters_bound_is_rejected() -> None:
    batch = prepare(rec(1, ev(1, event_type="purchase", price=9e11, quantity=5)))
    assert [row["reason"] for row in batch.bad_rows] == ["out_of_range"]


def test_producer_duplicates_are_dropped_in_the_batch_and_against_recent_batches() -> None:
    batch = prepare(
        rec(10, ev(1)),
        rec(11, ev(1)),  # same event_id again: a producer retry
        rec(12, ev(2)),
        rec(13, ev(3)),
        seen={"e2": 5, "e3": 13},  # e2 was carried by record 5 (earlier batch); e3 by THIS record
    )
    assert [p for p, _ in batch.kept] == [10, 13]  # a redelivered record is not its own duplicate
    assert batch.duplicates == 2
    assert counts(batch)[("dup#event_id", "m#2026-11-23T14:00:00Z")] == {"events": 2}
    assert batch.kept_ids == [("e1", 10), ("e3", 13)]


def test_order_claims_one_per_order_and_window_by_its_first_line() -> None:
    purchase = {"event_type": "purchase", "order_id": "o1", "price": 2.5, "product_id": "p1"}
    batch = prepare(
        rec(1, ev(1, "2026-11-23T13:59:59.500Z", **purchase)),
        rec(2, ev(2, "2026-11-23T14:00:00.100Z", **purchase)),  # same order, next minute AND hour
        rec(3, ev(3, "2026-11-23T14:00:00.200Z", **purchase)),
    )
    claims = {(c.order_id, c.sk): c.position for c in batch.order_claims}
    assert claims == {
        ("o1", "m#2026-11-23T13:59:00Z"): 1,
        ("o1", "h#2026-11-23T13:00:00Z"): 1,
        ("o1", "d#2026-11-23T00:00:00Z"): 1,
        ("o1", "m#2026-11-23T14:00:00Z"): 2,
        ("o1", "h#2026-11-23T14:00:00Z"): 2,
    }
    won = set(claims)
    got = batch.counters(won)
    # one order per window it appears in (count distinct per window, as the batch layer does)
    assert got[("all", "d#2026-11-23T00:00:00Z")][ORDERS] == 1
    assert got[("all", "h#2026-11-23T13:00:00Z")][ORDERS] == 1
    assert got[("all", "h#2026-11-23T14:00:00Z")][ORDERS] == 1
    # a claim this shard does not hold (an earlier batch's line has it) counts nothing
    assert batch.counters(won - {("o1", "d#2026-11-23T00:00:00Z")})[("all", "d#2026-11-23T00:00:00Z")][ORDERS] == 0
    # claim TTL: the window's end + lateness + a day
    day = next(c for c in batch.order_claims if c.sk.startswith("d#"))
    assert day.expires_at == int(datetime(2026, 11, 26, tzinfo=UTC).timestamp())


def test_counters_after_a_position_are_the_deltas_of_the_later_records() -> None:
    records = [rec(p, ev(p, f"2026-11-23T13:{p:02d}:00.000Z", http_status=200 + p)) for p in range(1, 9)]
    records.insert(3, rec(99, b"garbage"))  # positions need not be dense; order is stream order
    records = sorted(records, key=lambda r: r.position)
    batch = prepare(*records)
    events_after_5 = [e for p, e in batch.kept if p > 5]
    expected = {key: as_dict(cell) for key, cell in aggregate(events_after_5).items()}
    expected[("bad#invalid_value", "m#2026-11-23T14:00:00Z")] = {"events": 1}
    expected[("bad#invalid_value", "h#2026-11-23T14:00:00Z")] = {"events": 1}
    expected[("bad#invalid_value", "d#2026-11-23T00:00:00Z")] = {"events": 1}
    assert counts(batch, after=5) == expected
    assert counts(batch, after=99) == {}


def test_same_records_same_result_whenever_they_are_processed() -> None:
    records = [rec(1, ev(1)), rec(2, b"{"), rec(3, ev(3, "2026-11-20T00:00:00.000Z"))]
    first, again = prepare(*records), prepare(*records)
    assert counts(first) == counts(again)
    assert first.bad_rows == again.bad_rows


def test_unique_values_per_hour_and_day() -> None:
    batch = prepare(
        rec(1, ev(1, user_id="a", session_id="s1")),
        rec(2, ev(2, user_id="b")),
        rec(3, ev(3, "2026-11-23T12:00:00.000Z", user_id="a", session_id="s2")),
    )
    assert batch.unique_values("users") == {
        "h#2026-11-23T13:00:00Z": ["a", "b"],
        "d#2026-11-23T00:00:00Z": ["a", "b", "a"],
        "h#2026-11-23T12:00:00Z": ["a"],
    }
    assert batch.unique_values("sessions")["d#2026-11-23T00:00:00Z"] == ["s1", "s2"]  # events without one skip


@pytest.mark.parametrize("arrival_ms", [ARRIVAL_MS, ARRIVAL_MS - 1])
def test_arrival_rounds_up_to_the_second(arrival_ms: int) -> None:
    # in-future and lateness use the arrival time rounded up to a whole second
    batch = prepare(rec(1, ev(1, "2026-11-22T14:00:00.000Z"), arrival_ms))
    assert batch.too_late == 0 and len(batch.kept) == 1
