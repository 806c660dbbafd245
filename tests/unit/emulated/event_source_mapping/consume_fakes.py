"""In-memory stand-ins for the Kinesis stream, the lease and checkpoint tables, the DLQ and a clock."""

from __future__ import annotations

import base64
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

from support.clock import ManualClock

from clickstream.emulated.checkpoints import Checkpoint
from clickstream.emulated.event_source_mapping.events import KinesisRecord
from clickstream.emulated.event_source_mapping.kinesis_shards import ShardRead
from clickstream.emulated.event_source_mapping.leases import Lease
from clickstream.emulated.stream_reading import ShardInfo, readable_shards

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"


class Clock(ManualClock):
    """Starts at a plausible epoch time; every sleep advances it (the consume loops sleep 0 s too)."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        super().__init__(start, min_sleep=0.001)


class FakeStream:
    """Shards of records; iterators are "<shard>|<index of the next record>"."""

    min_read_interval = 0.2

    def __init__(
        self,
        shards: dict[str, int],
        *,
        start: int = 1000,
        parents: dict[str, tuple[str, ...]] | None = None,
        closed: Collection[str] = (),
    ) -> None:
        self.records: dict[str, list[KinesisRecord]] = {
            sid: [KinesisRecord(start + i * 10, f"u{i}", f'{{"n":{i}}}'.encode(), 1.0 + i) for i in range(n)]
            for sid, n in shards.items()
        }
        self.parents = parents or {}
        self.closed = set(closed)  # closed shards: no NextShardIterator at their end (AWS)

    def stream_arn(self) -> str:
        return ARN

    def leasable(self, finished: Collection[str]) -> tuple[list[str], dict[str, int | None]]:
        infos = [ShardInfo(s, self.parents.get(s, ())) for s in self.records]
        return readable_shards(infos, finished), {s: None for s in self.records}

    def iterator(self, shard_id: str, after: int | None) -> str:
        recs = self.records[shard_id]
        index = 0 if after is None else sum(1 for r in recs if r.sequence <= after)
        return f"{shard_id}|{index}"

    def read(self, iterator: str, *, limit: int = 10_000) -> ShardRead:
        sid, _, index = iterator.partition("|")
        i = int(index)
        recs = self.records[sid][i : i + limit]
        behind = len(self.records[sid]) - i - len(recs)
        end = sid in self.closed and behind == 0 and not recs
        return ShardRead(recs, None if end else f"{sid}|{i + len(recs)}", behind * 1000)


class MemoryLeases:
    """The LeaseTable's conditional-write semantics, in a dict."""

    def __init__(self, duration: float = 10.0) -> None:
        self.duration = duration
        self.items: dict[str, Lease] = {}
        self.writes: list[tuple[str, str]] = []

    def load(self) -> dict[str, Lease]:
        return dict(self.items)

    def ensure(self, shard: str) -> None:
        self.items.setdefault(shard, Lease(shard, None, 0, 0.0))

    def _swap(self, seen: Lease, new: Lease, op: str, *, owner: str | None = None) -> Lease | None:
        cur = self.items[seen.shard]
        if cur.counter != seen.counter or (owner is not None and cur.owner != owner):
            return None
        self.items[seen.shard] = replace(new, counter=cur.counter + 1)
        self.writes.append((op, seen.shard))
        return self.items[seen.shard]

    def take(self, lease: Lease, *, me: str, now: float) -> Lease | None:
        return self._swap(lease, replace(lease, owner=me, expires_at=now + self.duration), "take")

    def renew(self, lease: Lease, *, me: str, now: float) -> Lease | None:
        return self._swap(lease, replace(lease, expires_at=now + self.duration), "renew", owner=me)

    def record_batch(self, lease: Lease, first: int, last: int, *, me: str, now: float) -> Lease | None:
        new = replace(lease, batch_first=first, batch_last=last, expires_at=now + self.duration)
        return self._swap(lease, new, "batch", owner=me)

    def release(self, lease: Lease, *, me: str) -> bool:
        return self._swap(lease, replace(lease, owner=None, expires_at=0.0), "release", owner=me) is not None

    def finish(self, lease: Lease, *, me: str) -> bool:
        new = replace(lease, owner=None, expires_at=0.0, finished=True)
        return self._swap(lease, new, "finish", owner=me) is not None


class MemoryCheckpoints:
    def __init__(self) -> None:
        self.positions: dict[str, int] = {}
        self.closed: set[str] = set()

    def load(self) -> dict[str, Checkpoint]:
        shards = set(self.positions) | self.closed
        return {s: Checkpoint(s, self.positions.get(s), s in self.closed) for s in shards}

    def save(self, shard: str, position: int) -> bool:
        if position < self.positions.get(shard, -1):
            return False
        self.positions[shard] = position
        return True

    def close_shard(self, shard: str) -> None:
        self.closed.add(shard)


class MemoryDLQ:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> str:
        self.messages.append(message)
        return str(len(self.messages))


@dataclass
class RecordingHandler:
    """A stand-in for the Lambda function: records each invocation's (shard, sequence numbers)."""

    calls: list[tuple[str, list[int]]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    respond: Any = None  # callable(shard, seqs, call_number) -> response, or raise

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        assert context.get_remaining_time_in_millis() > 0
        records = event["Records"]
        shard = records[0]["eventID"].split(":")[0]
        seqs = [int(r["kinesis"]["sequenceNumber"]) for r in records]
        for r in records:
            base64.b64decode(r["kinesis"]["data"], validate=True)
        self.calls.append((shard, seqs))
        self.events.append(event)
        return None if self.respond is None else self.respond(shard, seqs, len(self.calls))

    def applied(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for shard, seqs in self.calls:
            out.setdefault(shard, []).extend(seqs)
        return out
