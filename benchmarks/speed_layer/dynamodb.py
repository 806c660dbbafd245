"""DynamoDB write requests per event: ours (one conditional PutItem per window item per batch: a
shard's item of each window it touches, docs/adr/0010-packed-window-counters.md) beside a
per-event-update baseline (one UpdateItem per key per event, as older clickstream tools do), both
against the same private moto server in one run.

The baseline keeps exactly the same counter items (the keys `aggregate([event])` gives), with no
watermark: it cannot be exactly once. Its request count for all the events is exact by
construction (one request per key per event); it is *executed* on a prefix of them, for its time
and to check it lands the same counters as ours on that prefix.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from benchmarks.speed_layer.fixtures import kinesis_events, record_count
from benchmarks.speed_layer.throughput import DropBadRows
from clickstream.adapters.dynamodb import Claim, CountersTable, NullCounters, RecentFeed, SketchUpdate, WriteStats
from clickstream.metrics import definitions as d
from clickstream.metrics.aggregate import Counters, aggregate
from clickstream.metrics.windows import expires_at
from clickstream.settings import Settings
from clickstream.speed.processor import SpeedProcessor


@contextmanager
def private_moto() -> Iterator[Settings]:
    """A moto server on a free port (never 4566), provisioned; stopped on the way out."""
    from moto.server import ThreadedMotoServer

    from clickstream import constants as c
    from clickstream.adapters import _clients
    from clickstream.local.provision import provision

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in (c.ENV_ENDPOINT, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    try:
        host, port = server.get_host_and_port()
        os.environ.update(
            {c.ENV_ENDPOINT: f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        )
        _clients.reset_cache()
        settings = Settings.from_env({c.ENV_ENDPOINT: f"http://{host}:{port}", c.ENV_HOME: "/tmp/clickstream-bench"})
        provision(settings)
        yield settings
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _clients.reset_cache()
        server.stop()


def ours(settings: Settings, events: list[dict[str, Any]], *, batch_size: int) -> dict[str, Any]:
    from clickstream.adapters import _clients

    client = _clients.client("dynamodb", settings)
    table = CountersTable(settings.names.realtime_table, client=client)
    feed = CountedFeed(settings.names.realtime_table, client=client)  # as the handler wires it
    processor = SpeedProcessor(table, DropBadRows(), limits=settings.limits, feed=feed)
    lambda_events = kinesis_events(events, batch_size=batch_size)
    wall0 = time.perf_counter()
    for event in lambda_events:
        if processor.handle_event(event)["batchItemFailures"]:
            raise RuntimeError("a batch failed against moto")
    wall = time.perf_counter() - wall0
    table.close()
    requests = dict(table.requests + feed.requests)
    writes = sum(n for op, n in requests.items() if op in ("update_item", "put_item"))
    n = record_count(lambda_events)
    return {
        "events": n,
        "batch_size": batch_size,
        "batches": len(lambda_events),
        "requests_by_operation": requests,
        "write_requests": writes,
        "write_requests_per_10k_events": round(writes / n * 10_000),
        "all_requests_per_10k_events": round(sum(requests.values()) / n * 10_000),
        "wall_seconds": round(wall, 1),
    }


def baseline(settings: Settings, events: list[dict[str, Any]], *, execute: int) -> dict[str, Any]:
    """One UpdateItem per (key, event); counted for all events, executed for the first `execute`."""
    from clickstream.adapters import _clients

    client = _clients.client("dynamodb", settings)
    per_event = [aggregate([e]) for e in events]
    total = sum(len(keys) for keys in per_event)
    wall0 = time.perf_counter()
    for cells in per_event[:execute]:
        for (pk, sk), cell in cells.items():
            names, values, adds = {}, {}, []
            for i, (field, value) in enumerate(zip(d.COUNTER_FIELDS, cell, strict=True)):
                if value:
                    names[f"#a{i}"], values[f":a{i}"] = field, {"N": str(value)}
                    adds.append(f"#a{i} :a{i}")
            expression = f"ADD {', '.join(adds)}"
            ttl = expires_at(sk)
            if ttl is not None:
                names["#x"], values[":x"] = "expires_at", {"N": str(ttl)}
                expression += " SET #x = :x"
            client.update_item(
                TableName=f"{settings.names.realtime_table}",
                Key={"pk": {"S": f"baseline|{pk}"}, "sk": {"S": sk}},
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
    wall = time.perf_counter() - wall0
    executed = sum(len(cells) for cells in per_event[:execute])
    return {
        "events": len(events),
        "write_requests": total,
        "write_requests_per_10k_events": round(total / len(events) * 10_000),
        "executed_events": min(execute, len(events)),
        "executed_requests": executed,
        "executed_wall_seconds": round(wall, 1),
        "ms_per_request": round(wall / executed * 1000, 2) if executed else None,
    }


def same_counters_on_prefix(settings: Settings, events: list[dict[str, Any]], execute: int) -> bool:
    """Does the executed baseline prefix hold what aggregate() says it should? (sanity check)"""
    from clickstream.adapters import _clients

    table = CountersTable(settings.names.realtime_table, client=_clients.client("dynamodb", settings))
    expected = aggregate(events[:execute])
    keys = [(f"baseline|{pk}", sk) for pk, sk in expected]
    got = table.get_items(keys)
    return all(int(got[(f"baseline|{pk}", sk)]["events"]) == cell[0] for (pk, sk), cell in expected.items())


class CountedFeed(RecentFeed):
    """The live feed's adapter, counting its requests like `CountersTable.requests` does."""

    def __init__(self, table: str, *, client: Any) -> None:
        super().__init__(table, client=client)
        self.requests: Counter[str] = Counter()

    def load(self, shard: str) -> list[dict[str, Any]]:
        self.requests["get_item"] += 1
        return super().load(shard)

    def store(self, shard: str, *, last: int, events: Sequence[Mapping[str, Any]]) -> bool:
        self.requests["put_item"] += 1
        return super().store(shard, last=last, events=events)


