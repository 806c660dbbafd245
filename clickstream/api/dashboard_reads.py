"""The dashboard summary's reads, kept cheap enough to repeat every 2 s.

A summary needs ~30 keys (`all`, 8 types, the top URLs, products and error statuses) over up
to 169 windows. Reading all of it on every refresh costs ~80 Queries; on DynamoDB that is
fine once but wasteful every 2 s per range, and on the local stack's moto server a Query
scans the whole table (tens of ms each, growing with the table). So `CachedWindows` reads a
key's windows in full (the API's `ServingReader`: Queries, batch values for closed windows)
at most every `FULL_READ_S`, and in between re-reads only the newest `RECENT_WINDOWS` windows
of each key with one BatchGetItem per 100 keys — the windows that still move. A late event
(older window) or a window the batch layer closes shows up at the next full read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from clickstream.adapters.dynamodb import ENGAGEMENT_PK
from clickstream.api import dashboard_summary as ds
from clickstream.api.deps import ApiDeps
from clickstream.api.reader import Windows
from clickstream.constants import EVENT_TYPES
from clickstream.metrics import definitions as d
from clickstream.metrics.windows import HOUR

FULL_READ_S: Final = 30.0
RECENT_WINDOWS: Final = 2  # the current window and the one before (events still arriving late by seconds)
PRODUCT_SCAN_TTL_S: Final = 30.0
PRODUCT_SCAN_MAX_PAGES: Final = 20  # 1 MB each: bounds the fallback scan on a large table

Key = tuple[str, str]


@dataclass
class _Entry:
    read_at: float
    covered: set[str]  # sks the full read covered
    speed: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # sk → item
    batch: dict[str, Mapping[str, Any]] = field(default_factory=dict)


class CachedWindows:
    """`ServingReader.windows` with per-(resolution, pk) caching of all but the newest windows."""

    def __init__(self, deps: ApiDeps, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._deps = deps
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._closed: dict[str, set[str]] = {}  # resolution → windows the batch view closed (last full read)

    def windows(self, pks: Iterable[str], res: str, sks: Sequence[str]) -> Windows:
        pks = sorted(set(pks))
        now = self._clock()
        wanted = set(sks)
        recent = list(sks[-RECENT_WINDOWS:])
        with self._lock:
            stale = [pk for pk in pks if not self._fresh(self._entries.get((res, pk)), now, wanted, recent)]
        if stale:
            full = self._deps.reader.windows(stale, res, sks)
            with self._lock:
                # closure known for the windows this read covered; earlier knowledge kept for the others
                self._closed[res] = (self._closed.get(res, set()) - wanted) | set(full.closed)
                for pk in stale:
                    entry = _Entry(now, set(sks))
                    entry.speed = {sk: item for (p, sk), item in full.speed.items() if p == pk}
                    entry.batch = {sk: item for (p, sk), item in full.batch.items() if p == pk}
                    self._entries[(res, pk)] = entry
        fresh = [pk for pk in pks if pk not in stale]
        if fresh:
            got = self._deps.realtime.get_items([(pk, sk) for pk in fresh for sk in recent])
            with self._lock:
                for pk in fresh:
                    entry = self._entries[(res, pk)]
                    for sk in recent:
                        item = got.get((pk, sk))
                        if item is None:
                            entry.speed.pop(sk, None)
                        else:
                            entry.speed[sk] = item
                    entry.covered.update(recent)
        with self._lock:
            speed: dict[Key, Mapping[str, Any]] = {}
            batch: dict[Key, Mapping[str, Any]] = {}
            for pk in pks:
                entry = self._entries[(res, pk)]
                speed.update({(pk, sk): item for sk, item in entry.speed.items() if sk in wanted})
                batch.update({(pk, sk): item for sk, item in entry.batch.items() if sk in wanted})
            return Windows(speed, batch, self._closed.get(res, set()) & wanted)

    @staticmethod
    def _fresh(entry: _Entry | None, now: float, wanted: set[str], recent: list[str]) -> bool:
        """A key needs no full read when it had one lately that covers every window but the newest."""
        return entry is not None and now - entry.read_at < FULL_READ_S and wanted - entry.covered <= set(recent)


class ProductIndex:
    """Which products to read for the top-products panel.

    The speed layer keeps frequent-items sketches for URLs and statuses only (`TOP_DIMENSIONS`),
    so product ids are found with a Scan of the realtime table's product *day* items (projected
    to pk and events, at most PRODUCT_SCAN_MAX_PAGES pages), cached for PRODUCT_SCAN_TTL_S. Fine
    for the local stack and modest tables; adding `product` to `TOP_DIMENSIONS` replaces it with
    the sketch route (one item per hour), which `DashboardReader` then uses.
    """

    def __init__(self, deps: ApiDeps, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._deps = deps
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: dict[tuple[str, ...], tuple[float, list[str]]] = {}

    def candidates(self, day_sks: Sequence[str]) -> list[str]:
        key = tuple(day_sks)
        now = self._clock()
        with self._lock:
            hit = self._cached.get(key)
            if hit is not None and now - hit[0] < PRODUCT_SCAN_TTL_S:
                return hit[1]
        found = self._scan(day_sks)
        with self._lock:
            self._cached = {key: (now, found)}
        return found

    def _scan(self, day_sks: Sequence[str]) -> list[str]:
        from clickstream.adapters import _clients

        client = _clients.client("dynamodb", self._deps.settings)
        days = {f":d{i}": {"S": sk} for i, sk in enumerate(day_sks)}
        kwargs: dict[str, Any] = {
            "TableName": self._deps.settings.names.realtime_table,
            "FilterExpression": f"begins_with(pk, :p) AND sk IN ({', '.join(days)})",
            "ProjectionExpression": "pk, events",
            "ExpressionAttributeValues": {":p": {"S": f"{d.PRODUCT}#"}, **days},
        }
        weights: dict[str, int] = {}
        for _ in range(PRODUCT_SCAN_MAX_PAGES):
            page = client.scan(**kwargs)
            for item in page.get("Items", []):
                product = item["pk"]["S"][len(d.PRODUCT) + 1 :]
                weights[product] = weights.get(product, 0) + int(item.get("events", {}).get("N", "0"))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [p for p, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[: ds.CANDIDATES]]


class DashboardReader:
    """Reads a range's items in two rounds (sketches say which URLs and statuses to read) and
    summarises them (`dashboard_summary`)."""

    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps
        self.windows = CachedWindows(deps)
        self.products = ProductIndex(deps)

    def summary(self, span: ds.Span) -> dict[str, Any]:
        tops = [d.top_pk(dim) for dim in d.TOP_DIMENSIONS]
        hours = self.windows.windows([d.ALL, ds.SESSIONS_PK, ENGAGEMENT_PK, *tops], HOUR, span.hours)

        def sketch_values(dimension: str) -> list[str]:
            pk = d.top_pk(dimension)
            return ds.candidates((hours.speed.get((pk, sk)) or {}).get("sketch") for sk in span.hours)

        urls = sketch_values(d.URL)
        statuses = ds.error_statuses(sketch_values(d.STATUS))
        if d.PRODUCT in d.TOP_DIMENSIONS:
            products = sketch_values(d.PRODUCT)
        else:
            products = self.products.candidates(sorted({f"d#{sk[2:12]}T00:00:00Z" for sk in span.hours}))
        pks = {d.ALL, *(d.pk(d.TYPE, t) for t in EVENT_TYPES)}
        pks |= {d.pk(d.URL, u) for u in urls} | {d.pk(d.PRODUCT, p) for p in products}
        pks |= {d.pk(d.STATUS, code) for code in statuses}
        win = self.windows.windows(pks, span.res, span.sks)
        return ds.summarize(span, win, hours, urls=urls, products=products, statuses=statuses)
