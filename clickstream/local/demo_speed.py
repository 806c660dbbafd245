"""The demo's speed-layer part: freshness under load, the real-time counters, and their check.

- Freshness (ingest → counter visible): while the simulator sends, a probe notes a moment A
  every half second and waits until every shard's newest applied arrival time (the handler's
  `meta#freshness` item, written after a batch's counters) has reached A. From then on, any
  event the collector accepted at A is in the counters, so the wait is that event's freshness.
  No marker events: the run's totals stay exactly what the simulator sent.
- The check: the counters of every day window in DynamoDB (events by type, by status; events,
  errors and revenue of `all`) against a recomputation from the raw archive's Kinesis objects,
  written here from the event contract alone (a Counter over the decoded lines, producer
  duplicates dropped by event_id as the speed layer does), not with `clickstream.metrics`.
  The consumer runs while the traffic flows; the check waits until the two agree (or times out).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clickstream import constants as c
from clickstream.metrics import definitions as d
from clickstream.settings import Settings

PROBE_EVERY_SECONDS = 0.5
PROBE_POLL_SECONDS = 0.05
MILLIONTH = Decimal("0.000001")


class FreshnessProbe:
    """Samples ingest → visible latency in a background thread while traffic flows.

    A sample taken at t resolves when every shard has applied a record that arrived after t. So
    sampling starts only once every shard has applied a record that arrived after the probe
    started: a moment before the first event reaches the stream would otherwise measure the
    simulator's start-up (2-3 s in `make demo`), not the speed layer."""

    def __init__(self, reader: Any, *, shards: int, clock: Callable[[], float] = time.time) -> None:
        self._reader, self._shards, self._clock = reader, shards, clock
        self.samples: list[float] = []
        self.unresolved = 0  # moments no shard-wide applied arrival time reached before `join` gave up
        self._stop = threading.Event()
        self._give_up_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="freshness-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop taking samples; the ones still waiting keep resolving until `join`."""
        self._stop.set()

    def join(self, grace: float = 3.0) -> list[float]:
        """Give the pending samples `grace` seconds more, then count the rest as unresolved.

        Call it once the counters have caught up: a sample still pending then was taken after
        the last record of some shard (nothing newer will ever be applied there).
        """
        self._give_up_at = self._clock() + grace
        self._stop.set()
        self._thread.join(timeout=grace + 5)
        return self.samples

    def _run(self) -> None:
        pending: list[float] = []
        started_ms = self._clock() * 1000
        next_sample = self._clock()
        flowing = False
        while True:
            now = self._clock()
            if not flowing:
                applied_now = self._applied_ms()
                flowing = applied_now is not None and applied_now >= started_ms
                next_sample = now
            if flowing and not self._stop.is_set() and now >= next_sample:
                pending.append(now)
                next_sample = now + PROBE_EVERY_SECONDS
            if pending:
                applied = self._applied_ms()
                while pending and applied is not None and applied >= pending[0] * 1000:
                    self.samples.append(round(self._clock() - pending.pop(0), 3))
            if self._give_up_at is not None and (not pending or now >= self._give_up_at):
                self.unresolved += len(pending)
                return
            time.sleep(PROBE_POLL_SECONDS)

    def _applied_ms(self) -> int | None:
        """The arrival time every shard has applied up to (the minimum over shards), epoch ms."""
        item = self._reader.get_items([(d.FRESHNESS_PK, d.FRESHNESS_SK)]).get((d.FRESHNESS_PK, d.FRESHNESS_SK)) or {}
        arrivals = [int(v) for k, v in item.items() if k.startswith(d.FRESHNESS_ARRIVAL)]
        return min(arrivals) if len(arrivals) >= self._shards else None


def percentiles(samples: Iterable[float]) -> dict[str, Any]:
    """p50 / p99 / max of the freshness samples, in seconds (nearest rank)."""
    ordered = sorted(samples)
    if not ordered:
        return {"samples": 0, "p50_s": None, "p99_s": None, "max_s": None}

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]

    return {"samples": len(ordered), "p50_s": rank(0.50), "p99_s": rank(0.99), "max_s": ordered[-1]}


