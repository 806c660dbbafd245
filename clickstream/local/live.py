"""The foreground `clickstream local up`: one short line every few seconds until stopped.

Each line says how many events the platform has counted (the query API's `/v1/stats`, i.e.
what the speed and batch layers served, not what was sent), how fast that grows, and which
services are not healthy. `live_line` is pure; `fetch_total` and `watch` do the I/O.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clickstream.local.stack import LocalStack
    from clickstream.local.stack_status import ServiceStatus

DEFAULT_INTERVAL_S = 10.0
STATS_TIMEOUT_S = 5.0  # /v1/stats reads every day item of a few counters: quick, but not instant
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only


@dataclass(frozen=True)
class Sample:
    at: float  # monotonic seconds
    total: int | None  # events counted (None: the API did not answer)
    note: str = ""  # why there is no total


def live_line(prev: Sample | None, cur: Sample, statuses: Sequence[ServiceStatus], clock: str) -> str:
    """`12:00:10  events counted 1,234 (+200 in 10 s, 20.0/s)  services: 7/7 healthy`."""
    if cur.total is None:
        events = f"events counted: ? ({cur.note})"
    elif prev is None or prev.total is None:
        events = f"events counted {cur.total:,}"
    else:
        gained, seconds = cur.total - prev.total, max(cur.at - prev.at, 1e-9)
        events = f"events counted {cur.total:,} ({gained:+,} in {seconds:.0f} s, {max(gained, 0) / seconds:,.1f}/s)"
    bad = [s for s in statuses if not s.healthy]
    health = f"services: {len(statuses) - len(bad)}/{len(statuses)} healthy"
    if bad:
        health += "; NOT healthy: " + ", ".join(f"{s.name} ({s.detail})" for s in bad)
    return f"{clock}  {events}  {health}"


def api_base(statuses: Sequence[ServiceStatus]) -> str | None:
    """The running query API's base URL (its status URL is the dashboard, key in the fragment)."""
    api = next((s for s in statuses if s.name == "api" and s.running and s.url), None)
    return api.url.split("#", 1)[0].rstrip("/") if api and api.url else None


def fetch_total(base_url: str, read_key: str | None, *, timeout: float = STATS_TIMEOUT_S) -> tuple[int | None, str]:
    """(total events, "") from GET /v1/stats?limit=0, or (None, why not)."""
    request = urllib.request.Request(f"{base_url}/v1/stats?limit=0", headers={"X-API-Key": read_key or ""})
    try:
        with _NO_PROXY.open(request, timeout=timeout) as resp:
            return int(json.loads(resp.read())["total_events"]), ""
    except urllib.error.HTTPError as exc:
        return None, f"GET /v1/stats: HTTP {exc.code}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"GET /v1/stats: {exc.__class__.__name__}"


def sample(stack: LocalStack, statuses: Sequence[ServiceStatus]) -> Sample:
    base = api_base(statuses)
    if base is None:
        return Sample(time.monotonic(), None, "the api service is not running")
    total, note = fetch_total(base, stack.settings.read_key)
    return Sample(time.monotonic(), total, note)


def watch(
    stack: LocalStack,
    *,
    echo: Callable[[str], None],
    interval: float = DEFAULT_INTERVAL_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Print a live line every `interval` seconds, forever (the caller stops it with an exception)."""
    prev: Sample | None = None
    due = time.monotonic()
    while True:
        statuses = stack.status()
        cur = sample(stack, statuses)
        echo(live_line(prev, cur, statuses, time.strftime("%H:%M:%S")))
        prev = cur if cur.total is not None else prev
        due = max(due + interval, time.monotonic())  # on a schedule: checks take time too
        sleep(max(0.0, due - time.monotonic()))
