"""The last N events, for `/v1/stats` and the live stream: the speed layer's per-shard feed.

The speed layer keeps each shard's newest accepted events in the realtime table
(`clickstream.metrics.recent`, `adapters.dynamodb.recent_feed`), so an event is here as soon as its batch
is applied — not after the raw archive's next buffer flush. Reading costs two point reads; a
result is still cached for `ttl` seconds so many live-stream clients cost one read per tick.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

from clickstream.metrics import recent

MAX_RECENT: Final = recent.PER_SHARD  # the largest N a caller may ask for (one shard holds this many)
RECENT_FIELDS: Final = recent.FIELDS


class FeedReader(Protocol):
    def newest(self, n: int) -> list[dict[str, Any]]: ...


class RecentEvents:
    def __init__(self, feed: FeedReader, *, ttl: float = 0.25, clock: Callable[[], float] = time.monotonic) -> None:
        self._feed = feed
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[dict[str, Any]]] | None = None

    def latest(self, n: int) -> list[dict[str, Any]]:
        """Up to `n` (≤ MAX_RECENT) most recently received events, newest first."""
        n = max(0, min(n, MAX_RECENT))
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] >= self._ttl:
                self._cached = (now, self._feed.newest(MAX_RECENT))
            return self._cached[1][:n]