def recompute(lines: Iterable[bytes]) -> dict[str, Any]:
    """Per day (UTC, by event time): events by type and by status, and events, errors, revenue.

    Revenue = Σ price * quantity (default 1) of purchases, from the JSON text exactly, to the
    millionth. Events with an event_id seen before count once.
    """
    seen: set[str] = set()
    by_type: Counter[tuple[str, str]] = Counter()
    by_status: Counter[tuple[str, str]] = Counter()
    totals: dict[str, dict[str, Any]] = {}
    for line in lines:
        event = json.loads(line, parse_float=Decimal)  # the price exactly as written, no float round trip
        if event["event_id"] in seen:
            continue
        seen.add(event["event_id"])
        day = event["timestamp"][:10]
        status = int(event.get("http_status") or 200)
        by_type[(day, event["event_type"])] += 1
        by_status[(day, str(status))] += 1
        total = totals.setdefault(day, {"events": 0, "errors": 0, "revenue": Decimal(0)})
        total["events"] += 1
        total["errors"] += status >= 400
        if event["event_type"] == "purchase" and event.get("price") is not None:
            total["revenue"] += (Decimal(event["price"]) * (event.get("quantity") or 1)).quantize(MILLIONTH)
    return {"by_type": dict(by_type), "by_status": dict(by_status), "totals": totals}


def read_counters(reader: Any, truth: dict[str, Any]) -> dict[str, Any]:
    """The same figures from the realtime table, for the days, types and statuses `truth` names."""
    days = sorted(truth["totals"])
    types = sorted({t for _, t in truth["by_type"]} | set(c.EVENT_TYPES))
    statuses = sorted({s for _, s in truth["by_status"]})
    keys = [("all", f"d#{day}T00:00:00Z") for day in days]
    keys += [(f"type#{t}", f"d#{day}T00:00:00Z") for t in types for day in days]
    keys += [(f"status#{s}", f"d#{day}T00:00:00Z") for s in statuses for day in days]
    items = reader.get_items(keys)

    def events(pk: str, day: str) -> int:
        return int((items.get((pk, f"d#{day}T00:00:00Z")) or {}).get("events", 0))

    totals = {}
    for day in days:
        item = items.get(("all", f"d#{day}T00:00:00Z")) or {}
        totals[day] = {
            "events": int(item.get("events", 0)),
            "errors": int(item.get("errors", 0)),
            "revenue": Decimal(item.get("revenue", 0)),
        }
    return {
        "by_type": {(day, t): n for day in days for t in types if (n := events(f"type#{t}", day))},
        "by_status": {(day, s): n for day in days for s in statuses if (n := events(f"status#{s}", day))},
        "totals": totals,
    }


def wait_for_counters(reader: Any, truth: dict[str, Any], timeout: float) -> tuple[dict[str, Any], bool, float]:
    """Read the counters until they equal `truth` or `timeout` passes: (counters, equal, seconds waited)."""
    started = time.monotonic()
    while True:
        counters = read_counters(reader, truth)
        if counters == truth or time.monotonic() - started > timeout:
            return counters, counters == truth, round(time.monotonic() - started, 1)
        time.sleep(1.0)


def headline(reader: Any, now: datetime) -> dict[str, Any]:
    """What `clickstream realtime` shows for the hour: events by type, events by status, revenue."""
    from clickstream.speed.snapshot import read_snapshot

    snap = read_snapshot(reader, now.astimezone(UTC))
    hour = snap["totals"]["hour"]
    return {
        "hour": snap["windows"]["hour"],
        "events": hour["events"],
        "errors": hour["errors"],
        "revenue": round(hour["revenue"], 2),
        "orders": hour["orders"],
        "events_by_type": {t: n for t, n in snap["events_by_type"]["hour"].items() if n},
        "events_by_status": {s["status"]: s["hour_events"] for s in snap["statuses"]},
        "users_estimate": snap["uniques"]["users"]["hour"]["estimate"],
    }


def counters_reader(settings: Settings) -> Any:
    from clickstream.adapters import _clients
    from clickstream.adapters.dynamodb import CountersTable

    return CountersTable(settings.names.realtime_table, client=_clients.client("dynamodb", settings))


def plain(figures: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: tuple keys joined, decimals as strings."""
    return {
        "by_type": {f"{d} {t}": n for (d, t), n in sorted(figures["by_type"].items())},
        "by_status": {f"{d} {s}": n for (d, s), n in sorted(figures["by_status"].items())},
        "totals": {d: {k: str(v) for k, v in t.items()} for d, t in sorted(figures["totals"].items())},
    }
