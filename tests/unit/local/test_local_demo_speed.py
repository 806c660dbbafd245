"""The demo's speed-layer helpers: the archive recomputation, the counters read-back, freshness."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import orjson

from clickstream.local.demo_speed import FreshnessProbe, percentiles, read_counters, recompute


def line(event_id: str, event_type: str = "page_view", *, day: str = "2026-11-22", **extra: Any) -> bytes:
    event = {"event_id": event_id, "event_type": event_type, "timestamp": f"{day}T10:00:00.000Z", **extra}
    return orjson.dumps(event)


def test_recompute_counts_by_day_type_status_and_sums_exact_revenue_once_per_event_id() -> None:
    lines = [
        line("a", http_status=200),
        line("a", http_status=200),  # a producer duplicate: counted once
        line("b", "purchase", price=19.99, quantity=3, http_status=200),
        line("c", "purchase", price=0.1, http_status=500),
        line("d", "click", day="2026-11-21", http_status=404),
    ]

    truth = recompute(lines)

    assert truth["by_type"] == {
        ("2026-11-22", "page_view"): 1,
        ("2026-11-22", "purchase"): 2,
        ("2026-11-21", "click"): 1,
    }
    assert truth["by_status"] == {("2026-11-22", "200"): 2, ("2026-11-22", "500"): 1, ("2026-11-21", "404"): 1}
    assert truth["totals"]["2026-11-22"] == {"events": 3, "errors": 1, "revenue": Decimal("60.070000")}
    assert truth["totals"]["2026-11-21"] == {"events": 1, "errors": 1, "revenue": Decimal(0)}


class Reader:
    """Counter items as CountersTable.get_items returns them (deserialised)."""

    def __init__(self, items: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.items = items

    def get_items(self, keys: Any) -> dict[tuple[str, str], dict[str, Any]]:
        return {k: self.items[k] for k in keys if k in self.items}


def test_read_counters_mirrors_the_recomputation_shape() -> None:
    truth = recompute([line("a", http_status=200), line("b", "purchase", price=2.5, http_status=503)])
    sk = "d#2026-11-22T00:00:00Z"
    reader = Reader(
        {
            ("all", sk): {"events": Decimal(2), "errors": Decimal(1), "revenue": Decimal("2.500000")},
            ("type#page_view", sk): {"events": Decimal(1)},
            ("type#purchase", sk): {"events": Decimal(1)},
            ("status#200", sk): {"events": Decimal(1)},
            ("status#503", sk): {"events": Decimal(1)},
        }
    )
    assert read_counters(reader, truth) == truth
    reader.items[("type#purchase", sk)] = {"events": Decimal(2)}
    assert read_counters(reader, truth) != truth


def test_percentiles_nearest_rank() -> None:
    assert percentiles([]) == {"samples": 0, "p50_s": None, "p99_s": None, "max_s": None}
    got = percentiles([float(i) for i in range(1, 101)])
    assert (got["p50_s"], got["p99_s"], got["max_s"]) == (50.0, 99.0, 100.0)
    assert percentiles([0.4])["p99_s"] == 0.4


class FreshnessReader:
    """The meta#freshness item: every shard has applied up to `applied_ms`."""

    def __init__(self) -> None:
        self.applied_ms = 0

    def get_items(self, keys: Any) -> dict[tuple[str, str], dict[str, Any]]:
        item = {"arrival#s0": self.applied_ms, "arrival#s1": self.applied_ms + 5}
        return {("meta#freshness", "latest"): item}


def test_the_probe_measures_until_every_shard_applied_past_the_sample() -> None:
    reader = FreshnessReader()
    probe = FreshnessProbe(reader, shards=2)
    probe.start()
    time.sleep(0.2)  # no traffic yet: no sample (it would measure the traffic's start-up)
    reader.applied_ms = int(time.time() * 1000)  # every shard applied a record that arrived after the start
    time.sleep(0.3)
    reader.applied_ms = int(time.time() * 1000) + 60_000  # everything so far is visible now
    time.sleep(0.2)
    probe.stop()
    samples = probe.join(grace=0.5)
    assert samples and all(0.15 <= s < 1.0 for s in samples[:1])
    assert probe.unresolved == 0


def test_the_probe_takes_no_sample_before_traffic_flows() -> None:
    reader = FreshnessReader()
    probe = FreshnessProbe(reader, shards=2)
    probe.start()
    time.sleep(0.3)
    probe.stop()
    assert probe.join(grace=0.2) == [] and probe.unresolved == 0
