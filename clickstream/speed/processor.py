"""The speed layer's one code path: a shard's batch → bad rows, order claims, counters, sketches.

Behind the stream-processor Lambda (`lambdas/stream_processor/handler.py`) and the stream
consumers, which either call `handle_event` with the Lambda event payload or `process_batch`
with records directly. Per batch (`SpeedProcessor.process`):

1. `prepare_batch` (pure): decode → validate → lateness → dedupe (in batch and recent batches).
2. bad rows → S3 `raw/bad/` (one object); poison records are never retried.
3. the live feed: the shard's newest accepted events (`metrics.recent`), first, so the dashboard
   shows them without waiting for the counter writes; best effort, never fails the batch.
4. order claims (conditional puts), so each order counts once per window.
5. counters: one conditional UpdateItem per (pk, sk), exactly once per shard and item.
6. sketches: uniques (HLL) per hour/day, top URLs/statuses per hour; the freshness item.
7. the batch's event ids join the recent-ids window (only now: see `speed.dedupe`).

A RetryableError (DynamoDB or S3 throttled past the retries) fails the batch; since every
effect above is idempotent per item, the platform may deliver it again, in whole or re-cut.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any, Protocol

from clickstream.adapters.dynamodb import Claim, SketchUpdate, WriteStats
from clickstream.errors import RetryableError
from clickstream.metrics import definitions as d
from clickstream.metrics import recent as recent_feed
from clickstream.metrics.aggregate import EVENTS, Counters
from clickstream.metrics.sketch import merge_top, merge_uniques, uniques_sketch
from clickstream.settings import Limits, Settings
from clickstream.speed.batch import InRecord, PreparedBatch, prepare_batch
from clickstream.speed.dedupe import RecentIds
from clickstream.speed.lambda_events import partial_response, shard_batches

log = logging.getLogger(__name__)


class CountersWriter(Protocol):
    """What the processor needs from the realtime table (`CountersTable`, or `NullCounters`)."""

    def add_counters(
        self, counters_after: Callable[[int | None], Counters], *, shard: str, first: int, last: int
    ) -> WriteStats: ...

    def claim_orders(self, claims: Sequence[Claim], *, shard: str) -> set[tuple[str, str]]: ...

    def merge_sketches(self, updates: Sequence[SketchUpdate], *, shard: str, last: int) -> int: ...

    def set_latest(self, *, shard: str, last: int, newest_event: str | None, newest_arrival_ms: int) -> None: ...


class FeedStore(Protocol):
    """Where the live feed's per-shard lists live (`adapters.dynamodb.recent_feed.RecentFeed`)."""

    def load(self, shard: str) -> list[dict[str, Any]]: ...

    def store(self, shard: str, *, last: int, events: Sequence[Mapping[str, Any]]) -> bool: ...


class BadRowsSink(Protocol):
    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> str | None: ...


@dataclass(frozen=True)
class BatchResult:
    shard: str
    records: int
    kept: int
    bad: int
    too_late: int
    duplicates: int
    writes: WriteStats
    sketches_written: int


