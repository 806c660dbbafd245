"""The Kinesis consumer loop: an event source mapping around a Lambda handler, I/O injected.

For each leased shard: GetRecords into a `ShardBatches`, cut a batch (size, payload, window),
write its range to the lease, invoke the handler with the real Kinesis event, read the partial
batch response; on success checkpoint, on failure retry (same batch, from the lowest failed
record) with backoff, and after the last retry send the batch's description to the dead-letter
queue, checkpoint past it and move on. One thread: shards are served round-robin, one batch per
shard at a time, the handler is never called concurrently (as in one Lambda execution
environment); more throughput comes from more processes sharing the leases. The wiring and the
command line are in `stream_consumers.kinesis_consumer`.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clickstream.emulated.event_source_mapping.batches import ShardBatches
from clickstream.emulated.event_source_mapping.events import KinesisSource, account_of, kinesis_event
from clickstream.emulated.event_source_mapping.failures import kinesis_failure
from clickstream.emulated.event_source_mapping.invoke import Handler, invoke
from clickstream.emulated.event_source_mapping.leases import Lease
from clickstream.emulated.event_source_mapping.leasing import LeaseKeeper
from clickstream.emulated.event_source_mapping.options import CONSUMER, ConsumerOptions
from clickstream.emulated.event_source_mapping.responses import kinesis_verdict
from clickstream.errors import ClickstreamError, RetryableError
from clickstream.lambda_context import lambda_context
from clickstream.settings import Settings

log = logging.getLogger(__name__)

IDLE_READ_SECONDS = 0.25  # an empty shard is polled 4 times a second (Lambda: once; GetRecords allows 5)
THROTTLE_SECONDS = 1.0
READ_AT_LEAST = 1_000  # records per GetRecords even for small batches: fewer calls, same batches


@dataclass
class ConsumerStats:
    records: int = 0  # records in successful invocations
    batches: int = 0  # successful invocations
    failed_invocations: int = 0
    dead_lettered: int = 0  # batches sent to the DLQ
    leases_taken: int = 0
    leases_lost: int = 0
    lag: dict[str, str] = field(default_factory=dict)


@dataclass
class _Shard:
    sid: str
    batches: ShardBatches
    checkpoint: int | None
    ending_sequence: int | None = None
    last_read: int | None = None
    iterator: str | None = None
    next_read_at: float = 0.0
    millis_behind: int | None = None
    caught_up: bool = False
    ended: bool = False
    failures: int = 0
    retry_at: float = 0.0
    reason: str = ""
    unsaved: int | None = None  # a checkpoint still to write before the next batch
    iterator_age_ms: int | None = None


class KinesisConsumer:
    """One worker: leases some shards of one stream and runs the handler on their batches."""

    def __init__(
        self,
        handler: Handler,
        *,
        shards: Any,  # clickstream.emulated.event_source_mapping.kinesis_shards.KinesisShards
        leases: Any,  # clickstream.emulated.event_source_mapping.lease_table.LeaseTable
        checkpoints: Any,  # clickstream.emulated.checkpoints.CheckpointStore
        dlq: Any,  # clickstream.emulated.event_source_mapping.dlq.DeadLetterQueue
        options: ConsumerOptions | None = None,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.options = options or ConsumerOptions()
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.stats = ConsumerStats()
        self._handler, self._shards, self._checkpoints, self._dlq = handler, shards, checkpoints, dlq
        self._keeper = LeaseKeeper(leases, me=self.worker_id, wall=wall)
        self._clock, self._wall, self._sleep, self._jitter = clock, wall, sleep, jitter
        self._owned: dict[str, _Shard] = {}
        self._source: KinesisSource | None = None
        self._lease_every = min(self.options.lease_seconds / 3, 5.0)
        self._next_lease_round = 0.0
        self._unowned = 0  # leasable shards someone else holds (or still free) at the last round
        self._finished: set[str] = set()

    # --- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, until_idle: float | None = None) -> ConsumerStats:
        """Process until `stop` is set (or, with `until_idle`, every shard is drained and quiet that long)."""
        started = last_work = self._clock()
        next_progress = started + self.options.progress_seconds
        try:
            while not stop.is_set():
                if self._clock() >= self._next_lease_round:
                    self._lease_round()
                    self._next_lease_round = self._clock() + self._lease_every
                worked = False
                for shard in list(self._owned.values()):
                    if stop.is_set():
                        break  # the batch in flight has finished; the rest waits for the next holder
                    worked |= self._read(shard, self._clock())
                    worked |= self._process(shard, self._clock())
                now = self._clock()
                if worked:
                    last_work = now
                    self._keeper.busy()
                elif until_idle is not None and now - last_work >= until_idle and self._drained():
                    log.info("every shard drained and idle for %.1f s: stopping", now - last_work)
                    break
                if now >= next_progress:
                    self._log_progress(now - started)
                    next_progress = now + self.options.progress_seconds
                if not worked:
                    self._sleep(self._idle_sleep(now))
        finally:
            self._shutdown()
        self._log_progress(self._clock() - started)
        return self.stats

    def _idle_sleep(self, now: float) -> float:
        wake = [s.next_read_at for s in self._owned.values()] + [self._next_lease_round]
        wake += [s.retry_at for s in self._owned.values() if s.batches.batch is not None]
        return min(max(min(wake) - now, 0.01), IDLE_READ_SECONDS)

    def _drained(self) -> bool:
        """Nothing buffered, every held shard at the tip, and every other lease holder alive."""
        if not all(s.caught_up and not len(s.batches) and s.unsaved is None for s in self._owned.values()):
            return False
        return not self._unowned or self._keeper.others_alive(self._finished)

    # --- leases --------------------------------------------------------------------------------

    def _lease_round(self) -> None:
        checkpoints = self._checkpoints.load()
        self._finished |= {c.shard for c in checkpoints.values() if c.closed}
        leasable, endings = self._shards.leasable(self._finished)
        result = self._keeper.round(leasable)
        for sid in result.lost:
            self._lose(sid, "taken by another worker")
        for lease in result.taken:
            self._start(lease, checkpoints.get(lease.shard), stolen=lease.shard in result.stolen)
        for sid, shard in self._owned.items():
            shard.ending_sequence = endings.get(sid, shard.ending_sequence)
        self._unowned = result.unowned

    def _start(self, lease: Lease, checkpoint: Any, *, stolen: bool) -> None:
        position = checkpoint.position if checkpoint is not None else None
        batches = ShardBatches(
            batch_size=self.options.batch_size,
            window=self.options.batch_window,
            record_bytes=lambda r: r.payload_bytes(self._kinesis_source()),
        )
        replay = lease.batch_last is not None and (position is None or lease.batch_last > position)
        if replay and lease.batch_last is not None:
            batches.replay(lease.batch_last)  # applied or not, that batch comes back whole
        self._owned[lease.shard] = _Shard(lease.shard, batches, checkpoint=position, last_read=position)
        self.stats.leases_taken += 1
        log.info(
            "%s shard %s after %s%s",
            "stole" if stolen else "took",
            lease.shard,
            position if position is not None else "TRIM_HORIZON",
            f" (replaying the batch up to {lease.batch_last} first)" if replay else "",
        )

    def _lose(self, sid: str, why: str) -> None:
        self._owned.pop(sid, None)
        self.stats.leases_lost += 1
        log.info("lost shard %s: %s", sid, why)

    def _shutdown(self) -> None:
        try:
            for sid, shard in self._owned.items():
                if shard.unsaved is not None:
                    self._checkpoints.save(sid, shard.unsaved)
            self._keeper.release_all()
        except (ClickstreamError, OSError) as exc:  # best effort: the leases expire anyway
            log.warning("leases not released (%s); they expire in %.0f s", exc, self.options.lease_seconds)
        self._owned.clear()

    # --- reading -------------------------------------------------------------------------------

    def _read(self, shard: _Shard, now: float) -> bool:
        if shard.ended or now < shard.next_read_at or not shard.batches.wants_more():
            return False
        sid = shard.sid
        if shard.iterator is None:
            shard.iterator = self._shards.iterator(sid, shard.last_read)
        got = self._shards.read(shard.iterator, limit=max(self.options.batch_size, READ_AT_LEAST))
        if got.expired:
            shard.iterator = None  # re-opened after the last record read: nothing skipped or repeated
            return False
        if got.throttled:
            shard.next_read_at = now + THROTTLE_SECONDS
            return False
        if got.records:
            shard.batches.add(got.records, now)
            shard.last_read = got.records[-1].sequence
        shard.iterator, shard.millis_behind = got.next_iterator, got.millis_behind
        shard.caught_up = not got.records and not got.millis_behind
        ending = shard.ending_sequence
        # AWS: a closed shard's last GetRecords has no NextShardIterator. moto keeps one, so a
        # closed shard also ends once it has nothing past its EndingSequenceNumber.
        shard.ended = shard.iterator is None or (
            ending is not None and not got.records and (shard.last_read or 0) >= ending
        )
        shard.next_read_at = now + (self._shards.min_read_interval if got.records else IDLE_READ_SECONDS)
        return bool(got.records)

    # --- invoking ------------------------------------------------------------------------------

    def _process(self, shard: _Shard, now: float) -> bool:
        sid = shard.sid
        if now < shard.retry_at or not self._save_checkpoint(shard, now):
            return False
        if self.options.retry.exhausted(shard.failures):
            return self._dead_letter(shard, now)
        drained = shard.caught_up or shard.ended
        batch = shard.batches.next_batch(now, drained=drained, shard_end=shard.ended)
        if batch is None:
            if shard.ended and not len(shard.batches):
                self._finish(shard)
                return True
            return False
        try:
            held = self._keeper.record_batch(sid, batch[0].sequence, batch[-1].sequence)
        except RetryableError as exc:
            shard.retry_at = now + self.options.retry.delay(1, jitter=self._jitter(), retry_after=exc.retry_after)
            return False
        if not held:
            self._lose(sid, "taken by another worker")
            return False
        source = self._kinesis_source()
        context = lambda_context(
            self.options.function_name,
            region=source.region,
            account=account_of(source.stream_arn),
            request_id=str(uuid.uuid4()),
            clock=self._clock,
            timeout=self.options.function_timeout,
        )
        result = invoke(self._handler, kinesis_event(sid, batch, source), context)
        verdict = kinesis_verdict(result.response, [r.sequence for r in batch]) if result.error is None else None
        if verdict is not None and not verdict.failed:
            shard.iterator_age_ms = max(0, int((self._wall() - batch[-1].arrival) * 1000))
            self.stats.records += len(batch)
            self.stats.batches += 1
            shard.failures, shard.reason = 0, ""
            shard.unsaved = shard.batches.succeeded()
            self._save_checkpoint(shard, now)
            return True
        self.stats.failed_invocations += 1
        shard.failures += 1
        shard.reason = result.reason if verdict is None else verdict.reason
        if verdict is not None and verdict.first_failed is not None:
            done = shard.batches.partially_failed(verdict.first_failed)
            if done is not None:
                self.stats.records += sum(1 for r in batch if r.sequence <= done)
                shard.unsaved = done
                self._save_checkpoint(shard, now)
        delay = self.options.retry.delay(shard.failures, jitter=self._jitter(), retry_after=result.retry_after)
        exhausted = self.options.retry.exhausted(shard.failures)
        shard.retry_at = now if exhausted else now + delay
        attempts = f"{shard.failures}/{self.options.retry.max_retries + 1}"
        log.warning(
            "shard %s: batch %s..%s failed (attempt %s): %s",
            sid,
            batch[0].sequence,
            batch[-1].sequence,
            attempts,
            shard.reason,
        )
        return True

    def _dead_letter(self, shard: _Shard, now: float) -> bool:
        sid, batch = shard.sid, shard.batches.batch
        assert batch is not None
        source = self._kinesis_source()
        message = kinesis_failure(
            shard_id=sid,
            records=batch,
            stream_arn=source.stream_arn,
            function_arn=function_arn_of(source, self.options.function_name),
            attempts=shard.failures,
            reason=shard.reason,
            request_id=str(uuid.uuid4()),
            now=datetime.fromtimestamp(self._wall(), UTC),
        )
        try:
            self._dlq.send(message)
        except RetryableError as exc:
            log.warning("shard %s: dead-letter queue unavailable (%s); retrying", sid, exc)
            shard.retry_at = now + self.options.retry.max_delay
            return False
        first, last, n = batch[0].sequence, batch[-1].sequence, len(batch)
        log.error("shard %s: batch %s..%s (%d records) dead-lettered: %s", sid, first, last, n, shard.reason)
        self.stats.dead_lettered += 1
        shard.failures, shard.reason = 0, ""
        shard.unsaved = shard.batches.succeeded()
        self._save_checkpoint(shard, now)
        return True

    def _save_checkpoint(self, shard: _Shard, now: float) -> bool:
        """Write the pending checkpoint; False (and a backoff) while it cannot be written.

        No new batch starts before the previous one is checkpointed: its range replaces the
        previous one's on the lease, and a restart must find the checkpoint right before it.
        """
        if shard.unsaved is None:
            return True
        try:
            self._checkpoints.save(shard.sid, shard.unsaved)
        except RetryableError as exc:
            shard.retry_at = now + self.options.retry.delay(1, jitter=self._jitter(), retry_after=exc.retry_after)
            return False
        shard.checkpoint, shard.unsaved = shard.unsaved, None
        return True

    def _finish(self, shard: _Shard) -> None:
        sid = shard.sid
        self._checkpoints.close_shard(sid)
        self._finished.add(sid)
        self._keeper.finish(sid)
        self._owned.pop(sid, None)
        self._next_lease_round = 0.0  # list again now: the children may start
        log.info("shard %s processed to its end; its children may start", sid)

    def _kinesis_source(self) -> KinesisSource:
        if self._source is None:
            self._source = KinesisSource.from_stream_arn(
                self._shards.stream_arn(), role=f"{self.options.function_name}-role"
            )
        return self._source

    def _log_progress(self, elapsed: float) -> None:
        s = self.stats
        for sid, shard in self._owned.items():
            age = f", iterator age {shard.iterator_age_ms}ms" if shard.iterator_age_ms is not None else ""
            s.lag[sid] = f"{shard.millis_behind if shard.millis_behind is not None else '?'}ms behind{age}"
        lag = "; ".join(f"{sid} {v}" for sid, v in sorted(s.lag.items()) if sid in self._owned) or "no shards held"
        rate = s.records / elapsed if elapsed > 0 else 0.0
        done = f"processed {s.records} records in {s.batches} batches ({rate:.0f} rec/s)"
        failed = f"{s.failed_invocations} failed invocations, {s.dead_lettered} dead-lettered"
        log.info("%s, %s; holding %d shards [%s]; lag: %s", done, failed, len(self._owned), ", ".join(self._owned), lag)


def function_arn_of(source: KinesisSource, function_name: str) -> str:
    """The ARN the function would have in the stream's account and region."""
    return f"arn:aws:lambda:{source.region}:{account_of(source.stream_arn)}:function:{function_name}"


