"""GET /v1/stream: server-sent events with live counters and recent events, about every second.

Format (text/event-stream, UTF-8). First a `retry: 2000` line, then one message per tick:

    id: <tick number, from 1>
    event: update
    data: {"now": "2026-11-22T14:03:07Z",
           "counters": <the realtime snapshot: totals.{minute,previous_minute,hour,day}.{events,
                        errors, revenue, orders, error_rate, aov, ...}, events_by_type.{minute,hour},
                        statuses, top_urls, uniques, events_per_minute, freshness_seconds, lag_seconds>,
           "recent_events": [newest first, up to `limit`],
           "new_events": <how many of recent_events were not in the previous tick>}

A tick whose reads fail sends `event: error` with `data: {"error": ..., "message": ...}` and the
stream goes on. Query parameters: `interval` (seconds, 0.5-10, default 1), `limit` (recent
events, 0-50, default 20), `count` (stop after that many ticks; default: until the client
leaves). Browsers send the read key with fetch() streaming (EventSource cannot set headers).

Ticks keep their cadence: a tick starts `interval` seconds after the previous one started (at
once if its reads took longer), not `interval` after it ended. The two reads of a tick, the
counters snapshot (two BatchGetItem and a Query) and the live feed (a GetItem and a
BatchGetItem), run side by side, so a slow snapshot does not hold the feed back by its own time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError
from starlette.concurrency import run_in_threadpool

from clickstream.api.deps import ApiDeps
from clickstream.errors import ClickstreamError

MEDIA_TYPE = "text/event-stream"
RETRY_MS = 2000


async def tick(deps: ApiDeps, limit: int) -> dict[str, Any]:
    """One update: the realtime snapshot (`clickstream.speed.snapshot`) and the newest events, read
    side by side in the thread pool."""
    from clickstream.api.params import format_instant
    from clickstream.speed.snapshot import read_snapshot

    now = deps.clock()
    counters, recent = await asyncio.gather(
        run_in_threadpool(read_snapshot, deps.realtime, now),
        run_in_threadpool(deps.recent.latest, limit),
    )
    return {"now": format_instant(now), "counters": counters, "recent_events": recent}


async def events(
    deps: ApiDeps,
    *,
    interval: float,
    limit: int,
    count: int | None,
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MS}\n\n".encode()
    seen: set[str] = set()
    n = 0
    loop = asyncio.get_running_loop()
    while count is None or n < count:
        n += 1
        started = loop.time()
        try:
            update = await tick(deps, limit)
        except (ClickstreamError, ClientError, BotoCoreError) as exc:
            body = {"error": "unavailable", "message": f"could not read the realtime table: {exc}"}
            yield _message(n, "error", body)
        else:
            ids = {str(e.get("event_id")) for e in update["recent_events"]}
            update["new_events"] = len(ids - seen) if seen else len(ids)
            seen = ids
            yield _message(n, "update", update)
        if count is not None and n >= count:
            break
        await asyncio.sleep(max(0.0, started + interval - loop.time()))
        if await disconnected():
            break


def _message(n: int, event: str, body: dict[str, Any]) -> bytes:
    data = orjson.dumps(body, default=_default, option=orjson.OPT_NON_STR_KEYS)
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (n, event.encode(), data)


def _default(value: Any) -> Any:
    return float(value)  # Decimal
