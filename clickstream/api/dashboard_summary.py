"""The live dashboard's figures for one time range, from serving-rule items. Pure: items in, JSON out.

`GET /v1/dashboard/summary?range=15m|1h|24h|7d` (`clickstream.api.dashboard`) reads the items
with the API's `ServingReader` and hands them here. One response holds every panel, so the page
makes one request per refresh and every panel shows the same instant.

Serving rule (as `/v1/metrics`): a window the batch view closed shows batch values, any other
the speed layer's. Ranges up to an hour use minute windows (speed only: the batch view keeps
hours and days), longer ones hour windows. Each figure says which layer served it: `batch`,
`speed` or `batch+speed`.

Figures the speed layer cannot compute exactly are labelled, never silently mixed:
- sessions: exact in closed hours (the batch view's `engagement#all` sessions, counted in the
  hour of their first event, so they add up); in open hours a union of the speed layer's HLL
  sketches (≈, 1.6 % standard error). Sketches exist per hour, so a minute range counts the
  sessions of the hours it overlaps.
- conversion (sessions with a purchase ÷ sessions): closed hours from the batch view; open hours
  use distinct orders as the numerator (≈: a session with two orders counts twice).
- funnel: sessions reaching each step when the batch view closed every hour of the range,
  otherwise events of each step type (`basis` says which).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from clickstream.adapters.dynamodb import ENGAGEMENT_PK
from clickstream.api import params
from clickstream.api.errors import bad_request
from clickstream.api.reader import Windows
from clickstream.constants import EVENT_TYPES
from clickstream.metrics import definitions as d
from clickstream.metrics.sketch import estimate_uniques, merge_uniques, top_items
from clickstream.metrics.windows import HOUR, MINUTE, window_end, window_start

RANGES: Final[dict[str, tuple[timedelta, str]]] = {
    "15m": (timedelta(minutes=15), MINUTE),
    "1h": (timedelta(hours=1), MINUTE),
    "24h": (timedelta(hours=24), HOUR),
    "7d": (timedelta(days=7), HOUR),
}
DEFAULT_RANGE: Final = "1h"
FUNNEL_STEPS: Final = ("page_view", "add_to_cart", "checkout", "purchase")
TOP_N: Final = 8  # rows of the top URLs / products tables
CANDIDATES: Final = 12  # candidates (from sketches) whose exact counts are read
MAX_STATUSES: Final = 6  # lines of the error-rate chart
SESSIONS_PK: Final = d.uniques_pk("sessions")
GRANULARITY_NAMES: Final = {MINUTE: "minute", HOUR: "hour"}


@dataclass(frozen=True)
class Span:
    name: str
    res: str  # resolution of the range's windows (minute or hour)
    start: datetime  # the first window's start
    end: datetime  # now (exclusive)
    sks: tuple[str, ...]  # windows at `res`, oldest first
    hours: tuple[str, ...]  # hour windows overlapping the range (sessions, conversion, top sketches)


def span_of(name: str, now: datetime) -> Span:
    """The windows of range `name` ending at `now`; 400 for an unknown range."""
    if name not in RANGES:
        raise bad_request(f"range={name!r}: one of {', '.join(RANGES)}", code="invalid_parameter")
    length, res = RANGES[name]
    raw = params.TimeRange(now - length, now)
    sks = params.window_sks(res, raw)
    hours = sks if res == HOUR else params.window_sks(HOUR, raw)
    start = datetime.fromtimestamp(window_start(sks[0]), UTC)
    return Span(name, res, start, now, tuple(sks), tuple(hours))


def candidates(blobs: Iterable[Any], n: int = CANDIDATES) -> list[str]:
    """The values most frequent across frequent-items sketches (one per hour; bytes, DynamoDB
    Binary or None), largest first."""
    weights: dict[str, int] = {}
    for blob in blobs:
        for value, count in top_items(bytes(blob) if blob is not None else None, n):
            weights[value] = weights.get(value, 0) + count
    return [v for v, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def error_statuses(values: Iterable[str]) -> list[int]:
    """HTTP statuses ≥ 400 among sketch values (text), in the order given, once each."""
    out: list[int] = []
    for value in values:
        if value.isdigit() and d.is_error(int(value)) and int(value) not in out:
            out.append(int(value))
    return out


def summarize(
    span: Span, win: Windows, hours: Windows, *, urls: Sequence[str], products: Sequence[str], statuses: Sequence[int]
) -> dict[str, Any]:
    """Every panel of the dashboard. `win`: items at the range's resolution (pks all, type#…, url#…,
    product#…, status#…); `hours`: hour items of `all`, `uniq#sessions`, `engagement#all`."""
    sks = span.sks
    layer = layer_of(win, sks)
    events = total(win, d.ALL, d.EVENTS, sks)
    errors = total(win, d.ALL, d.ERRORS, sks)
    sessions, sessions_exact = session_count(hours, span.hours)
    converted = total_closed(hours, ENGAGEMENT_PK, "converted_sessions", span.hours) + total_open(
        hours, d.ALL, d.ORDERS, span.hours
    )
    hours_layer = layer_of(hours, span.hours)
    cards = {
        "events": {"value": int(events), "layer": layer},
        "page_views": {"value": int(total(win, d.pk(d.TYPE, "page_view"), d.EVENTS, sks)), "layer": layer},
        "sessions": {
            "value": sessions,
            "layer": hours_layer,
            "approximate": not sessions_exact,
            "note": _hours_note(span, "HLL estimate" if not sessions_exact else "exact"),
        },
        "conversion": {
            "value": _ratio(converted, sessions),
            "layer": hours_layer,
            "approximate": not sessions_exact,
            "note": _hours_note(span, "sessions with a purchase" if sessions_exact else "≈ orders ÷ sessions"),
        },
        "error_rate": {"value": _ratio(errors, events), "layer": layer},
        "revenue": {"value": _money(total(win, d.ALL, d.REVENUE, sks)), "layer": layer},
    }
    return {
        "range": span.name,
        "from": params.format_instant(span.start),
        "to": params.format_instant(span.end),
        "granularity": GRANULARITY_NAMES[span.res],
        "cards": cards,
        "event_types": [
            {"type": t, "events": int(total(win, d.pk(d.TYPE, t), d.EVENTS, sks)), "layer": layer} for t in EVENT_TYPES
        ],
        "funnel": funnel(span, win, hours),
        "errors": error_series(span, win, statuses),
        "top_urls": _top(
            [
                {
                    "url": u,
                    "events": int(total(win, d.pk(d.URL, u), d.EVENTS, sks)),
                    "errors": int(total(win, d.pk(d.URL, u), d.ERRORS, sks)),
                }
                for u in urls
            ]
        ),
        "top_products": _top(
            [
                {
                    "product": p,
                    "events": int(total(win, d.pk(d.PRODUCT, p), d.EVENTS, sks)),
                    "revenue": _money(total(win, d.pk(d.PRODUCT, p), d.REVENUE, sks)),
                }
                for p in products
            ]
        ),
        "layers": {
            "windows": len(sks),
            "batch_windows": len(win.closed & set(sks)),
            "batch_until": _batch_until(win.closed & set(sks)) or _batch_until(hours.closed & set(span.hours)),
        },
    }


