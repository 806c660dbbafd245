"""What `clickstream realtime` shows: the current minute and hour, read from the realtime table.

Two BatchGetItem calls and one Query per refresh: the fixed keys (all, the 8 event types,
uniques, top-items sketches, freshness), then the statuses and URLs the hour's top-items
sketches name, with their exact counters; and the hour's minute series of `all`. The snapshot
is built from the items by pure functions (`snapshot_keys`, `build_snapshot`); `now` is passed
in, so a test pins it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from clickstream.constants import EVENT_TYPES
from clickstream.metrics import definitions as d
from clickstream.metrics.sketch import RSE, estimate_uniques, top_items
from clickstream.metrics.windows import DAY, HOUR, MINUTE, sk_of

Key = tuple[str, str]
TOP_URLS = 10
MAX_STATUSES = 20


class CountersReader(Protocol):
    def get_items(self, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]: ...

    def query(self, pk: str, sk_prefix: str = "") -> list[dict[str, Any]]: ...


def windows(now: datetime) -> dict[str, str]:
    """Sort keys of the current minute (so far), the previous (complete) minute, hour and day."""
    return {
        "minute": sk_of(MINUTE, now),
        "previous_minute": sk_of(MINUTE, now - timedelta(minutes=1)),
        "hour": sk_of(HOUR, now),
        "day": sk_of(DAY, now),
    }


def snapshot_keys(now: datetime) -> list[Key]:
    """The keys of the first read."""
    w = windows(now)
    keys: list[Key] = [(d.ALL, sk) for sk in w.values()]
    keys += [(d.pk(d.TYPE, t), w[name]) for t in EVENT_TYPES for name in ("minute", "previous_minute", "hour")]
    keys += [(d.uniques_pk(kind), w[name]) for kind in d.UNIQUE_FIELDS for name in ("hour", "day")]
    keys += [(d.top_pk(dim), w["hour"]) for dim in d.TOP_DIMENSIONS]
    keys.append((d.FRESHNESS_PK, d.FRESHNESS_SK))
    return keys


def detail_keys(items: Mapping[Key, Mapping[str, Any]], now: datetime, *, top: int = TOP_URLS) -> list[Key]:
    """The keys of the second read: the hour's statuses and top URLs, as its sketches name them."""
    w = windows(now)
    statuses = _sketch_top(items, d.STATUS, w["hour"], MAX_STATUSES)
    urls = _sketch_top(items, d.URL, w["hour"], top)
    keys = [(d.pk(d.STATUS, s), w[name]) for s in statuses for name in ("minute", "hour")]
    return keys + [(d.pk(d.URL, u), w["hour"]) for u in urls]


def read_snapshot(reader: CountersReader, now: datetime, *, top: int = TOP_URLS) -> dict[str, Any]:
    """Read and build the snapshot for `now` (aware, UTC)."""
    items = reader.get_items(snapshot_keys(now))
    items.update(reader.get_items(detail_keys(items, now, top=top)))
    series = reader.query(d.ALL, f"{MINUTE}#{now.astimezone(UTC):%Y-%m-%dT%H}")
    return build_snapshot(items, series, now, top=top)


def build_snapshot(
    items: Mapping[Key, Mapping[str, Any]], series: Iterable[Mapping[str, Any]], now: datetime, *, top: int = TOP_URLS
) -> dict[str, Any]:
    """The JSON-ready snapshot (numbers as int/float) from the items of both reads."""
    w = windows(now)
    totals = {name: _counts(items.get((d.ALL, sk))) for name, sk in w.items()}
    for counts in totals.values():
        counts["error_rate"] = _ratio(counts["errors"], counts["events"])
        counts["aov"] = _ratio(counts["revenue"], counts["orders"])
    by_type = {
        name: {t: _counts(items.get((d.pk(d.TYPE, t), w[name])))["events"] for t in EVENT_TYPES}
        for name in ("minute", "previous_minute", "hour")
    }
    statuses = []
    for status in _sketch_top(items, d.STATUS, w["hour"], MAX_STATUSES):
        hour = _counts(items.get((d.pk(d.STATUS, status), w["hour"])))
        minute = _counts(items.get((d.pk(d.STATUS, status), w["minute"])))
        statuses.append(
            {
                "status": status,
                "minute_events": minute["events"],
                "hour_events": hour["events"],
                "hour_share": _ratio(hour["events"], totals["hour"]["events"]),
                "error": d.is_error(int(status)) if status.isdigit() else False,
            }
        )
    statuses.sort(key=lambda s: (-s["hour_events"], s["status"]))
    urls = []
    for url in _sketch_top(items, d.URL, w["hour"], top):
        counts = _counts(items.get((d.pk(d.URL, url), w["hour"])))
        urls.append({"url": url, "events": counts["events"], "errors": counts["errors"]})
    urls.sort(key=lambda u: (-u["events"], u["url"]))
    uniques: dict[str, dict[str, dict[str, int]]] = {}
    for kind in d.UNIQUE_FIELDS:
        uniques[kind] = {}
        for name in ("hour", "day"):
            item = items.get((d.uniques_pk(kind), w[name])) or {}
            blob = item.get("sketch")
            est = estimate_uniques(bytes(blob) if blob is not None else None)
            uniques[kind][name] = {"estimate": round(est.estimate), "lower": int(est.lower), "upper": int(est.upper)}
    fresh = items.get((d.FRESHNESS_PK, d.FRESHNESS_SK)) or {}
    newest_event = max((v for k, v in fresh.items() if k.startswith(d.FRESHNESS_EVENT)), default=None)
    newest_arrival = max((int(v) for k, v in fresh.items() if k.startswith(d.FRESHNESS_ARRIVAL)), default=None)
    return {
        "now": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "windows": {name: sk[2:] for name, sk in w.items()},
        "totals": totals,
        "events_by_type": by_type,
        "statuses": statuses[:MAX_STATUSES],
        "top_urls": urls[:top],
        "uniques": uniques,
        "uniques_rse": round(RSE, 4),
        "events_per_minute": {str(i["sk"])[2:]: int(i.get(d.EVENTS, 0)) for i in series},
        "newest_event": newest_event,
        "freshness_seconds": _seconds_since(now, newest_event),
        "lag_seconds": None if newest_arrival is None else round(now.timestamp() - newest_arrival / 1000, 3),
    }


def _sketch_top(items: Mapping[Key, Mapping[str, Any]], dimension: str, sk: str, n: int) -> list[str]:
    item = items.get((d.top_pk(dimension), sk)) or {}
    blob = item.get("sketch")
    return [value for value, _ in top_items(bytes(blob) if blob is not None else None, n)]


def _counts(item: Mapping[str, Any] | None) -> dict[str, Any]:
    item = item or {}
    counts: dict[str, Any] = {f: int(item.get(f, 0)) for f in d.COUNTER_FIELDS if f != d.REVENUE}
    counts[d.REVENUE] = float(item.get(d.REVENUE, 0))
    return counts


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _seconds_since(now: datetime, stamp: str | None) -> float | None:
    if stamp is None:
        return None
    then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return round((now - then).total_seconds(), 3)