class ModelFeed:
    """The live feed's requests for a first application: a GetItem per shard, a PutItem per batch."""

    def __init__(self, requests: Counter[str]) -> None:
        self.requests = requests

    def load(self, shard: str) -> list[dict[str, Any]]:
        self.requests["get_item"] += 1
        return []

    def store(self, shard: str, *, last: int, events: Sequence[Mapping[str, Any]]) -> bool:
        self.requests["put_item"] += 1
        return True


class RequestModel(NullCounters):
    """Counts the writes `CountersTable` sends for a first application of each batch (no
    throttling, no conflicts): one PutItem per window item, a PutItem per order claim, an
    UpdateItem per sketch sub-item that changes, one or two UpdateItems for freshness; with
    `ModelFeed`, the live feed's. Reads are not modelled: a process reads a window item or sketch
    sub-item only the first time it writes it (afterwards it remembers what it wrote)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: Counter[str] = Counter()

    def add_counters(
        self, counters_after: Callable[[int | None], Counters], *, shard: str, first: int, last: int
    ) -> WriteStats:
        stats = super().add_counters(counters_after, shard=shard, first=first, last=last)
        self.requests["put_item"] += stats.applied
        return stats

    def claim_orders(self, claims: Sequence[Claim], *, shard: str) -> set[tuple[str, str]]:
        self.requests["put_item"] += len(claims)
        return super().claim_orders(claims, shard=shard)

    def merge_sketches(self, updates: Sequence[SketchUpdate], *, shard: str, last: int) -> int:
        written = 0
        for update in updates:
            if update.merge(None, None) is not None:
                self.requests["update_item"] += 1
                written += 1
        return written

    def set_latest(self, *, shard: str, last: int, newest_event: str | None, newest_arrival_ms: int) -> None:
        self.requests["update_item"] += 1 + (newest_event is not None)


def window_item_sizes(events: list[dict[str, Any]], *, batch_size: int) -> dict[str, Any]:
    """The stored size of the window items (`packed`) after all of `events`, per resolution:
    how many items, the largest one's bytes and cells, and bytes per cell (what DynamoDB bills a
    write of the item by: one write unit per started KB)."""
    from clickstream.adapters.dynamodb import packed
    from clickstream.settings import Limits
    from clickstream.speed.batch import prepare_batch
    from clickstream.speed.lambda_events import shard_batches

    items: dict[tuple[str, str], packed.Cells] = {}
    for event in kinesis_events(events, batch_size=batch_size):
        for group in shard_batches(event, now_ms=0):
            batch = prepare_batch(group.shard, group.records, limits=Limits())
            for window, cells in packed.by_window(batch.counters()).items():
                items[(window, group.shard)] = packed.added(items.get((window, group.shard), {}), cells)
    out: dict[str, Any] = {}
    for resolution in "mhd":
        sized = sorted(
            (len(packed.encode_cells(cells)), len(cells)) for (w, _), cells in items.items() if w[0] == resolution
        )
        largest_bytes, largest_cells = sized[-1]
        out[resolution] = {
            "items": len(sized),
            "largest_bytes": largest_bytes,
            "largest_cells": largest_cells,
            "bytes_per_cell": round(largest_bytes / largest_cells, 1),
        }
    return out


def modelled(events: list[dict[str, Any]], *, batch_size: int) -> dict[str, Any]:
    """Requests per 10k events for one batch size, from the request model (no server)."""
    model = RequestModel()
    processor = SpeedProcessor(model, DropBadRows(), feed=ModelFeed(model.requests))
    lambda_events = kinesis_events(events, batch_size=batch_size)
    for event in lambda_events:
        processor.handle_event(event)
    writes = model.requests["update_item"] + model.requests["put_item"]
    n = record_count(lambda_events)
    return {
        "batch_size": batch_size,
        "batches": len(lambda_events),
        "requests_by_operation": dict(model.requests),
        "write_requests": writes,
        "write_requests_per_10k_events": round(writes / n * 10_000),
    }