def build_kinesis_consumer(
    settings: Settings,
    handler: Handler,
    *,
    options: ConsumerOptions | None = None,
    worker_id: str | None = None,
    consumer: str = CONSUMER,
) -> KinesisConsumer:
    """A consumer of `settings.names.stream` wired to the checkpoint table (leases too) and the DLQ."""
    from clickstream.adapters import _clients
    from clickstream.emulated.checkpoints import CheckpointStore
    from clickstream.emulated.event_source_mapping.dlq import DeadLetterQueue
    from clickstream.emulated.event_source_mapping.kinesis_shards import KinesisShards
    from clickstream.emulated.event_source_mapping.lease_table import LeaseTable

    options = options or ConsumerOptions()
    stream, table = settings.names.stream, settings.names.checkpoints_table
    ddb = _clients.client("dynamodb", settings)
    return KinesisConsumer(
        handler,
        shards=KinesisShards(stream, client=_clients.client("kinesis", settings)),
        leases=LeaseTable(table, consumer=consumer, stream=stream, client=ddb, duration=options.lease_seconds),
        checkpoints=CheckpointStore(table, consumer=consumer, source=stream, client=ddb),
        dlq=DeadLetterQueue(settings.names.dead_letter_queue, client=_clients.client("sqs", settings)),
        options=options,
        worker_id=worker_id,
    )
