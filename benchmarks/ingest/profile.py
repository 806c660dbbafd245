"""Where the time goes: the null-sink batched path (`CollectorService.handle`) in-process, under cProfile.

First the same loop runs without the profiler, for the per-core ceiling of the collector's
own code with no HTTP at all; then under cProfile for the top functions. cProfile slows
call-heavy code, so its seconds are for ranking, the un-profiled rate is the figure.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from clickstream.adapters.streams import NullWriter
from clickstream.collector.service import CollectorService
from clickstream.constants import LOCAL_WRITE_KEY
from clickstream.settings import Settings

HEADERS = {"x-write-key": LOCAL_WRITE_KEY, "content-type": "application/json"}
_REPO = str(Path(__file__).resolve().parents[2]) + "/"


class _DropBadRows:
    """Bad rows are not expected from the fixtures; counted, so a surprise shows in the report."""

    def __init__(self) -> None:
        self.rows = 0

    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> str | None:
        self.rows += len(rows)
        return None


def _loop(service: CollectorService, bodies: Sequence[bytes], seconds: float) -> tuple[int, float]:
    """Handle bodies round-robin for about `seconds`; (events accepted, elapsed seconds)."""
    events = 0
    i = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        response = service.handle("/v1/events", HEADERS, bodies[i % len(bodies)])
        if response.status != 200:
            raise RuntimeError(f"the in-process collector answered {response.status}: {response.body}")
        events += int(response.body["accepted"])
        i += 1
    return events, time.perf_counter() - start


def short_name(key: tuple[str, int, str]) -> str:
    """`path:line(function)` with the repo and site-packages prefixes cut off."""
    filename, line, func = key
    if filename == "~":  # C builtins
        return func
    for marker in (_REPO, "site-packages/", "/lib/python3."):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == "/lib/python3.":
                filename = "stdlib/" + filename.split("/", 1)[-1]
            break
    return f"{filename}:{line}({func})"


def top_functions(stats: pstats.Stats, *, by: str, limit: int) -> list[dict[str, Any]]:
    """The `limit` functions with the most cumulative (`by="cum"`) or own (`by="self"`) time."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    index = 3 if by == "cum" else 2
    rows = sorted(raw.items(), key=lambda kv: kv[1][index], reverse=True)[:limit]
    return [
        {"function": short_name(key), "calls": nc, "self_s": round(tt, 4), "cumulative_s": round(ct, 4)}
        for key, (_cc, nc, tt, ct, _callers) in rows
    ]


def self_time_by_file(stats: pstats.Stats, *, limit: int) -> list[dict[str, Any]]:
    """Own time summed per source file (C builtins under their own names): which module costs what."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for key, (_cc, _nc, tt, _ct, _callers) in raw.items():
        name = short_name(key).split(":", 1)[0] if key[0] != "~" else f"builtin {key[2]}"
        totals[name] = totals.get(name, 0.0) + tt
    everything = sum(totals.values()) or 1.0
    rows = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:limit]
    return [{"where": k, "self_s": round(v, 4), "share": round(v / everything, 3)} for k, v in rows]


def profile_batched(bodies: Sequence[bytes], *, seconds: float, limit: int = 15) -> dict[str, Any]:
    """Un-profiled in-process events/s (one core, no HTTP) and the cProfile top functions."""
    bad = _DropBadRows()
    service = CollectorService(Settings(), NullWriter(), bad)
    _loop(service, bodies, min(0.5, seconds / 4))  # warm caches (user-agent parser, imports)
    cpu_start = time.process_time()
    events, elapsed = _loop(service, bodies, seconds / 2)
    cpu = time.process_time() - cpu_start
    profiler = cProfile.Profile()
    profiler.enable()
    p_events, p_elapsed = _loop(service, bodies, seconds / 2)
    profiler.disable()
    stats = pstats.Stats(profiler)
    return {
        "in_process_events_per_s": events / elapsed if elapsed else 0.0,
        "in_process_cpu_us_per_event": 1e6 * cpu / events if events else None,
        "in_process_cpu_share": cpu / elapsed if elapsed else None,  # < 1: the box was busy elsewhere
        "profiled_seconds": p_elapsed,
        "profiled_events": p_events,
        "bad_rows": bad.rows,
        "top_cumulative": top_functions(stats, by="cum", limit=limit),
        "top_self": top_functions(stats, by="self", limit=limit),
        "self_by_file": self_time_by_file(stats, limit=12),
    }
