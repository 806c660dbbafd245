"""In-process throughput of the stream-processor path with a null counters writer: where the time goes.

`handler_run` times `SpeedProcessor.handle_event` (what the Lambda handler calls) over real-shaped
Kinesis events: base64 → decode → validate → lateness → dedupe → aggregate → sketches, every
DynamoDB request built but none sent (`NullCounters`). `stage_costs` then times each step on its
own over the same records, and `profile_top` ranks functions under cProfile (its overhead inflates
call-heavy code, so its seconds rank; the un-profiled rate is the figure).
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.speed_layer import fixtures
from clickstream.adapters.dynamodb import NullCounters
from clickstream.events.codec import decode_event
from clickstream.events.stored import decode_stored
from clickstream.events.validate import validate_event
from clickstream.settings import Limits
from clickstream.speed.batch import prepare_batch
from clickstream.speed.dedupe import RecentIds
from clickstream.speed.lambda_events import shard_batches
from clickstream.speed.processor import SpeedProcessor, _sketch_updates

_REPO = str(Path(__file__).resolve().parents[2]) + "/"


class DropBadRows:
    """Counts bad rows instead of storing them (the fixtures have none: a surprise shows up)."""

    def __init__(self) -> None:
        self.rows = 0

    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> str | None:
        self.rows += len(rows)
        return None


def validating_decode(data: bytes) -> tuple[dict[str, Any] | None, object, list[Any]]:
    """The speed layer's decode step before `events.stored` (2026-12-06): JSON into a dict, then
    the collector's full validation again (`validate_event`), received when the record arrived.
    `old_path` swaps it in, so the old and the new path run side by side over the same records."""
    from clickstream.events.fields import FieldError
    from clickstream.events.schema import INVALID_VALUE, NOT_AN_OBJECT

    try:
        raw = decode_event(data)
    except ValueError as exc:
        return None, data, [FieldError("", NOT_AN_OBJECT if data.lstrip()[:1] == b"[" else INVALID_VALUE, str(exc))]
    result = validate_event(raw, received_at=_OLD_RECEIVED)
    return result.event, raw, list(result.errors)


_OLD_RECEIVED = fixtures.START + timedelta(hours=1)  # when the fixtures' records arrive (fixtures.kinesis_events)


@contextmanager
def old_path() -> Iterator[None]:
    """`clickstream.speed.batch` with the validating decode step, for the length of the block."""
    from clickstream.speed import batch

    new = batch._decode
    batch._decode = validating_decode  # type: ignore[assignment]
    try:
        yield
    finally:
        batch._decode = new  # type: ignore[assignment]


def handler_run(lambda_events: list[dict[str, Any]], *, repeats: int = 2) -> dict[str, Any]:
    """Best of `repeats` passes of handle_event over all events (a fresh processor each pass)."""
    best: dict[str, Any] | None = None
    records = sum(len(e["Records"]) for e in lambda_events)
    for _ in range(repeats):
        counters, bad = NullCounters(), DropBadRows()
        processor = SpeedProcessor(counters, bad, recent=RecentIds())
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for event in lambda_events:
            if processor.handle_event(event)["batchItemFailures"]:
                raise RuntimeError("a batch failed with a null writer")
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        run = {
            "records": records,
            "batches": len(lambda_events),
            "cpu_seconds": round(cpu, 3),
            "wall_seconds": round(wall, 3),
            "events_per_cpu_second": round(records / cpu),
            "us_per_record": round(cpu / records * 1e6, 2),
            "counter_items": counters.items,
            "sketch_items": counters.sketches,
            "bad_rows": bad.rows,
        }
        if best is None or run["cpu_seconds"] < best["cpu_seconds"]:
            best = run
    assert best is not None
    return best


def stage_costs(lambda_events: list[dict[str, Any]]) -> dict[str, float]:
    """CPU µs per record of each step, timed on its own over the same records (after a warm-up
    pass, so every step sees the caches, e.g. user-agent parsing, as the handler run did)."""
    _stage_costs(lambda_events)
    return _stage_costs(lambda_events)


def _stage_costs(lambda_events: list[dict[str, Any]]) -> dict[str, float]:
    limits = Limits()
    records = sum(len(e["Records"]) for e in lambda_events)
    out: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        t0 = time.process_time()
        result = fn()
        out[name] = round((time.process_time() - t0) / records * 1e6, 2)
        return result

    groups = timed("parse event + base64", lambda: [g for e in lambda_events for g in shard_batches(e, now_ms=0)])
    raws = timed("JSON decode (orjson)", lambda: [decode_event(r.data) for g in groups for r in g.records])
    received = datetime.fromtimestamp(groups[0].records[0].arrival_ms / 1000, UTC)
    timed(
        "validate_event (the old path's second validation)",
        lambda: [validate_event(raw, received_at=received) for raw in raws],
    )
    timed(
        "decode_stored (msgspec + checks: the new decode step)",
        lambda: [decode_stored(r.data) for g in groups for r in g.records],
    )
    batches = timed(
        "prepare_batch (decode + check + lateness + dedupe)",
        lambda: [prepare_batch(g.shard, g.records, limits=limits) for g in groups],
    )
    counters = timed("aggregate (counters of a batch)", lambda: [b.counters() for b in batches])

    def sketches() -> None:
        for b, whole in zip(batches, counters, strict=True):
            cache: dict[int | None, Any] = {None: whole}  # the processor has them from the counter write

            def after(p: int | None, b: Any = b, cache: dict[int | None, Any] = cache) -> Any:
                if p not in cache:
                    cache[p] = b.counters((), p)
                return cache[p]

            for update in _sketch_updates(b, after):
                update.merge(None, None)

    timed("sketches (HLL users/sessions, top URLs/statuses)", sketches)
    return out


def profile_top(lambda_events: list[dict[str, Any]], *, top: int = 15) -> list[dict[str, Any]]:
    """The `top` functions by own time under cProfile, over one pass of handle_event."""
    processor = SpeedProcessor(NullCounters(), DropBadRows(), recent=RecentIds())
    profiler = cProfile.Profile()
    profiler.enable()
    for event in lambda_events:
        processor.handle_event(event)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    return [
        {
            "function": short_name(key),
            "calls": value[1],
            "own_seconds": round(value[2], 3),
            "own_share": round(value[2] / total, 3),
            "cumulative_seconds": round(value[3], 3),
        }
        for key, value in rows
    ]


def short_name(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    if filename == "~":
        return func
    for marker in (_REPO, "site-packages/", "/lib/python3."):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
    return f"{filename}:{line}({func})"