class SpeedProcessor:
    def __init__(
        self,
        counters: CountersWriter,
        bad_rows: BadRowsSink,
        *,
        limits: Limits | None = None,
        recent: RecentIds | None = None,
        feed: FeedStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counters = counters
        self.bad_rows = bad_rows
        self.limits = limits or Limits()
        self.recent = recent or RecentIds()
        self.feed = feed
        self._feeds: dict[str, list[dict[str, Any]]] = {}  # shard → the list this process last stored
        self._clock = clock

    def process(self, shard: str, records: Sequence[InRecord], *, source: str = "kinesis") -> BatchResult:
        """Apply one shard's batch (records in stream order, contiguous positions); see the module docstring.

        Raises RetryableError when the batch must be delivered again.
        """
        if not records:
            return BatchResult(shard, 0, 0, 0, 0, 0, WriteStats(), 0)
        batch = prepare_batch(shard, records, limits=self.limits, seen=self.recent.seen(shard), source=source)
        if batch.bad_rows:
            assert batch.bad_rows_received_at is not None
            self.bad_rows.put(batch.bad_rows, received_at=batch.bad_rows_received_at, source=f"stream-{source}")
        if self.feed is not None and batch.kept:
            self._update_feed(shard, batch)
        won = self.counters.claim_orders(batch.order_claims, shard=shard) if batch.order_claims else set()
        after: dict[int | None, Counters] = {}

        def counters_after(position: int | None) -> Counters:
            if position not in after:
                after[position] = batch.counters(won, position)
            return after[position]

        writes = self.counters.add_counters(counters_after, shard=shard, first=batch.first, last=batch.last)
        sketches = self.counters.merge_sketches(_sketch_updates(batch, counters_after), shard=shard, last=batch.last)
        self.counters.set_latest(
            shard=shard, last=batch.last, newest_event=batch.newest_event, newest_arrival_ms=batch.newest_arrival_ms
        )
        self.recent.commit(shard, batch.kept_ids)
        return BatchResult(
            shard,
            len(records),
            len(batch.kept),
            len(batch.bad_rows),
            batch.too_late,
            batch.duplicates,
            writes,
            sketches,
        )

    def _update_feed(self, shard: str, batch: PreparedBatch) -> None:
        # A feed failure is logged, never raised: the feed is a view, not a count, and failing the
        # batch over it would redeliver records only to have every counter skip them.
        assert self.feed is not None
        try:
            previous = self._feeds.get(shard)
            if previous is None:
                previous = self.feed.load(shard)  # a fresh process: continue the stored list
            applied_at = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds")
            events = recent_feed.merge(
                previous, (e for _, e in batch.kept), applied_at=applied_at.replace("+00:00", "Z")
            )
            if self.feed.store(shard, last=batch.last, events=events):
                self._feeds[shard] = events
            else:
                self._feeds.pop(shard, None)  # another worker wrote a later batch: reload next time
        except Exception:
            self._feeds.pop(shard, None)
            log.warning("live feed of %s not updated (counters are)", shard, exc_info=True)

    def handle_event(
        self, event: Mapping[str, Any], *, on_batch: Callable[[BatchResult], None] | None = None
    ) -> dict[str, list[dict[str, str]]]:
        """A Lambda Kinesis or Kafka event → the partial-batch response.

        A shard whose batch raised RetryableError is reported from its FIRST record: the whole
        batch comes back, which is safe because every item skips what it already has.
        `on_batch` sees the result of each batch applied (the handler's metrics).
        """
        failed: list[str] = []
        for group in shard_batches(event, now_ms=round(self._clock() * 1000)):
            try:
                result = self.process(group.shard, group.records, source=group.source)
                if on_batch is not None:
                    on_batch(result)
            except RetryableError:
                log.warning("batch of %s failed; reporting it for retry", group.shard, exc_info=True)
                failed.append(group.item_ids[0])
        return partial_response(failed)


def _sketch_updates(batch: PreparedBatch, counters_after: Callable[[int | None], Counters]) -> list[SketchUpdate]:
    updates: list[SketchUpdate] = []
    for kind in d.UNIQUE_FIELDS:
        for sk in batch.unique_values(kind):
            updates.append(SketchUpdate((d.uniques_pk(kind), sk), partial(_merge_uniques, batch, kind, sk)))
    top_windows = {sk for (pk, sk) in counters_after(None) if pk == d.ALL and sk[0] in d.TOP_RESOLUTIONS}
    for dimension in d.TOP_DIMENSIONS:
        prefix = f"{dimension}#"
        for sk in sorted(top_windows):
            updates.append(SketchUpdate((d.top_pk(dimension), sk), partial(_merge_top, counters_after, sk, prefix)))
    return updates


def _merge_uniques(batch: PreparedBatch, kind: str, sk: str, blob: bytes | None, wm: int | None) -> bytes | None:
    # Only the records after the item's watermark: merging earlier ones again would not change
    # the estimate (HLL union is idempotent), but it would rewrite the item on every replay.
    values = batch.unique_values(kind, wm).get(sk)
    return merge_uniques(blob, uniques_sketch(values)) if values else None


def _merge_top(
    counters_after: Callable[[int | None], Counters], sk: str, prefix: str, blob: bytes | None, wm: int | None
) -> bytes | None:
    # Counts add up, so only the records after the item's watermark count (as for counters).
    weights = {
        pk[len(prefix) :]: cell[EVENTS]
        for (pk, cell_sk), cell in counters_after(wm).items()
        if cell_sk == sk and pk.startswith(prefix)
    }
    return merge_top(blob, weights) if weights else None


def build_processor(settings: Settings) -> SpeedProcessor:
    """A SpeedProcessor writing to the realtime table and the lake bucket of `settings`."""
    from clickstream.adapters import _clients
    from clickstream.adapters.dynamodb import CountersTable, RecentFeed
    from clickstream.adapters.s3 import BadRowsStore, LakeBucket

    dynamodb = _clients.client("dynamodb", settings)
    table = CountersTable(settings.names.realtime_table, client=dynamodb)
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
    feed = RecentFeed(settings.names.realtime_table, client=dynamodb)
    return SpeedProcessor(table, BadRowsStore(bucket), limits=settings.limits, feed=feed)


@cache
def deps() -> SpeedProcessor:
    """The process-wide processor from the environment, built on first use (Lambda: per execution environment)."""
    return build_processor(Settings.from_env())


def process_batch(shard: str, records: Sequence[InRecord], *, source: str = "kinesis") -> BatchResult:
    """Apply one shard's batch with the process-wide processor (`deps()`); for stream consumers.

    `records` must be one shard's (or Kafka partition's) contiguous records in stream order;
    one batch of a shard at a time. Raises RetryableError when the batch must be retried.
    """
    return deps().process(shard, records, source=source)