def funnel(span: Span, win: Windows, hours: Windows) -> dict[str, Any]:
    if span.hours and set(span.hours) <= hours.closed:
        steps = [int(total_closed(hours, ENGAGEMENT_PK, f"funnel_{s}", span.hours)) for s in FUNNEL_STEPS]
        basis, layer = "sessions", "batch"
    else:
        steps = [int(total(win, d.pk(d.TYPE, s), d.EVENTS, span.sks)) for s in FUNNEL_STEPS]
        basis, layer = "events", layer_of(win, span.sks)
    return {
        "basis": basis,
        "layer": layer,
        "steps": [{"step": s, "value": n} for s, n in zip(FUNNEL_STEPS, steps, strict=True)],
    }


def error_series(span: Span, win: Windows, statuses: Sequence[int]) -> dict[str, Any]:
    """Per window: all events, and errors of each status (the page divides: rate = errors / events)."""
    by_status: dict[str, list[int]] = {}
    for code in statuses:
        values = [int(value(win, d.pk(d.STATUS, code), d.EVENTS, sk)) for sk in span.sks]
        if any(values):
            by_status[str(code)] = values
    ranked = sorted(by_status.items(), key=lambda kv: (-sum(kv[1]), kv[0]))[:MAX_STATUSES]
    return {
        "granularity": GRANULARITY_NAMES[span.res],
        "times": [window_start(sk) for sk in span.sks],
        "events": [int(value(win, d.ALL, d.EVENTS, sk)) for sk in span.sks],
        "statuses": [{"status": code, "errors": values} for code, values in ranked],
        "layer": layer_of(win, span.sks),
    }


# --- the serving rule over items ---------------------------------------------------------------


def value(win: Windows, pk: str, attribute: str, sk: str) -> Decimal:
    items = win.batch if sk in win.closed else win.speed
    return Decimal((items.get((pk, sk)) or {}).get(attribute, 0))


def total(win: Windows, pk: str, attribute: str, sks: Iterable[str]) -> Decimal:
    return sum((value(win, pk, attribute, sk) for sk in sks), Decimal(0))


def total_closed(win: Windows, pk: str, attribute: str, sks: Iterable[str]) -> Decimal:
    return sum((value(win, pk, attribute, sk) for sk in sks if sk in win.closed), Decimal(0))


def total_open(win: Windows, pk: str, attribute: str, sks: Iterable[str]) -> Decimal:
    return sum((value(win, pk, attribute, sk) for sk in sks if sk not in win.closed), Decimal(0))


def layer_of(win: Windows, sks: Sequence[str]) -> str:
    closed = sum(1 for sk in sks if sk in win.closed)
    return "batch" if sks and closed == len(sks) else "speed" if not closed else "batch+speed"


def session_count(hours: Windows, sks: Sequence[str]) -> tuple[int, bool]:
    """Sessions over hour windows: exact batch counts of closed hours + an HLL union of open hours."""
    exact = int(total_closed(hours, ENGAGEMENT_PK, "sessions", sks))
    union: bytes | None = None
    open_sks = [sk for sk in sks if sk not in hours.closed]
    for sk in open_sks:
        blob = (hours.speed.get((SESSIONS_PK, sk)) or {}).get("sketch")
        if blob is not None:
            union = merge_sketches(union, bytes(blob))
    return exact + round(estimate_uniques(union).estimate), not open_sks


def merge_sketches(acc: bytes | None, blob: bytes) -> bytes:
    from datasketches import hll_sketch

    return merge_uniques(acc, hll_sketch.deserialize(blob))


def _top(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [r for r in rows if r["events"]]
    rows.sort(key=lambda r: (-r["events"], str(r.get("url") or r.get("product"))))
    return rows[:TOP_N]


def _ratio(num: Decimal | int, den: Decimal | int) -> float | None:
    return round(float(num) / float(den), 6) if den else None


def _money(amount: Decimal) -> float:
    return round(float(amount), 6)


def _batch_until(closed: set[str]) -> str | None:
    if not closed:
        return None
    return params.format_instant(datetime.fromtimestamp(max(window_end(sk) for sk in closed), UTC))


def _hours_note(span: Span, what: str) -> str:
    return f"{what}, hours overlapping the range" if span.res == MINUTE else what
