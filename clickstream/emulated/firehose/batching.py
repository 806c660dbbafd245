"""Pure part of the raw archiver: per-shard buffering, the arrival-hour split and object names.

Why a replay never duplicates a record
--------------------------------------
Take one shard (or Kafka partition): records with strictly increasing positions (sequence
numbers or offsets), each with an arrival hour that the stream stores with the record
(Kinesis `ApproximateArrivalTimestamp`, the Kafka message timestamp), so reading it again gives
the same hour. The checkpoint is the position of the last archived record. The rules:

1. A flush is a contiguous run of records that starts right after the checkpoint.
2. It groups the records by arrival hour and cuts each group at every position where an object
   of this shard and hour already exists (a listing of `<hour prefix>/<source>-<shard>-`).
3. Each piece is one object under its hour, named `<source>-<shard>-<its first position>`.
4. The checkpoint moves to the flush's last record only after every object is written.

Invariant: the objects that start at or before the checkpoint hold exactly the records up to the
checkpoint, each once. Objects that start after it may exist: those of a flush that crashed
before its checkpoint (whether all or only some of its objects were written), or an earlier
archive when the checkpoints were wiped and the stream is read again from TRIM_HORIZON. Such an
object starts at a record p after the checkpoint; the flush that next covers p (flushes are
contiguous, so one will) has p in its hour group, and rule 2 starts a piece exactly at p: the
same key, overwritten. A piece never runs into another object either, because that object's
first record is a cut too. So after a successful flush the invariant holds up to its last
record, and once the stream is drained every record is in exactly one object, however the flush
boundaries (size and age bounds, crash points) differed from run to run. Without a listing,
rule 2 still holds for crashes: a crashed flush started at the same checkpoint, so its keys are
first-of-hour positions that the replay cuts at anyway; the listing is what makes a rerun with
wiped checkpoints, or with different flush bounds, safe as well. (Records that expired from the
stream are outside the argument: an old object may start before what is left.)

Arrival times need not be monotonic (Kafka CreateTime can jitter): the split groups by hour, it
does not cut at the first change. `tests/unit/emulated/firehose` checks all this with property tests over
arbitrary crash and rerun histories. Nothing here does I/O or reads a clock: `now` is passed in.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from clickstream.constants import RAW_EVENTS_PREFIX

MS_PER_HOUR = 3_600_000
OBJECT_SUFFIX = ".ndjson.gz"
# Zero-padding of the position in object keys so keys of one shard sort in stream order.
KINESIS_SEQUENCE_DIGITS = 56  # Kinesis sequence numbers are 56 digits today (the API allows up to 129)
KAFKA_OFFSET_DIGITS = 20  # int64 offsets, padded like Kafka's own log segment file names


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One stream record as the archiver sees it."""

    position: int  # Kinesis sequence number or Kafka offset; strictly increasing within a shard
    arrival_ms: int  # epoch milliseconds when the stream accepted it: decides the partition
    data: bytes  # the record bytes, written unchanged as one NDJSON line


@dataclass(frozen=True)
class FlushPolicy:
    """When a shard's buffer is flushed: whichever bound is reached first."""

    max_records: int = 10_000
    max_bytes: int = 16 * 1024 * 1024  # uncompressed NDJSON bytes
    max_age_seconds: float = 60.0  # since the oldest buffered record was read

    def __post_init__(self) -> None:
        if self.max_records < 1 or self.max_bytes < 1 or self.max_age_seconds < 0:
            raise ValueError(f"flush bounds must be positive: {self}")


@dataclass(frozen=True)
class ArchiveObject:
    """One object of a flush: the records of one arrival hour."""

    key: str
    lines: list[bytes]
    first_position: int
    last_position: int
    hour: int  # arrival hour, counted since the epoch


class ShardBuffer:
    """Records read from one shard and not yet archived, in stream order."""

    def __init__(self, policy: FlushPolicy) -> None:
        self._policy = policy
        self._records: list[RawRecord] = []
        self._bytes = 0
        self._since: float | None = None

    def __len__(self) -> int:
        return len(self._records)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def add(self, records: Sequence[RawRecord], now: float) -> None:
        """Append records read at `now` (positions must continue the buffer's)."""
        if not records:
            return
        if self._since is None:
            self._since = now
        self._records.extend(records)
        self._bytes += sum(len(r.data) + 1 for r in records)  # +1: the newline

    def is_due(self, now: float) -> bool:
        """True when a size bound is reached or the oldest record is older than the age bound."""
        p = self._policy
        if not self._records:
            return False
        if len(self._records) >= p.max_records or self._bytes >= p.max_bytes:
            return True
        return self._since is not None and now - self._since >= p.max_age_seconds

    def take(self, now: float, *, force: bool = False) -> list[list[RawRecord]]:
        """Remove and return the flushes that are due, in order, each within the size bounds.

        Full-size flushes are cut first; the rest goes too when `force` (stop, shard end) or the
        age bound is reached. A single record larger than `max_bytes` is a flush of its own.
        """
        p = self._policy
        out: list[list[RawRecord]] = []
        start = 0
        records = self._records
        while True:
            end, size = start, 0
            while end < len(records) and end - start < p.max_records:
                rec_size = len(records[end].data) + 1
                if end > start and size + rec_size > p.max_bytes:
                    break
                size += rec_size
                end += 1
            full = end - start >= p.max_records or size >= p.max_bytes or end < len(records)
            if end == start or not full:
                break
            out.append(records[start:end])
            start = end
        rest = records[start:]
        aged = self._since is not None and now - self._since >= p.max_age_seconds
        if rest and (force or aged):
            out.append(rest)
            rest = []
        self._records = rest
        self._bytes = sum(len(r.data) + 1 for r in rest)
        # The oldest remaining record was read no earlier than `_since`, so keeping it keeps the
        # age bound an upper bound on how long any record waits.
        if not rest:
            self._since = None
        return out

    def clear(self) -> None:
        """Drop everything (a Kafka partition was revoked: its new owner re-reads from the checkpoint)."""
        self._records, self._bytes, self._since = [], 0, None


