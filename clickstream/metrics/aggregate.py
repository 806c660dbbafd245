"""Validated events → additive counters keyed (pk, sk) for every dimension and window. Pure.

`aggregate(events)` gives, for each window (minute, hour, day: `windows`) and each of
`all`, `type#…`, `url#…`, `status#…`, `product#…` (`definitions`), the counters
[events, errors, revenue, orders, duration_ms, timed_events] (`definitions.COUNTER_FIELDS`).

How it stays cheap: one dict update per event, keyed by (minute, type, url, status, product);
those cells are then rolled up into minute items per dimension, and minutes into hours and
days, so the per-event cost does not grow with the number of dimensions and windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from clickstream.metrics import definitions as d
from clickstream.metrics.windows import minute_sks, window_sks

Key = tuple[str, str]  # (pk, sk)
K = TypeVar("K")
Cell = list[Any]  # one value per COUNTER_FIELDS entry: ints, and a Decimal for revenue
Counters = dict[Key, Cell]

EVENTS, ERRORS, REVENUE, ORDERS, DURATION_MS, TIMED_EVENTS = range(len(d.COUNTER_FIELDS))


def new_cell() -> Cell:
    return [0, 0, Decimal(0), 0, 0, 0]


def aggregate(events: Iterable[Mapping[str, Any]], into: Counters | None = None) -> Counters:
    """Counters of validated, normalised events (schema v1 dicts), added to `into` if given.

    Windows come from the event's `timestamp` (stored form, UTC). Revenue uses
    `definitions.revenue_of`; callers reject events whose revenue is out of range first.
    Orders are not counted here (distinct orders are not additive): see `add_orders`.
    """
    cells: dict[tuple[str, str, Any, int, Any], Cell] = {}
    for event in events:
        event_type = event["event_type"]
        key = (event["timestamp"][:16], event_type, event["url"], event["http_status"], event["product_id"])
        cell = cells.get(key)
        if cell is None:
            cells[key] = cell = new_cell()
        cell[EVENTS] += 1
        duration = event["duration_ms"]
        if duration is not None:
            cell[DURATION_MS] += duration
            cell[TIMED_EVENTS] += 1
        if event_type == d.PURCHASE and event["price"] is not None:
            cell[REVENUE] += d.revenue_of(event) or 0
    return _roll_up(cells, {} if into is None else into)


def _roll_up(cells: dict[tuple[str, str, Any, int, Any], Cell], out: Counters) -> Counters:
    minutes: dict[tuple[str, str], Cell] = {}  # (pk, minute) -> counters
    for (minute, event_type, url, status, product), cell in cells.items():
        if d.is_error(status):
            cell[ERRORS] = cell[EVENTS]
        _add(minutes, (d.ALL, minute), cell)
        _add(minutes, (_pk(d.TYPE, event_type), minute), cell)
        _add(minutes, (_pk(d.STATUS, status), minute), cell)
        if url is not None:
            _add(minutes, (_url_pk(url), minute), cell)
        if product is not None:
            _add(minutes, (_pk(d.PRODUCT, d.dimension_value(product)), minute), cell)
    for (pk, minute), cell in minutes.items():
        for sk in minute_sks(minute):
            _add(out, (pk, sk), cell)
    return out


@lru_cache(maxsize=65_536)
def _pk(dimension: str, value: object) -> str:
    return f"{dimension}#{value}"


@lru_cache(maxsize=65_536)
def _url_pk(url: str) -> str:
    return f"{d.URL}#{d.url_dimension(url)}"


def _add(target: dict[Any, Cell], key: Any, cell: Cell) -> None:
    have = target.get(key)
    if have is None:
        target[key] = cell.copy()
        return
    # Unrolled: this runs a few times per event and is the aggregation's inner loop.
    have[0] += cell[0]
    have[1] += cell[1]
    if cell[2]:
        have[2] += cell[2]
    have[3] += cell[3]
    have[4] += cell[4]
    have[5] += cell[5]


def add_orders(counters: Counters, windows: Iterable[str]) -> Counters:
    """Count one order in the `all` item of each window sk given (one entry per order and window)."""
    for sk in windows:
        cell = counters.get((d.ALL, sk))
        if cell is None:
            counters[(d.ALL, sk)] = cell = new_cell()
        cell[ORDERS] += 1
    return counters


def count_at(counters: Counters, pk: str, timestamp: str) -> Counters:
    """One event in every window of `timestamp` for `pk` (rejects and duplicates, by arrival time)."""
    for sk in window_sks(timestamp):
        cell = counters.get((pk, sk))
        if cell is None:
            counters[(pk, sk)] = cell = new_cell()
        cell[EVENTS] += 1
    return counters


def merge(into: dict[K, Cell], other: Mapping[K, Cell]) -> dict[K, Cell]:
    """Add `other` into `into`, cell by cell (both keep their own cells), whatever the keys."""
    for key, cell in other.items():
        _add(into, key, cell)
    return into


def as_dict(cell: Cell) -> dict[str, Any]:
    """A cell as {field: value}, zero fields left out (what a DynamoDB ADD would send)."""
    return {name: value for name, value in zip(d.COUNTER_FIELDS, cell, strict=True) if value}
