"""The last N events, for `/v1/stats` and the live stream: read from the newest raw objects.

Why the raw archive: the speed layer keeps counters, not events, and the serving layer may not
change it; the raw archive holds every accepted event within one archiver flush (10 s in the
local stack, 60 s by default). So "recent" means "received in the newest objects": the newest
arrival-hour partitions are listed (`raw/events/dt=…/hour=…/`, newest first), their objects
read newest first (by modification time) until N events are found, at most `MAX_OBJECTS`
objects and `MAX_HOURS` partitions per call. Events are ordered by received_at, newest first.
A result is cached for `ttl` seconds so many live-stream clients cost one read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

import pyarrow.fs as pafs

from clickstream import constants as c
from clickstream.api.lake import read_raw_object

MAX_RECENT: Final = 100  # the largest N a caller may ask for
MAX_OBJECTS: Final = 8
MAX_HOURS: Final = 3
# What a recent event shows (no ip_address or user_agent: the dashboard is not a log viewer).
RECENT_FIELDS: Final = (
    "event_id",
    "event_type",
    "user_id",
    "session_id",
    "timestamp",
    "received_at",
    "url",
    "http_status",
    "product_id",
    "price",
    "quantity",
    "browser",
    "device",
)


class RecentEvents:
    def __init__(
        self, fs: pafs.FileSystem, bucket: str, *, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fs = fs
        self._base = f"{bucket}/{c.RAW_EVENTS_PREFIX}"
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
                self._cached = (now, self._read(MAX_RECENT))
            return self._cached[1][:n]

    def _read(self, n: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        objects = 0
        for hour_dir in self._newest_hours():
            files = [f for f in self._list(hour_dir) if f.type == pafs.FileType.File and f.size]
            files.sort(key=lambda f: (f.mtime_ns or 0, f.path), reverse=True)
            for info in files:
                events.extend(read_raw_object(self._fs, info.path))
                objects += 1
                if len(events) >= n or objects >= MAX_OBJECTS:
                    break
            if len(events) >= n or objects >= MAX_OBJECTS:
                break
        events.sort(key=lambda e: (str(e.get("received_at") or ""), str(e.get("timestamp") or "")), reverse=True)
        return [{k: e.get(k) for k in RECENT_FIELDS} for e in events[:n]]

    def _newest_hours(self) -> list[str]:
        out: list[str] = []
        days = sorted((f.path for f in self._list(self._base) if f.base_name.startswith("dt=")), reverse=True)
        for day in days:
            hours = sorted((f.path for f in self._list(day) if f.base_name.startswith("hour=")), reverse=True)
            out.extend(hours[: MAX_HOURS - len(out)])
            if len(out) >= MAX_HOURS:
                break
        return out

    def _list(self, base: str) -> list[pafs.FileInfo]:
        infos: list[pafs.FileInfo] = self._fs.get_file_info(
            pafs.FileSelector(base, recursive=False, allow_not_found=True)
        )
        return infos
