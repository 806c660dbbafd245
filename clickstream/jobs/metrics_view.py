"""Batch metric results (Arrow) → the batch view's DynamoDB items. Pure: no I/O, no clock.

The items mirror the realtime table (`clickstream.metrics.definitions`, `windows`) for hour and
day windows, so the serving layer reads a closed window from the batch table with the same keys
and attribute names it reads from the realtime table (see `clickstream.adapters.dynamodb.batch_view`):

- counters (`sql/metrics/counters.sql`): pk `all` / `type#…` / `url#…` / `status#…` / `product#…`,
  zero counters left out as the speed layer's ADD leaves them out; every hour and day of the
  computed interval has an `all` item with `events` (0 included): its presence marks the window closed;
- uniques (`uniques.sql`): pk `uniq#users` / `uniq#sessions` with the exact `count`
  (sessions: distinct session_id, the speed layer's definition; `count_with_inferred` adds the
  gap-sessionized sessions of events without one);
- engagement (`sql/batch_view/engagement.sql` over `metric_sessions`): pk `engagement#all`, per
  hour of the sessions' first event, and per day as the sum of its hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

import pyarrow as pa

from clickstream.metrics import definitions as d

ENGAGEMENT_PK: Final = "engagement#all"  # = clickstream.adapters.dynamodb.batch_view.ENGAGEMENT_PK
UNIQUE_COUNT: Final = "count"
FUNNEL_STEPS: Final[tuple[str, ...]] = ("page_view", "add_to_cart", "checkout", "purchase")
ENGAGEMENT_FIELDS: Final[tuple[str, ...]] = (
    "sessions",
    "bounces",
    "session_duration_ms",
    "page_views",
    "clicks",
    "converted_sessions",
    "cart_sessions",
    "abandoned_sessions",
    "revenue",
    *(f"funnel_{step}" for step in FUNNEL_STEPS),
)

Item = dict[str, Any]


def days(start: date, end: date) -> list[date]:
    """Every day of [start, end] (inclusive)."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def day_sk(day: date) -> str:
    return f"d#{day.isoformat()}T00:00:00Z"


def hour_sk(day: date, hour: int) -> str:
    return f"h#{day.isoformat()}T{hour:02d}:00:00Z"


def window_sks(start: date, end: date) -> list[str]:
    """The day and hour sort keys of [start, end]: what one run of the batch job closes."""
    out: list[str] = []
    for day in days(start, end):
        out.append(day_sk(day))
        out.extend(hour_sk(day, h) for h in range(24))
    return out


def counter_items(counters: pa.Table, start: date, end: date) -> list[Item]:
    """Counter items from `counters.sql` rows, plus an `all` item for every window of [start, end]."""
    items: list[Item] = []
    seen_all: set[str] = set()
    for row in _rows(counters):
        item: Item = {"pk": row["pk"], "sk": row["sk"]}
        for field in d.COUNTER_FIELDS:
            value = row[field]
            if value:
                item[field] = value
        if row["pk"] == d.ALL:
            item.setdefault(d.EVENTS, 0)
            seen_all.add(row["sk"])
        items.append(item)
    items.extend({"pk": d.ALL, "sk": sk, d.EVENTS: 0} for sk in window_sks(start, end) if sk not in seen_all)
    return items


def unique_items(uniques: pa.Table) -> list[Item]:
    """`uniq#users` / `uniq#sessions` items with exact counts, from `uniques.sql` rows."""
    items: list[Item] = []
    for row in _rows(uniques):
        items.append({"pk": d.uniques_pk("users"), "sk": row["sk"], UNIQUE_COUNT: row["users"]})
        items.append(
            {
                "pk": d.uniques_pk("sessions"),
                "sk": row["sk"],
                UNIQUE_COUNT: row["sessions"],
                "count_with_inferred": row["sessions_with_inferred"],
            }
        )
    return items


def engagement_items(windows: pa.Table) -> list[Item]:
    """`engagement#all` items per hour of the sessions' first event and per day (the sum of its
    hours), from the rows of `sql/batch_view/engagement.sql`: one row per (dt, start_hour)."""
    items: dict[str, Item] = {}
    for row in _rows(windows):
        day = date.fromisoformat(row["dt"])
        for sk in (day_sk(day), hour_sk(day, int(row["start_hour"]))):
            item = items.get(sk)
            if item is None:
                item = items[sk] = {"pk": ENGAGEMENT_PK, "sk": sk, **{f: 0 for f in ENGAGEMENT_FIELDS}}
                item["revenue"] = Decimal(0)
            for f in ENGAGEMENT_FIELDS:
                item[f] += row[f] or 0
    return [items[sk] for sk in sorted(items)]


VIEW_INPUTS: Final[tuple[str, ...]] = ("counters", "uniques", "engagement")


def view_items(inputs: dict[str, pa.Table], start: date, end: date) -> list[Item]:
    """Every batch-view item of one run, from the rows the job fetches (`VIEW_INPUTS`, those
    present): `metric_counters` and `metric_uniques` of the run's days, and the engagement
    windows (`sql/batch_view/engagement.sql`)."""
    items: list[Item] = []
    if "counters" in inputs:
        items.extend(counter_items(inputs["counters"], start, end))
    if "uniques" in inputs:
        items.extend(unique_items(inputs["uniques"]))
    if "engagement" in inputs:
        items.extend(engagement_items(inputs["engagement"]))
    return items


def _rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    for batch in table.to_batches():
        yield from batch.to_pylist()


def by_day(table: pa.Table, start: date, end: date) -> Iterable[tuple[str, pa.Table]]:
    """(dt, rows of that dt without the dt column) for every day of [start, end] (empty tables too)."""
    import pyarrow.compute as pc

    rest = table.drop_columns(["dt"])
    for day in days(start, end):
        dt = day.isoformat()
        yield dt, rest.filter(pc.equal(table["dt"], dt))