def plan_objects(
    records: Sequence[RawRecord],
    *,
    source: str,
    shard: str,
    digits: int,
    prefix: str = RAW_EVENTS_PREFIX,
    existing: Mapping[int, Sequence[int]] | None = None,
) -> list[ArchiveObject]:
    """One flush's objects: records grouped by arrival hour, each group cut at the positions in
    `existing[hour]` (sorted first positions of the shard's objects already in that hour), each
    piece named by its own first position."""
    groups: dict[int, list[RawRecord]] = {}
    for rec in records:
        hour = rec.arrival_ms // MS_PER_HOUR
        group = groups.get(hour)
        if group is None:
            groups[hour] = [rec]
        else:
            group.append(rec)
    objects = []
    for hour, recs in groups.items():
        for piece in _cut(recs, (existing or {}).get(hour, ())):
            objects.append(
                ArchiveObject(
                    key=object_key(source, shard, hour, piece[0].position, digits=digits, prefix=prefix),
                    lines=[r.data for r in piece],
                    first_position=piece[0].position,
                    last_position=piece[-1].position,
                    hour=hour,
                )
            )
    objects.sort(key=lambda o: o.first_position)
    return objects


def hours_of(records: Iterable[RawRecord]) -> set[int]:
    """The arrival hours (since the epoch) of some records."""
    return {r.arrival_ms // MS_PER_HOUR for r in records}


def _cut(recs: list[RawRecord], starts: Sequence[int]) -> list[list[RawRecord]]:
    """Split records (in position order) so that a piece begins at each position in `starts`."""
    if not starts:
        return [recs]
    lo = bisect_right(starts, recs[0].position)
    hi = bisect_right(starts, recs[-1].position)
    if lo == hi:
        return [recs]
    pieces, begin = [], 0
    positions = [r.position for r in recs]
    for start in starts[lo:hi]:
        i = bisect_left(positions, start, begin)
        if i > begin:
            pieces.append(recs[begin:i])
            begin = i
    pieces.append(recs[begin:])
    return pieces


def object_key(
    source: str, shard: str, hour: int, first_position: int, *, digits: int, prefix: str = RAW_EVENTS_PREFIX
) -> str:
    """`raw/events/dt=YYYY-MM-DD/hour=HH/<source>-<shard>-<position, zero-padded>.ndjson.gz`.

    `hour` counts hours since the epoch (arrival_ms // MS_PER_HOUR).
    """
    return f"{shard_prefix(source, shard, hour, prefix=prefix)}{first_position:0{digits}d}{OBJECT_SUFFIX}"


def shard_prefix(source: str, shard: str, hour: int, *, prefix: str = RAW_EVENTS_PREFIX) -> str:
    """The key prefix of one shard's objects in one hour (what rule 2 lists)."""
    return f"{prefix}/{hour_partition(hour)}/{source}-{shard}-"


def positions_in(keys: Iterable[str], key_prefix: str) -> list[int]:
    """Sorted first positions of the objects among `keys` that are named `<key_prefix><digits>.ndjson.gz`."""
    out = []
    for key in keys:
        if key.startswith(key_prefix) and key.endswith(OBJECT_SUFFIX):
            tail = key[len(key_prefix) : -len(OBJECT_SUFFIX)]
            if tail.isdigit():
                out.append(int(tail))
    return sorted(out)


@lru_cache(maxsize=4096)
def hour_partition(hour: int) -> str:
    """`dt=YYYY-MM-DD/hour=HH` (UTC) for an hour counted since the epoch."""
    t = datetime.fromtimestamp(hour * 3600, UTC)
    return f"dt={t:%Y-%m-%d}/hour={t:%H}"


def partition_of_key(key: str, *, prefix: str = RAW_EVENTS_PREFIX) -> tuple[str, str] | None:
    """(dt, hour) of an archive object key, or None if the key is not in the layout."""
    if not key.startswith(prefix + "/dt="):
        return None
    parts = key[len(prefix) + 1 :].split("/")
    if len(parts) != 3 or not parts[1].startswith("hour=") or not parts[2].endswith(OBJECT_SUFFIX):
        return None
    dt, hour = parts[0][3:], parts[1][5:]
    if len(dt) != 10 or len(hour) != 2 or not hour.isdigit():
        return None
    return dt, hour
