"""Aggregation: a fixture batch against counters computed by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from clickstream.events.validate import validate_event
from clickstream.metrics.aggregate import ORDERS, add_orders, aggregate, as_dict, count_at, merge

RECEIVED = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


def event(n: int, event_type: str, ts: str, url: str, **fields: Any) -> dict[str, Any]:
    raw = {"event_id": f"e{n}", "event_type": event_type, "user_id": fields.pop("user", "u1"), "timestamp": ts}
    raw.update(url=url, **fields)
    result = validate_event(raw, received_at=RECEIVED)
    assert result.event is not None, result.errors
    return result.event


FIXTURE = [
    event(1, "page_view", "2026-11-22T14:03:10.000Z", "/home", duration_ms=1000),
    event(2, "page_view", "2026-11-22T14:03:59.999Z", "/p/1?ref=x", duration_ms=3000, product_id="p1"),
    event(3, "click", "2026-11-22T14:04:00.000Z", "/home", http_status=404),
    event(
        4, "purchase", "2026-11-22T14:04:30.000Z", "/checkout", product_id="p1", price=10.5, quantity=2, order_id="o1"
    ),
    event(5, "purchase", "2026-11-22T14:04:31.000Z", "/checkout", product_id="p2", price=1.25, order_id="o1"),
    event(6, "page_view", "2026-11-22T15:00:00.000Z", "/home", http_status=500, duration_ms=500),
]

M3, M4, M60 = "m#2026-11-22T14:03:00Z", "m#2026-11-22T14:04:00Z", "m#2026-11-22T15:00:00Z"
H14, H15, D = "h#2026-11-22T14:00:00Z", "h#2026-11-22T15:00:00Z", "d#2026-11-22T00:00:00Z"


def c(events: int, errors: int = 0, revenue: str = "0", duration_ms: int = 0, timed: int = 0) -> dict[str, Any]:
    cell = {"events": events, "errors": errors, "revenue": Decimal(revenue), "duration_ms": duration_ms}
    cell["timed_events"] = timed
    return {k: v for k, v in cell.items() if v}


EXPECTED = {
    ("all", M3): c(2, duration_ms=4000, timed=2),
    ("all", M4): c(3, errors=1, revenue="22.25"),
    ("all", M60): c(1, errors=1, duration_ms=500, timed=1),
    ("all", H14): c(5, errors=1, revenue="22.25", duration_ms=4000, timed=2),
    ("all", H15): c(1, errors=1, duration_ms=500, timed=1),
    ("all", D): c(6, errors=2, revenue="22.25", duration_ms=4500, timed=3),
    ("type#page_view", M3): c(2, duration_ms=4000, timed=2),
    ("type#page_view", M60): c(1, errors=1, duration_ms=500, timed=1),
    ("type#page_view", H14): c(2, duration_ms=4000, timed=2),
    ("type#page_view", H15): c(1, errors=1, duration_ms=500, timed=1),
    ("type#page_view", D): c(3, errors=1, duration_ms=4500, timed=3),
    **{("type#click", sk): c(1, errors=1) for sk in (M4, H14, D)},
    **{("type#purchase", sk): c(2, revenue="22.25") for sk in (M4, H14, D)},
    ("status#200", M3): c(2, duration_ms=4000, timed=2),
    ("status#200", M4): c(2, revenue="22.25"),
    ("status#200", H14): c(4, revenue="22.25", duration_ms=4000, timed=2),
    ("status#200", D): c(4, revenue="22.25", duration_ms=4000, timed=2),
    **{("status#404", sk): c(1, errors=1) for sk in (M4, H14, D)},
    **{("status#500", sk): c(1, errors=1, duration_ms=500, timed=1) for sk in (M60, H15, D)},
    ("url#/home", M3): c(1, duration_ms=1000, timed=1),
    ("url#/home", M4): c(1, errors=1),
    ("url#/home", M60): c(1, errors=1, duration_ms=500, timed=1),
    ("url#/home", H14): c(2, errors=1, duration_ms=1000, timed=1),
    ("url#/home", H15): c(1, errors=1, duration_ms=500, timed=1),
    ("url#/home", D): c(3, errors=2, duration_ms=1500, timed=2),
    **{("url#/p/1", sk): c(1, duration_ms=3000, timed=1) for sk in (M3, H14, D)},  # query string dropped
    **{("url#/checkout", sk): c(2, revenue="22.25") for sk in (M4, H14, D)},
    ("product#p1", M3): c(1, duration_ms=3000, timed=1),
    ("product#p1", M4): c(1, revenue="21"),
    ("product#p1", H14): c(2, revenue="21", duration_ms=3000, timed=1),
    ("product#p1", D): c(2, revenue="21", duration_ms=3000, timed=1),
    **{("product#p2", sk): c(1, revenue="1.25") for sk in (M4, H14, D)},
}


def test_fixture_batch_aggregates_to_hand_computed_counters() -> None:
    got = {key: as_dict(cell) for key, cell in aggregate(FIXTURE).items()}
    assert got == EXPECTED


def test_order_and_split_do_not_matter() -> None:
    # Counters are additive: any split of the batch, in any order, sums to the same counters.
    shuffled = FIXTURE[:]
    random.Random(7).shuffle(shuffled)
    parts = merge(aggregate(shuffled[:2]), aggregate(shuffled[2:]))
    assert {k: as_dict(v) for k, v in parts.items()} == EXPECTED


def test_aggregate_adds_into_existing_counters() -> None:
    twice = aggregate(FIXTURE, into=aggregate(FIXTURE))
    assert as_dict(twice[("all", D)]) == c(12, errors=4, revenue="44.5", duration_ms=9000, timed=6)


def test_orders_go_to_the_all_item_of_each_window_given() -> None:
    counters = add_orders(aggregate(FIXTURE), [M4, H14, D])
    assert counters[("all", H14)][ORDERS] == 1
    assert counters[("type#purchase", H14)][ORDERS] == 0  # orders are kept on `all` only
    assert add_orders({}, ["m#2026-11-22T10:00:00Z"])[("all", "m#2026-11-22T10:00:00Z")][ORDERS] == 1


def test_count_at_counts_rejects_in_their_arrival_windows() -> None:
    counters = count_at(
        count_at({}, "bad#too_late", "2026-11-22T14:03:59.999Z"), "bad#too_late", "2026-11-22T14:04:00.000Z"
    )
    assert {k: as_dict(v) for k, v in counters.items()} == {
        ("bad#too_late", M3): {"events": 1},
        ("bad#too_late", M4): {"events": 1},
        ("bad#too_late", H14): {"events": 2},
        ("bad#too_late", D): {"events": 2},
    }


@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_single(n: int) -> None:
    assert len(aggregate(FIXTURE[:n])) == (0 if n == 0 else 12)  # all, type, url, status, for m/h/d
