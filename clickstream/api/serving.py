"""The serving rule and the metric catalog. Pure: items in, points out.

Serving rule (docs/METRICS.md "Serving: batch where closed, speed after"): a window present in
the batch view (its `all` item exists) is CLOSED and shows the batch layer's exact values; any
other window shows the speed layer's counters.
Minute windows are always speed (the batch view keeps hours and days). A ratio takes its
numerator and denominator from the same layer. Engagement metrics (bounce rate, conversion...)
exist in the batch layer only: in an open window their value is null.

Items are DynamoDB items as the readers return them (numbers as Decimal, absent = 0); uniques
are an HLL sketch (`sketch`) in the speed layer and an exact `count` in the batch view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from clickstream.adapters.dynamodb import ENGAGEMENT_PK, UNIQUE_COUNT
from clickstream.api.errors import bad_request
from clickstream.metrics import definitions as d
from clickstream.metrics.sketch import estimate_uniques
from clickstream.metrics.windows import DAY, HOUR, MINUTE, RESOLUTIONS, window_start

Layer = Literal["batch", "speed"]
Key = tuple[str, str]
Items = Mapping[Key, Mapping[str, Any]]
UNIQUES: Final = "__uniques__"  # attribute marker: HLL estimate (speed) or exact count (batch)
DIMENSION: Final = None  # Input.pk marker: the dimension the caller asked for


@dataclass(frozen=True)
class Input:
    pk: str | None  # None: the requested dimension's pk
    attribute: str


@dataclass(frozen=True)
class MetricSpec:
    name: str
    description: str
    numerator: Input
    denominator: Input | None = None
    by_dimension: bool = True  # False: only dimension=all
    resolutions: tuple[str, ...] = RESOLUTIONS
    batch_only: bool = False
    integer: bool = True  # a count (int) or a decimal value (float)

    def pks(self, dimension_pk: str) -> set[str]:
        inputs = [self.numerator] + ([self.denominator] if self.denominator else [])
        return {dimension_pk if i.pk is None else i.pk for i in inputs}


def _counter(name: str, description: str, *, by_dimension: bool = True, integer: bool = True) -> MetricSpec:
    return MetricSpec(name, description, Input(DIMENSION, name), by_dimension=by_dimension, integer=integer)


def _ratio(name: str, description: str, num: Input, den: Input, **kw: Any) -> MetricSpec:
    return MetricSpec(name, description, num, den, integer=False, **kw)


def _engagement(name: str, description: str, num: str, den: str) -> MetricSpec:
    return _ratio(
        name,
        description,
        Input(ENGAGEMENT_PK, num),
        Input(ENGAGEMENT_PK, den),
        by_dimension=False,
        resolutions=(HOUR, DAY),
        batch_only=True,
    )


_CLICKS, _VIEWS = Input(d.pk(d.TYPE, "click"), d.EVENTS), Input(d.pk(d.TYPE, "page_view"), d.EVENTS)
METRICS: Final[dict[str, MetricSpec]] = {
    m.name: m
    for m in (
        _counter(d.EVENTS, "events in the window"),
        _counter(d.ERRORS, "events with http_status >= 400"),
        _counter(d.REVENUE, "sum of price * quantity of purchases", integer=False),
        _counter(d.ORDERS, "distinct orders", by_dimension=False),
        _counter(d.DURATION_MS, "sum of duration_ms of events that carry one"),
        _counter(d.TIMED_EVENTS, "events that carry duration_ms"),
        _ratio("error_rate", "errors / events", Input(DIMENSION, d.ERRORS), Input(DIMENSION, d.EVENTS)),
        _ratio("aov", "revenue / orders", Input(d.ALL, d.REVENUE), Input(d.ALL, d.ORDERS), by_dimension=False),
        _ratio(
            "avg_duration_ms",
            "duration_ms / timed_events",
            Input(DIMENSION, d.DURATION_MS),
            Input(DIMENSION, d.TIMED_EVENTS),
        ),
        _ratio("ctr", "clicks / page views", _CLICKS, _VIEWS, by_dimension=False),
        MetricSpec(
            "users",
            "distinct users (speed: HLL estimate, batch: exact)",
            Input(d.uniques_pk("users"), UNIQUES),
            by_dimension=False,
            resolutions=(HOUR, DAY),
        ),
        MetricSpec(
            "sessions",
            "distinct sessions (speed: HLL estimate, batch: exact)",
            Input(d.uniques_pk("sessions"), UNIQUES),
            by_dimension=False,
            resolutions=(HOUR, DAY),
        ),
        _engagement(
            "bounce_rate", "sessions with exactly one page_view and nothing else / sessions", "bounces", "sessions"
        ),
        _engagement("conversion_rate", "sessions with a purchase / sessions", "converted_sessions", "sessions"),
        _engagement(
            "cart_abandonment_rate",
            "sessions with add_to_cart and no purchase / sessions with add_to_cart",
            "abandoned_sessions",
            "cart_sessions",
        ),
        _engagement(
            "avg_session_duration_ms", "mean session duration (last - first event)", "session_duration_ms", "sessions"
        ),
    )
}


@dataclass(frozen=True)
class Point:
    start: int  # epoch seconds of the window start
    value: float | int | None
    layer: Layer


def metric_spec(name: str, dimension_pk: str, res: str) -> MetricSpec:
    """The metric, checked against the dimension and resolution asked for (400 otherwise)."""
    spec = METRICS.get(name)
    if spec is None:
        raise bad_request(f"unknown metric {name!r}: one of {', '.join(METRICS)}", code="unknown_metric")
    if dimension_pk != d.ALL and not spec.by_dimension:
        raise bad_request(f"metric {name!r} exists for dimension=all only", code="invalid_dimension")
    if res not in spec.resolutions:
        names = {MINUTE: "minute", HOUR: "hour", DAY: "day"}
        allowed = ", ".join(names[r] for r in spec.resolutions)
        raise bad_request(f"metric {name!r} is kept per {allowed}, not per {names[res]}", code="invalid_granularity")
    return spec


def build_series(
    spec: MetricSpec, dimension_pk: str, sks: Iterable[str], speed: Items, batch: Items, closed: set[str]
) -> list[Point]:
    """One point per window: batch values for closed windows, speed values after."""
    points = []
    for sk in sks:
        layer: Layer = "batch" if sk in closed else "speed"
        if layer == "speed" and spec.batch_only:
            points.append(Point(window_start(sk), None, layer))
            continue
        items = batch if layer == "batch" else speed
        points.append(Point(window_start(sk), metric_value(spec, dimension_pk, sk, items, layer), layer))
    return points


def metric_value(spec: MetricSpec, dimension_pk: str, sk: str, items: Items, layer: Layer) -> float | int | None:
    num = _input(spec.numerator, dimension_pk, sk, items, layer)
    if spec.denominator is None:
        return _plain(num, spec.integer)
    den = _input(spec.denominator, dimension_pk, sk, items, layer)
    return round(float(num) / float(den), 6) if den else None


def merged_totals(
    pks: Iterable[str], sks: Iterable[str], speed: Items, batch: Items, closed: set[str]
) -> dict[str, int]:
    """Σ events per pk over windows, each window from its serving layer."""
    sks = list(sks)
    out = {}
    for pk in pks:
        total = 0
        for sk in sks:
            item = (batch if sk in closed else speed).get((pk, sk)) or {}
            total += int(item.get(d.EVENTS, 0))
        out[pk] = total
    return out


def closed_windows(batch_all_items: Iterable[Mapping[str, Any]]) -> set[str]:
    """The sks the batch view closed: those with an `all` item."""
    return {str(item["sk"]) for item in batch_all_items if item.get("pk") == d.ALL}


def _input(inp: Input, dimension_pk: str, sk: str, items: Items, layer: Layer) -> Decimal | float | int:
    pk = dimension_pk if inp.pk is None else inp.pk
    item = items.get((pk, sk)) or {}
    if inp.attribute != UNIQUES:
        value: Decimal | int = item.get(inp.attribute, 0)
        return value
    if layer == "batch":
        return int(item.get(UNIQUE_COUNT, 0))
    blob = item.get("sketch")
    return round(estimate_uniques(bytes(blob) if blob is not None else None).estimate)


def _plain(value: Decimal | float | int, integer: bool) -> float | int:
    return int(value) if integer else round(float(value), 6)
