"""The metric definitions both layers share (docs/METRICS.md "Counters"; keys: docs/ARCHITECTURE.md "DynamoDB").

Realtime-table keys: pk = `<dimension>#<value>` (or `all`), sk = `<m|h|d>#<window start>` (see
`windows`). Every counter item holds the same additive counters; ratios are derived at read
time (error rate = errors / events, AOV = revenue / orders, mean duration = duration_ms /
timed_events), never stored, so they stay correct under addition.

The batch layer must group by exactly the same keys: `url_dimension` and `is_error` state the
rules in Python and, in their docstrings, in Athena SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

# --- Counter attributes (all additive: DynamoDB ADD) ---------------------------------------
EVENTS: Final = "events"  # events in the window
ERRORS: Final = "errors"  # events with http_status >= ERROR_STATUS_MIN
REVENUE: Final = "revenue"  # Σ price * quantity of purchase events (exact decimal)
ORDERS: Final = "orders"  # distinct order_id of purchases in the window (pk `all` only; see ORDER_PK)
DURATION_MS: Final = "duration_ms"  # Σ duration_ms of events that carry one
TIMED_EVENTS: Final = "timed_events"  # events that carry duration_ms (mean = DURATION_MS / TIMED_EVENTS)
COUNTER_FIELDS: Final[tuple[str, ...]] = (EVENTS, ERRORS, REVENUE, ORDERS, DURATION_MS, TIMED_EVENTS)

ERROR_STATUS_MIN: Final = 400
PURCHASE: Final = "purchase"
# Revenue is kept to the millionth (a price's own decimals survive) and one event's revenue is
# bounded: DynamoDB numbers hold 38 significant digits, and an ADD beyond them fails on every
# retry, which would wedge a shard. The speed layer rejects larger values as out_of_range.
REVENUE_QUANTUM: Final = Decimal("0.000001")
MAX_EVENT_REVENUE: Final = Decimal(10) ** 12

# --- Dimensions: pk = f"{dimension}#{value}" ---------------------------------------------
ALL: Final = "all"  # every valid event
TYPE: Final = "type"  # event_type
URL: Final = "url"  # url_dimension(url); events without a url have no url item
STATUS: Final = "status"  # http_status (always present: default 200)
PRODUCT: Final = "product"  # product_id; events without one have no product item
DIMENSIONS: Final[tuple[str, ...]] = (TYPE, URL, STATUS, PRODUCT)
# A dimension value is cut to this many characters: keeps pk under DynamoDB's 2048-byte key
# limit (4 bytes per character at worst) and one window's items bounded.
MAX_DIMENSION_CHARS: Final = 256

# --- Other item families in the realtime table ---------------------------------------------
UNIQUES_PREFIX: Final = "uniq"  # pk uniq#users / uniq#sessions: an HLL sketch per window
UNIQUE_FIELDS: Final[dict[str, str]] = {"users": "user_id", "sessions": "session_id"}
UNIQUE_RESOLUTIONS: Final[tuple[str, ...]] = ("h", "d")
TOP_PREFIX: Final = "top"  # pk top#url / top#status: a frequent-items sketch per window (read-side index)
TOP_DIMENSIONS: Final[tuple[str, ...]] = (URL, STATUS)
TOP_RESOLUTIONS: Final[tuple[str, ...]] = ("h",)
BAD_PREFIX: Final = "bad"  # pk bad#<reason>: rejected records per *arrival* window (bad rows hold them)
DUPLICATES_PK: Final = "dup#event_id"  # producer duplicates dropped by the speed layer, per arrival window
ORDER_PK_PREFIX: Final = "order"  # pk order#<order_id>, sk = window: the claim that counts an order once
FRESHNESS_PK: Final = "meta#freshness"  # per shard: newest event time and arrival time applied
FRESHNESS_SK: Final = "latest"
FRESHNESS_ARRIVAL: Final = "arrival#"  # + shard: newest arrival time applied (epoch ms)
FRESHNESS_EVENT: Final = "event#"  # + shard: newest event time applied (ISO 8601)
RECENT_PK: Final = "meta#recent"  # sk = shard: that shard's newest accepted events (the live feed)


COUNTER_PREFIXES: Final[tuple[str, ...]] = (*(f"{x}#" for x in DIMENSIONS), f"{BAD_PREFIX}#", DUPLICATES_PK)


def is_counter_pk(pk: str) -> bool:
    """A key of the additive counters (`all`, a dimension, `bad#…`, `dup#…`), not a sketch, claim or meta item."""
    return pk == ALL or pk.startswith(COUNTER_PREFIXES)


def pk(dimension: str, value: object) -> str:
    """`type#page_view`, `url#/cart`, `status#404`, `product#p123`."""
    return f"{dimension}#{value}"


# url_dimension in Athena SQL: sql/metrics/*.sql and the API's statements use this text.
URL_DIMENSION_SQL: Final = "substr(split_part(split_part(url, '?', 1), '#', 1), 1, 256)"


def url_dimension(url: str) -> str:
    """The URL a counter is kept for: the path without query string or fragment, at most 256 characters.

    Why: `/search?q=…` would otherwise make one item per query, unbounded per window.
    Athena: URL_DIMENSION_SQL.
    """
    cut = len(url)
    for mark in ("?", "#"):
        at = url.find(mark)
        if 0 <= at < cut:
            cut = at
    return url[: min(cut, MAX_DIMENSION_CHARS)]


def dimension_value(value: str) -> str:
    """A free-text dimension value (product_id) bounded like URLs."""
    return value[:MAX_DIMENSION_CHARS]


def is_error(http_status: int) -> bool:
    """An error event. Athena: `http_status >= 400`."""
    return http_status >= ERROR_STATUS_MIN


def revenue_of(event: Mapping[str, Any]) -> Decimal | None:
    """price * quantity of a purchase (quantity defaults to 1) to the millionth; 0 otherwise;
    None when it exceeds MAX_EVENT_REVENUE (the speed layer rejects such an event).

    Decimal(repr(price)) keeps the price the client sent (19.99, not 19.989999...), so sums are
    exact and equal a recomputation with the same rule. Athena: `round(price * quantity, 6)`
    summed as DECIMAL(38, 6).
    """
    price = event.get("price")
    if event.get("event_type") != PURCHASE or price is None:
        return _ZERO
    quantity = event.get("quantity") or 1
    revenue = Decimal(repr(float(price))) * quantity
    if revenue > MAX_EVENT_REVENUE:
        return None
    return revenue.quantize(REVENUE_QUANTUM)


_ZERO = Decimal(0)


def bad_pk(reason: str) -> str:
    return f"{BAD_PREFIX}#{reason}"


def order_pk(order_id: str) -> str:
    return f"{ORDER_PK_PREFIX}#{order_id}"


def uniques_pk(kind: str) -> str:
    return f"{UNIQUES_PREFIX}#{kind}"


def top_pk(dimension: str) -> str:
    return f"{TOP_PREFIX}#{dimension}"
