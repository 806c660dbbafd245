"""The archiver loop: read shards round-robin, buffer per shard, write hour objects, checkpoint.

The reader, the bucket and the checkpoint store are injected (`build_archiver` wires the real
ones), so the loop can be tested with in-memory stand-ins. The ordering that makes replays safe
is here: for each flush, every object is written before the checkpoint moves (the argument is
in `clickstream.emulated.firehose.batching`). One process archives every shard of the stream; leases that
spread shards over several processes come in a later issue.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import insort
from collections.abc import Callable
from dataclasses import dataclass, field

from clickstream.constants import RAW_EVENTS_PREFIX
from clickstream.emulated.firehose.batching import (
    FlushPolicy,
    RawRecord,
    ShardBuffer,
    hours_of,
    plan_objects,
    positions_in,
    shard_prefix,
)
from clickstream.emulated.firehose.reading import CheckpointWriter, ObjectSink, StreamReader
from clickstream.settings import Settings

log = logging.getLogger(__name__)

_MAX_LISTED_HOURS = 4096  # (shard, hour) listings kept in memory by a long-running archiver


@dataclass
class ArchiveStats:
    records_read: int = 0
    records_archived: int = 0
    objects_written: int = 0
    flushes: int = 0
    stale_checkpoints: int = 0
    lag: dict[str, str] = field(default_factory=dict)  # shard -> "120ms" / "35 records"


class Archiver:
    def __init__(
        self,
        reader: StreamReader,
        *,
        sink: ObjectSink,
        checkpoints: CheckpointWriter,
        policy: FlushPolicy,
        prefix: str = RAW_EVENTS_PREFIX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.stats = ArchiveStats()
        self._sink, self._checkpoints, self._policy = sink, checkpoints, policy
        self._prefix, self._clock = prefix, clock
        self._buffers: dict[str, ShardBuffer] = {}
        self._ending: set[str] = set()  # closed shards read to their end, not yet flushed
        # (shard, hour) -> sorted first positions of that shard's objects in that hour (rule 2 of
        # `batching`): listed once per process, then kept up to date with our own writes.
        self._existing: dict[tuple[str, int], list[int]] = {}

    @property
    def buffered(self) -> int:
        return sum(len(b) for b in self._buffers.values())

    def step(self) -> int:
        """Read once from the stream, buffer, flush what is due; returns the records read."""
        poll = self.reader.poll()
        for shard in poll.revoked:
            buffer = self._buffers.pop(shard, None)
            if buffer is not None:
                buffer.clear()
            # Another process may write this partition before it comes back: list again then.
            self._existing = {k: v for k, v in self._existing.items() if k[0] != shard}
        now = self._clock()
        read = 0
        for batch in poll.batches:
            if batch.records:
                self._buffer(batch.shard).add(batch.records, now)
                read += len(batch.records)
            if batch.millis_behind is not None:
                self.stats.lag[batch.shard] = f"{batch.millis_behind}ms"
            elif batch.records_behind is not None:
                self.stats.lag[batch.shard] = f"{batch.records_behind} records"
            if batch.shard_end:
                self._ending.add(batch.shard)
        self.stats.records_read += read
        self._flush(now, force=False)
        return read

    def flush_all(self) -> None:
        """Flush every buffer regardless of bounds (graceful stop)."""
        self._flush(self._clock(), force=True)

    def run(
        self,
        stop: threading.Event,
        *,
        until_idle: float | None = None,
        progress_seconds: float = 5.0,
    ) -> ArchiveStats:
        """Loop until `stop` is set (or, with `until_idle`, the stream is drained and quiet that long).

        On either exit the buffers are flushed and checkpointed; an exception leaves them
        unflushed, which is safe: a restart re-reads from the checkpoint.
        """
        started = last_read = self._clock()
        next_progress = started + progress_seconds
        try:
            while not stop.is_set():
                n = self.step()
                now = self._clock()
                if n:
                    last_read = now
                elif until_idle is not None and now - last_read >= until_idle and self.reader.caught_up():
                    log.info("stream drained and idle for %.1f s: stopping", now - last_read)
                    break
                if now >= next_progress:
                    self._log_progress(now - started)
                    next_progress = now + progress_seconds
            self.flush_all()
            self._log_progress(self._clock() - started)
        finally:
            self.reader.close()
        return self.stats

    def _buffer(self, shard: str) -> ShardBuffer:
        buffer = self._buffers.get(shard)
        if buffer is None:
            buffer = self._buffers[shard] = ShardBuffer(self._policy)
        return buffer

    def _flush(self, now: float, *, force: bool) -> None:
        archived: dict[str, int] = {}
        for shard, buffer in self._buffers.items():
            if not (force or shard in self._ending or buffer.is_due(now)):
                continue
            for records in buffer.take(now, force=force or shard in self._ending):
                self._write(shard, records)
                archived[shard] = records[-1].position
        if archived:
            self.reader.archived(archived)
        for shard in sorted(self._ending):
            # The shard's last records are checkpointed above; only then may its children start.
            self._checkpoints.close_shard(shard)
            self.reader.finished(shard)
            self._buffers.pop(shard, None)
        self._ending.clear()

    def _write(self, shard: str, records: list[RawRecord]) -> None:
        source, hours = self.reader.source, hours_of(records)
        if len(self._existing) > _MAX_LISTED_HOURS:
            self._existing.clear()  # listing again is always correct, just slower
        for hour in hours:
            if (shard, hour) not in self._existing:
                key_prefix = shard_prefix(source, shard, hour, prefix=self._prefix)
                self._existing[(shard, hour)] = positions_in(self._sink.list_keys(key_prefix), key_prefix)
        existing = {hour: self._existing[(shard, hour)] for hour in hours}
        objects = plan_objects(
            records, source=source, shard=shard, digits=self.reader.key_digits, prefix=self._prefix, existing=existing
        )
        for obj in objects:
            self._sink.put_ndjson_gz(obj.key, obj.lines)
            known = self._existing[(shard, obj.hour)]
            if obj.first_position not in known:
                insort(known, obj.first_position)
        # Only now: a crash before this line replays the same records into the same keys.
        if not self._checkpoints.save(shard, records[-1].position):
            self.stats.stale_checkpoints += 1
            log.warning("shard %s: a newer checkpoint exists than %s (another archiver?)", shard, records[-1].position)
        self.stats.records_archived += len(records)
        self.stats.objects_written += len(objects)
        self.stats.flushes += 1

    def _log_progress(self, elapsed: float) -> None:
        s = self.stats
        rate = s.records_archived / elapsed if elapsed > 0 else 0.0
        lag = ", ".join(f"{k}={v}" for k, v in sorted(s.lag.items())) or "n/a"
        log.info(
            "archived %d records in %d objects (read %d, buffered %d, %.0f rec/s); lag: %s",
            s.records_archived,
            s.objects_written,
            s.records_read,
            self.buffered,
            rate,
            lag,
        )


def build_archiver(
    settings: Settings, *, transport: str, policy: FlushPolicy, consumer: str = "raw-archiver"
) -> Archiver:
    """The archiver for `transport` wired to the settings' bucket, checkpoint table and stream."""
    from clickstream.adapters import _clients
    from clickstream.adapters.s3 import lake_bucket
    from clickstream.emulated.checkpoints import CheckpointStore

    source = settings.names.topic if transport == "kafka" else settings.names.stream
    store = CheckpointStore(
        settings.names.checkpoints_table, consumer=consumer, source=source, client=_clients.client("dynamodb", settings)
    )
    reader: StreamReader
    if transport == "kafka":
        from clickstream.emulated.firehose.kafka_reader import KafkaReader

        reader = KafkaReader(settings.require_kafka(), source, checkpoints=store)
    else:
        from clickstream.emulated.firehose.kinesis_reader import KinesisReader

        reader = KinesisReader(source, client=_clients.client("kinesis", settings), checkpoints=store)
    bucket = lake_bucket(settings)
    return Archiver(reader, sink=bucket, checkpoints=store, policy=policy)
