"""The Firehose stand-in's Kinesis source: `KinesisReader`, every shard of one stream read round-robin.

- Shards come from ListShards. After a reshard a child starts only when each parent that is
  still listed has been archived to its end (checkpoint `closed`); a parent counts as ended
  when GetRecords returns no NextShardIterator (AWS), or when it is closed and nothing is left
  past its EndingSequenceNumber (moto, which moves a split parent's records to the children).
  This keeps a user's events in order across the reshard, simply: one process, parents first.
- Iterators start AFTER_SEQUENCE_NUMBER of the checkpoint, or at TRIM_HORIZON without one. The
  reader remembers the last sequence number it handed out, so an expired iterator is re-created
  from there (equal to the checkpoint when nothing is buffered), never skipping or repeating.
- Each shard is called at most GET_RECORDS_PER_SHARD_PER_SECOND times a second (less while it
  is empty), with `Limit` records per call; MillisBehindLatest is reported per shard.
- One process reads every shard; leases that spread shards over several archiver processes
  (the checkpoint table already has room for them) come in a later issue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import error_code
from clickstream.emulated.checkpoints import Checkpoint
from clickstream.emulated.firehose.batching import KINESIS_SEQUENCE_DIGITS, RawRecord
from clickstream.emulated.firehose.reading import Poll, ShardBatch
from clickstream.emulated.stream_reading import (
    GET_RECORDS_MAX,
    GET_RECORDS_PER_SHARD_PER_SECOND,
    GET_RECORDS_THROTTLED,
    ShardInfo,
    list_shards,
    readable_shards,
)
from clickstream.errors import StreamUnavailableError

log = logging.getLogger(__name__)

THROTTLE_BACKOFF_SECONDS = 1.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class CheckpointSource(Protocol):
    def load(self) -> dict[str, Checkpoint]: ...


@dataclass
class _Shard:
    info: ShardInfo
    last_read: int | None  # the last sequence number handed out (or the checkpoint)
    iterator: str | None = None
    next_at: float = 0.0
    caught_up: bool = False
    ending: bool = False


class KinesisReader:
    key_digits = KINESIS_SEQUENCE_DIGITS

    def __init__(
        self,
        stream: str,
        *,
        client: Any,
        checkpoints: CheckpointSource,
        limit: int = GET_RECORDS_MAX,
        idle_interval: float = 0.5,
        refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= limit <= GET_RECORDS_MAX:
            raise ValueError(f"limit must be 1..{GET_RECORDS_MAX}, got {limit}")
        self.source = stream
        self._client, self._checkpoints = client, checkpoints
        self._limit, self._idle_interval, self._refresh_seconds = limit, idle_interval, refresh_seconds
        self._busy_interval = 1.0 / GET_RECORDS_PER_SHARD_PER_SECOND
        self._clock, self._sleep = clock, sleep
        self._active: dict[str, _Shard] = {}
        self._finished: set[str] = set()
        self._start: dict[str, int] | None = None  # checkpoints loaded at the first refresh
        self._refresh_at = 0.0

    def poll(self) -> Poll:
        """One GetRecords call on every shard that may be called now (sleeps briefly if none may)."""
        now = self._clock()
        if now >= self._refresh_at:
            self._refresh(now)
        waiting = [s for s in self._active.values() if not s.ending]
        ready = [s for s in waiting if s.next_at <= now]
        if not ready:
            wake = min((s.next_at for s in waiting), default=now + self._idle_interval)
            self._sleep(min(max(wake - now, 0.0), self._idle_interval))
            return Poll()
        batches = [b for b in (self._read(s, now) for s in ready) if b is not None]
        return Poll(batches=batches)

    def archived(self, positions: dict[str, int]) -> None:
        """Nothing to do: the DynamoDB checkpoint is Kinesis's only record of progress."""

    def finished(self, shard: str) -> None:
        self._finished.add(shard)
        self._active.pop(shard, None)
        self._refresh_at = 0.0  # list again now: the children may start

    def caught_up(self) -> bool:
        if self._start is None or self._refresh_at == 0.0:
            return False  # never listed, or a shard just ended and its children are not listed yet
        return all(s.caught_up and not s.ending for s in self._active.values())

    def close(self) -> None:
        pass

    def _read(self, shard: _Shard, now: float) -> ShardBatch | None:
        sid = shard.info.shard_id
        try:
            if shard.iterator is None:
                shard.iterator = self._iterator(sid, shard.last_read)
            resp = self._client.get_records(ShardIterator=shard.iterator, Limit=self._limit)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ExpiredIteratorException":
                log.info("shard %s: iterator expired; re-created after %s", sid, shard.last_read)
                shard.iterator = None
                return None
            if code in GET_RECORDS_THROTTLED:
                shard.next_at = now + THROTTLE_BACKOFF_SECONDS
                return None
            if code == "ResourceNotFoundException":
                raise StreamUnavailableError(f"stream {self.source} shard {sid}: {code}") from exc
            raise
        records = [
            RawRecord(int(r["SequenceNumber"]), _arrival_ms(r["ApproximateArrivalTimestamp"]), r["Data"])
            for r in resp.get("Records", ())
        ]
        if records:
            shard.last_read = records[-1].position
        shard.iterator = resp.get("NextShardIterator")
        behind = resp.get("MillisBehindLatest")
        shard.caught_up = not records and not behind
        ending = shard.info.ending_sequence
        shard.ending = shard.iterator is None or (
            ending is not None and not records and (shard.last_read or 0) >= ending
        )
        shard.next_at = now + (self._busy_interval if records else self._idle_interval)
        return ShardBatch(sid, records, millis_behind=behind, shard_end=shard.ending)

    def _iterator(self, shard_id: str, after: int | None) -> str:
        kwargs: dict[str, Any] = {"StreamName": self.source, "ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=str(after))
        return str(self._client.get_shard_iterator(**kwargs)["ShardIterator"])

    def _refresh(self, now: float) -> None:
        if self._start is None:
            loaded = self._checkpoints.load()
            self._finished |= {c.shard for c in loaded.values() if c.closed}
            self._start = {c.shard: c.position for c in loaded.values() if c.position is not None}
        shards = self._list_shards()
        for sid in readable_shards(shards, self._finished):
            if sid not in self._active:
                info = next(s for s in shards if s.shard_id == sid)
                self._active[sid] = _Shard(info, last_read=self._start.get(sid))
                log.info("reading shard %s after %s", sid, self._start.get(sid, "TRIM_HORIZON"))
        for sid, shard in self._active.items():
            # A shard may have closed since the last listing (moto only says so here).
            shard.info = next((s for s in shards if s.shard_id == sid), shard.info)
        self._refresh_at = now + self._refresh_seconds

    def _list_shards(self) -> list[ShardInfo]:
        return list_shards(self._list_page, self.source)

    def _list_page(self, **kwargs: Any) -> Any:
        try:
            return self._client.list_shards(**kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if code in ("ResourceNotFoundException", "LimitExceededException", "ResourceInUseException"):
                raise StreamUnavailableError(f"stream {self.source}: ListShards {code}") from exc
            raise


def _arrival_ms(ts: datetime) -> int:
    """Epoch milliseconds, floored (exact integer arithmetic, no float rounding at an hour's edge)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - _EPOCH) // _MS
