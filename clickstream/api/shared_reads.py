"""Reads shared between requests for a moment: a read-through cache with single flight.

Dashboards, Grafana panels and the live stream ask the same questions every few seconds, often
at the same moment. Within `ttl` seconds, identical reads of the realtime and batch tables
(same table, partition key and key range) are served from one DynamoDB request: a caller that
asks while the first read is in flight waits for it instead of sending its own. So N clients
polling the same series cost one read per `ttl`, not N — on DynamoDB that is read capacity
saved; on the embedded stack (moto scans every item for a Query) it is most of the latency.

Freshness cost: an answer may be up to `ttl` old (default 1 s, `CLICKSTREAM_API_CACHE_MS`;
0 turns sharing off) — or, while one caller refreshes an expired answer, the others get the
previous one if it is younger than `STALE_FACTOR` times `ttl` instead of waiting (a refresh may take
longer than `ttl` under load; without this most callers would wait for it). A read that fails is
not cached: the next caller tries again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from clickstream.api.reader import BatchSource, SpeedSource
from clickstream.api.serving import Key

T = TypeVar("T")
MAX_ENTRIES = 4096  # past this, expired entries are dropped on the next store
STALE_FACTOR = 5  # during a refresh, others may get an answer up to this many ttls old


class _Flight:
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class SharedCache(Generic[T]):
    """`get(key, load)`: `load()`'s result, shared by every caller of `key` for `ttl` seconds."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, T]] = {}
        self._flights: dict[Hashable, _Flight] = {}
        self.loads = 0  # reads actually sent (tests and benchmarks read it)

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        if self.ttl <= 0:
            return load()
        with self._lock:
            now = self._clock()
            hit = self._values.get(key)
            if hit is not None and now < hit[0]:
                return hit[1]
            flight = self._flights.get(key)
            if flight is not None and hit is not None and now < hit[0] + (STALE_FACTOR - 1) * self.ttl:
                return hit[1]  # someone is refreshing it: the previous answer, without waiting
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self.loads += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value  # type: ignore[no-any-return]
        try:
            flight.value = load()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
                if flight.error is None:
                    self._store(key, flight.value)
            flight.done.set()
        return flight.value  # type: ignore[no-any-return]

    def _store(self, key: Hashable, value: T) -> None:
        now = self._clock()
        if len(self._values) >= MAX_ENTRIES:
            horizon = now - (STALE_FACTOR - 1) * self.ttl
            self._values = {k: v for k, v in self._values.items() if v[0] > horizon}
        self._values[key] = (now + self.ttl, value)


class SharedSpeed:
    """The realtime table's reads (`SpeedSource`) through a `SharedCache`."""

    def __init__(self, inner: SpeedSource, cache: SharedCache[Any]) -> None:
        self._inner, self._cache = inner, cache

    def query(self, pk: str, sk_prefix: str = "") -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._cache.get(
            ("speed", pk, sk_prefix), lambda: self._inner.query(pk, sk_prefix)
        )
        return result

    def get_items(self, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
        return self._inner.get_items(keys)  # point reads are cheap everywhere: not shared


class SharedBatch:
    """The batch view's reads (`BatchSource`) through a `SharedCache`."""

    def __init__(self, inner: BatchSource, cache: SharedCache[Any]) -> None:
        self._inner, self._cache = inner, cache

    def query(self, pk: str, sk_from: str | None = None, sk_to: str | None = None) -> list[dict[str, Any]]:
        key = ("batch", pk, sk_from, sk_to)
        result: list[dict[str, Any]] = self._cache.get(key, lambda: self._inner.query(pk, sk_from, sk_to))
        return result
