"""Query parameters of the API, parsed and bounded. Pure: `now` is passed in.

Instants (`from`, `to`) are RFC 3339 (`2026-11-22T14:00:00Z`, an offset, or no zone = UTC), a
day (`2026-11-22` = its midnight UTC) or epoch seconds. `to` is exclusive. Dimensions are
`<dimension>:<value>` (`type:page_view`, `url:/cart`, `status:404`, `product:sku-42`) or
`all` / absent; URLs go through the same `url_dimension` rule as the counters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from clickstream.api.errors import bad_request
from clickstream.constants import EVENT_TYPES
from clickstream.metrics import definitions as d
from clickstream.metrics.windows import DAY, HOUR, LENGTH_SECONDS, MINUTE, sk_of

GRANULARITIES: Final[dict[str, str]] = {"minute": MINUTE, "hour": HOUR, "day": DAY}
# At most this many points in one series: a minute series covers a day, an hour series ~6 weeks.
MAX_POINTS: Final = 1500
DEFAULT_SPAN: Final[dict[str, timedelta]] = {
    MINUTE: timedelta(hours=1),
    HOUR: timedelta(hours=24),
    DAY: timedelta(days=30),
}
EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)  # older instants are typos (epoch ms as s, ...)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
_DAY_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EPOCH_RE: Final = re.compile(r"^\d{1,12}(\.\d+)?$")


@dataclass(frozen=True)
class TimeRange:
    start: datetime  # inclusive, aware UTC
    end: datetime  # exclusive, aware UTC

    @property
    def days(self) -> list[str]:
        """Every UTC day ("YYYY-MM-DD") the range touches."""
        day = self.start.date()
        last = (self.end - timedelta(microseconds=1)).date()
        out = []
        while day <= last:
            out.append(day.isoformat())
            day += timedelta(days=1)
        return out


def parse_instant(text: str, name: str) -> datetime:
    """An aware UTC datetime, or a 400 that shows the accepted forms."""
    raw = text.strip()
    try:
        if _EPOCH_RE.match(raw):
            moment = datetime.fromtimestamp(float(raw), tz=UTC)
        elif _DAY_RE.match(raw):
            moment = datetime.fromisoformat(raw).replace(tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
            moment = moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise bad_request(
            f"{name}={text!r}: expected RFC 3339 (2026-11-22T14:00:00Z), a day (2026-11-22) or epoch seconds",
            code="invalid_parameter",
        ) from None
    if not EARLIEST <= moment < LATEST:
        raise bad_request(f"{name}={text!r} is outside {EARLIEST:%Y} to {LATEST:%Y}", code="invalid_parameter")
    return moment


def time_range(
    from_: str | None, to: str | None, *, now: datetime, default_span: timedelta, max_span: timedelta
) -> TimeRange:
    """[from, to): `to` defaults to now, `from` to `to - default_span`; at most `max_span` long."""
    end = parse_instant(to, "to") if to else now.astimezone(UTC)
    start = parse_instant(from_, "from") if from_ else end - default_span
    if start >= end:
        raise bad_request(
            f"from ({start:%Y-%m-%dT%H:%M:%SZ}) must be before to ({end:%Y-%m-%dT%H:%M:%SZ})", code="invalid_range"
        )
    if end - start > max_span:
        raise bad_request(
            f"the range is {_human(end - start)}; the limit here is {_human(max_span)}: narrow from/to",
            code="range_too_large",
        )
    return TimeRange(start, end)


def resolution(granularity: str) -> str:
    try:
        return GRANULARITIES[granularity]
    except KeyError:
        raise bad_request(
            f"granularity={granularity!r}: expected one of {', '.join(GRANULARITIES)}", code="invalid_parameter"
        ) from None


def series_range(from_: str | None, to: str | None, res: str, *, now: datetime) -> TimeRange:
    """The range of a time series at resolution `res`: at most MAX_POINTS windows."""
    span = timedelta(seconds=LENGTH_SECONDS[res] * MAX_POINTS)
    return time_range(from_, to, now=now, default_span=DEFAULT_SPAN[res], max_span=span)


def window_sks(res: str, span: TimeRange) -> list[str]:
    """Sort keys of the `res` windows overlapping [start, end), oldest first."""
    step = timedelta(seconds=LENGTH_SECONDS[res])
    first = datetime.strptime(sk_of(res, span.start)[2:], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    out = []
    moment = first
    while moment < span.end:
        out.append(sk_of(res, moment))
        moment += step
    return out


def dimension_pk(dimension: str | None) -> str:
    """`type:page_view` → `type#page_view`; None/"" /"all" → `all`; 400 for anything else."""
    if dimension is None or dimension.strip() in ("", d.ALL):
        return d.ALL
    name, sep, value = dimension.partition(":")
    name = name.strip()
    if not sep or name not in d.DIMENSIONS or not value:
        raise bad_request(
            f"dimension={dimension!r}: expected all or <dimension>:<value> with dimension one of "
            f"{', '.join(d.DIMENSIONS)} (e.g. type:page_view, url:/cart, status:404)",
            code="invalid_dimension",
        )
    if name == d.TYPE and value not in EVENT_TYPES:
        raise bad_request(f"unknown event type {value!r}: one of {', '.join(EVENT_TYPES)}", code="invalid_dimension")
    if name == d.STATUS and not (value.isdigit() and 100 <= int(value) <= 599):
        raise bad_request(f"status {value!r}: expected an HTTP status 100-599", code="invalid_dimension")
    if name == d.URL:
        value = d.url_dimension(value)
    elif name == d.PRODUCT:
        value = d.dimension_value(value)
    return d.pk(name, int(value) if name == d.STATUS else value)


def page_path(page: str) -> str:
    """The URL dimension of a page given in a path parameter (a leading slash is added)."""
    page = page if page.startswith("/") else "/" + page
    return d.url_dimension(page)


def event_types(values: Iterable[str]) -> list[str]:
    """Event types given repeated or comma-separated (`click,purchase`), each one of EVENT_TYPES."""
    types = [t.strip() for value in values for t in value.split(",") if t.strip()]
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise bad_request(f"event_type {unknown[0]!r}: one of {', '.join(EVENT_TYPES)}", code="invalid_parameter")
    return types


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} days"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours"
    return f"{seconds} seconds"
