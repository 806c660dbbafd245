"""The archiver loop with in-memory stand-ins for the stream, the bucket and the checkpoint table."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from support.clock import ManualClock

from clickstream.emulated.firehose.archiver import Archiver
from clickstream.emulated.firehose.batching import MS_PER_HOUR, FlushPolicy, RawRecord, object_key
from clickstream.emulated.firehose.reading import Poll, ShardBatch

HOUR = 1_795_000_000_000 // MS_PER_HOUR * MS_PER_HOUR


class ScriptedReader:
    """Plays back polls; each poll advances the fake clock by `tick` seconds."""

    source = "src"
    key_digits = 4

    def __init__(self, polls: list[Poll], clock: ManualClock, log: list[tuple[str, ...]], tick: float = 1.0) -> None:
        self._polls, self._clock, self._log, self._tick = list(polls), clock, log, tick
        self.closed = False

    def poll(self) -> Poll:
        self._clock.now += self._tick
        return self._polls.pop(0) if self._polls else Poll()

    def archived(self, positions: dict[str, int]) -> None:
        self._log.extend(("commit", shard, str(pos)) for shard, pos in sorted(positions.items()))

    def finished(self, shard: str) -> None:
        self._log.append(("finished", shard))

    def caught_up(self) -> bool:
        return not self._polls

    def close(self) -> None:
        self.closed = True


class Sink:
    def __init__(self, log: list[tuple[str, ...]]) -> None:
        self.objects: dict[str, list[bytes]] = {}
        self._log = log

    def list_keys(self, prefix: str) -> list[str]:
        self._log.append(("list", prefix))
        return [k for k in self.objects if k.startswith(prefix)]

    def put_ndjson_gz(self, key: str, lines: Iterable[bytes]) -> int:
        self.objects[key] = list(lines)
        self._log.append(("put", key))
        return len(self.objects[key])


class Checkpoints:
    def __init__(self, log: list[tuple[str, ...]]) -> None:
        self.positions: dict[str, int] = {}
        self.closed: set[str] = set()
        self._log = log

    def save(self, shard: str, position: int) -> bool:
        self._log.append(("checkpoint", shard, str(position)))
        if position < self.positions.get(shard, -1):
            return False
        self.positions[shard] = position
        return True

    def close_shard(self, shard: str) -> None:
        self._log.append(("close", shard))
        self.closed.add(shard)


def _recs(start: int, n: int, arrival: int = HOUR) -> list[RawRecord]:
    return [RawRecord(p, arrival, f"{p}".encode()) for p in range(start, start + n)]


def _archiver(polls: list[Poll], policy: FlushPolicy) -> tuple[Archiver, ScriptedReader, Sink, Checkpoints, list]:
    log: list[tuple[str, ...]] = []
    clock = ManualClock(0.0)
    reader = ScriptedReader(polls, clock, log)
    sink, checkpoints = Sink(log), Checkpoints(log)
    return (
        Archiver(reader, sink=sink, checkpoints=checkpoints, policy=policy, clock=clock),
        reader,
        sink,
        checkpoints,
        log,
    )


def test_objects_are_written_before_their_checkpoint_and_the_commit_comes_last() -> None:
    records = _recs(1, 2, HOUR) + _recs(3, 2, HOUR + MS_PER_HOUR)  # one flush across two hours
    archiver, _, sink, checkpoints, log = _archiver([Poll([ShardBatch("0", records)])], FlushPolicy(max_records=4))
    archiver.step()
    assert [e[0] for e in log if e[0] != "list"] == ["put", "put", "checkpoint", "commit"]
    assert sorted(k.rsplit("-", 1)[1] for k in sink.objects) == ["0001.ndjson.gz", "0003.ndjson.gz"]
    assert checkpoints.positions == {"0": 4}


def test_run_until_idle_flushes_the_tail_and_closes_the_reader() -> None:
    polls = [Poll([ShardBatch("a", _recs(1, 5)), ShardBatch("b", _recs(1, 3))]), Poll([ShardBatch("a", _recs(6, 2))])]
    archiver, reader, sink, checkpoints, _ = _archiver(polls, FlushPolicy(max_records=4, max_age_seconds=3600))
    stats = archiver.run(threading.Event(), until_idle=2.0)
    assert stats.records_read == stats.records_archived == 10
    assert sorted(line for lines in sink.objects.values() for line in lines) == sorted(
        [r.data for r in _recs(1, 7)] + [r.data for r in _recs(1, 3)]
    )
    assert checkpoints.positions == {"a": 7, "b": 3}
    assert reader.closed


def test_age_bound_flushes_a_quiet_shard() -> None:
    polls = [Poll([ShardBatch("a", _recs(1, 2))])] + [Poll()] * 5
    archiver, _, sink, _, _ = _archiver(polls, FlushPolicy(max_records=100, max_age_seconds=3))
    for _ in range(3):
        archiver.step()
    assert not sink.objects  # read at t=1, now t=3: younger than 3 s
    archiver.step()
    assert len(sink.objects) == 1


def test_a_stop_request_flushes_what_is_buffered() -> None:
    stop = threading.Event()
    stop.set()
    archiver, _, sink, _, _ = _archiver([], FlushPolicy())
    archiver._buffer("a").add(_recs(1, 3), 0.0)
    archiver.run(stop)
    assert sum(len(v) for v in sink.objects.values()) == 3


def test_shard_end_checkpoints_then_closes_the_shard_then_tells_the_reader() -> None:
    polls = [Poll([ShardBatch("parent", _recs(1, 2))]), Poll([ShardBatch("parent", [], shard_end=True)])]
    archiver, _, _, checkpoints, log = _archiver(polls, FlushPolicy(max_records=100, max_age_seconds=3600))
    archiver.step()
    archiver.step()
    assert [e for e in log if e[0] not in ("put", "list")] == [
        ("checkpoint", "parent", "2"),
        ("commit", "parent", "2"),
        ("close", "parent"),
        ("finished", "parent"),
    ]
    assert checkpoints.closed == {"parent"}


def test_a_revoked_partition_loses_its_buffer_not_its_records() -> None:
    polls = [Poll([ShardBatch("1", _recs(1, 3))]), Poll(revoked=["1"]), Poll([ShardBatch("1", _recs(1, 3))])]
    archiver, _, sink, _, _ = _archiver(polls, FlushPolicy(max_records=100, max_age_seconds=3600))
    archiver.step()
    archiver.step()
    assert archiver.buffered == 0
    archiver.step()
    archiver.flush_all()
    assert sorted(line for lines in sink.objects.values() for line in lines) == [b"1", b"2", b"3"]


def test_a_stale_checkpoint_is_counted_not_fatal() -> None:
    archiver, _, _, checkpoints, _ = _archiver([Poll([ShardBatch("a", _recs(1, 2))])], FlushPolicy(max_records=2))
    checkpoints.positions["a"] = 100  # another archiver got further
    archiver.step()
    assert archiver.stats.stale_checkpoints == 1
    assert checkpoints.positions == {"a": 100}


def test_each_shard_hour_is_listed_once_and_existing_objects_are_overwritten() -> None:
    """GIVEN an object left by an earlier run at position 3 WHEN a flush covers 1..6 THEN it is cut at 3."""
    polls = [Poll([ShardBatch("a", _recs(1, 3))]), Poll([ShardBatch("a", _recs(4, 3))])]
    archiver, _, sink, _, log = _archiver(polls, FlushPolicy(max_records=3))
    stale = object_key("src", "a", HOUR // MS_PER_HOUR, 3, digits=4)
    sink.objects[stale] = [b"3", b"4", b"5", b"6"]  # an older, longer cut
    archiver.step()
    archiver.step()
    assert sum(1 for e in log if e[0] == "list") == 1
    assert sorted(line for lines in sink.objects.values() for line in lines) == sorted(r.data for r in _recs(1, 6))
    assert sink.objects[stale] == [b"3"]  # flush 1..3 was cut at 3; 4..6 went to a key of its own
