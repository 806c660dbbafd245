"""The Kafka consumer loop with an in-memory consumer group (no broker)."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

from consume_fakes import MemoryDLQ

from clickstream.emulated.event_source_mapping.events import KafkaMessage
from clickstream.emulated.event_source_mapping.kafka import KafkaConsumerLoop
from clickstream.emulated.event_source_mapping.options import ConsumerOptions
from clickstream.emulated.event_source_mapping.retry import RetryPolicy

P0, P1 = "clicks-0", "clicks-1"


class FakeGroup:
    """A group member: partitions of messages, committed (offset, metadata), scheduled rebalances."""

    def __init__(self, sizes: dict[str, int], log: list[tuple[Any, ...]]) -> None:
        self.messages = {
            pid: [
                KafkaMessage("clicks", int(pid[-1]), o, 1_795_000_000_000 + o, "CREATE_TIME", b"k", b"{}")
                for o in range(n)
            ]
            for pid, n in sizes.items()
        }
        self.committed_: dict[str, tuple[int, str]] = {}
        self.assigned: list[str] = []
        self.position: dict[str, int] = {}
        self.pending: list[str] | None = sorted(sizes)  # the first poll assigns everything
        self.refuse_commits = False
        self.log = log
        self.on_revoked: Callable[[list[str]], None] = lambda p: None
        self.on_assigned: Callable[[list[str]], None] = lambda p: None

    def poll(self, timeout_ms: int, max_records: int) -> list[KafkaMessage]:
        if self.pending is not None:
            self.on_revoked(list(self.assigned))
            self.assigned, self.pending = self.pending, None
            self.position = {p: self.committed_.get(p, (0, ""))[0] for p in self.assigned}
            self.on_assigned(list(self.assigned))
        out: list[KafkaMessage] = []
        for pid in self.assigned:
            take = self.messages[pid][self.position[pid] : self.position[pid] + max_records - len(out)]
            self.position[pid] += len(take)
            out.extend(take)
        return out

    def commit(self, offsets: dict[str, tuple[int, str]]) -> bool:
        if self.refuse_commits:
            return False
        for pid, (offset, meta) in offsets.items():
            self.committed_[pid] = (offset, meta)
            self.log.append(("commit", pid, offset, meta))
        return True

    def committed(self, pid: str) -> tuple[int, str] | None:
        return self.committed_.get(pid)

    def records_behind(self, pid: str) -> int | None:
        return len(self.messages[pid]) - self.position.get(pid, 0)

    def assignment(self) -> list[str]:
        return list(self.assigned)

    def close(self) -> None:
        self.log.append(("close",))


class Handler:
    def __init__(self, log: list[tuple[Any, ...]], respond: Callable[[dict[str, list[int]], int], Any] | None = None):
        self.log, self.respond, self.calls = log, respond, 0

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        assert event["eventSource"] == "SelfManagedKafka" and event["bootstrapServers"] == "b:9092"
        batch = {pid: [r["offset"] for r in recs] for pid, recs in event["records"].items()}
        for recs in event["records"].values():
            assert all(base64.b64decode(r["value"]) == b"{}" for r in recs)
        self.calls += 1
        self.log.append(("invoke", batch))
        return None if self.respond is None else self.respond(batch, self.calls)


def loop(group: FakeGroup, handler: Handler, dlq: MemoryDLQ | None = None, **options: Any) -> KafkaConsumerLoop:
    def connect(on_revoked: Callable[[list[str]], None], on_assigned: Callable[[list[str]], None]) -> FakeGroup:
        group.on_revoked, group.on_assigned = on_revoked, on_assigned
        return group

    opts = {"batch_size": 4, "retry": RetryPolicy(max_retries=1, base_delay=0.0, max_delay=0.0), **options}
    return KafkaConsumerLoop(
        handler, connect=connect, dlq=dlq or MemoryDLQ(), bootstrap="b:9092", options=ConsumerOptions(**opts)
    )


def invoked(log: list[tuple[Any, ...]]) -> list[dict[str, list[int]]]:
    return [entry[1] for entry in log if entry[0] == "invoke"]


def test_offsets_are_committed_only_after_the_handler_returned_with_the_range_noted_before() -> None:
    log: list[tuple[Any, ...]] = []
    group = FakeGroup({P0: 3, P1: 2}, log)

    loop(group, Handler(log)).run(threading.Event(), until_idle=0.0)

    first = log.index(("invoke", {P0: [0, 1, 2], P1: [0]}))
    assert log[first - 2 : first] == [("commit", P0, 0, "batch:2"), ("commit", P1, 0, "batch:0")]
    assert log[first + 1 : first + 3] == [("commit", P0, 3, ""), ("commit", P1, 1, "")]
    assert group.committed_ == {P0: (3, ""), P1: (2, "")}
    assert log[-1] == ("close",)


def test_a_partial_failure_commits_each_partition_up_to_its_failure_and_retries_the_rest() -> None:
    log: list[tuple[Any, ...]] = []
    group = FakeGroup({P0: 4}, log)

    def respond(batch: dict[str, list[int]], n: int) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": f"{P0}:2"}]} if n == 1 else None

    loop(group, Handler(log, respond)).run(threading.Event(), until_idle=0.0)

    assert invoked(log)[:2] == [{P0: [0, 1, 2, 3]}, {P0: [2, 3]}]
    assert ("commit", P0, 2, "batch:3") in log, "the part before the failure is committed, the range kept"
    assert group.committed_[P0] == (4, "")


def test_a_batch_that_keeps_failing_goes_to_the_dlq_and_its_offsets_are_committed() -> None:
    log: list[tuple[Any, ...]] = []
    group = FakeGroup({P0: 2, P1: 2}, log)
    dlq = MemoryDLQ()

    def respond(batch: dict[str, list[int]], n: int) -> Any:
        raise RuntimeError("boom")

    stats = loop(group, Handler(log, respond), dlq).run(threading.Event(), until_idle=0.0)

    assert len(invoked(log)) == 2, "one invocation + one retry"
    (message,) = dlq.messages
    info = message["KafkaBatchInfo"]
    assert info["batchSize"] == 4 and info["bootstrapServers"] == "b:9092"
    assert info["recordsInfo"][P0]["firstRecordOffset"] == "0" and info["recordsInfo"][P1]["lastRecordOffset"] == "1"
    assert "RuntimeError: boom" in message["reason"]
    assert group.committed_ == {P0: (2, ""), P1: (2, "")}
    assert stats.dead_lettered == 1


def test_a_range_noted_by_a_crashed_member_is_replayed_exactly_first() -> None:
    log: list[tuple[Any, ...]] = []
    group = FakeGroup({P0: 10}, log)
    group.committed_[P0] = (2, "batch:8")  # a member died after noting 2..8, before committing

    loop(group, Handler(log), batch_size=3).run(threading.Event(), until_idle=0.0)

    assert invoked(log) == [{P0: [2, 3, 4, 5, 6, 7, 8]}, {P0: [9]}]


def test_on_revoke_the_buffered_records_are_invoked_and_committed_before_the_partitions_move() -> None:
    log: list[tuple[Any, ...]] = []
    group = FakeGroup({P0: 3, P1: 3}, log)
    consumer = loop(group, Handler(log), batch_size=100, batch_window=300.0)
    consumer._add(group.poll(0, 100))  # the first poll assigns both partitions
    assert not invoked(log), "the window keeps them buffered"

    group.pending = [P1]  # a rebalance: P0 goes to another member
    consumer._add(group.poll(0, 100))

    assert invoked(log) == [{P0: [0, 1, 2], P1: [0, 1, 2]}]
    assert group.committed_ == {P0: (3, ""), P1: (3, "")}


def test_a_refused_commit_means_the_partition_is_gone_and_its_batch_is_not_invoked() -> None:
    log: list[tuple[Any, ...]] = []
    group = FakeGroup({P0: 3}, log)
    group.refuse_commits = True

    stats = loop(group, Handler(log)).run(threading.Event(), until_idle=0.0)

    assert not invoked(log) and stats.lost_commits >= 1


class SlowRebalance(FakeGroup):
    """P0 first; then a rebalance whose assignment (P0 and P1, the partitions a dead member had)
    comes only some polls after the revocation, the old assignment still reported meanwhile."""

    def __init__(self, log: list[tuple[Any, ...]], *, gap_polls: int) -> None:
        super().__init__({P0: 2, P1: 3}, log)
        self.pending = [P0]
        self.polls, self.gap_polls = 0, gap_polls

    def poll(self, timeout_ms: int, max_records: int) -> list[KafkaMessage]:
        self.polls += 1
        if self.polls == 2:  # right after P0 was drained: A's session ended, the group rebalances
            self.on_revoked(list(self.assigned))
            return []
        if self.polls == 2 + self.gap_polls:
            self.pending = [P0, P1]
        elif self.polls > 2 and self.polls < 2 + self.gap_polls:
            return []  # the join and sync under way: nothing fetched, the old assignment still shown
        return super().poll(timeout_ms, max_records)


def test_an_idle_member_does_not_stop_between_a_revocation_and_its_assignment() -> None:
    log: list[tuple[Any, ...]] = []
    group = SlowRebalance(log, gap_polls=5)

    stats = loop(group, Handler(log)).run(threading.Event(), until_idle=0.0)

    # it waited for the rebalance and took the dead member's partition: every record invoked once
    offsets = sorted((pid, o) for batch in invoked(log) for pid, offs in batch.items() for o in offs)
    assert offsets == [(P0, 0), (P0, 1), (P1, 0), (P1, 1), (P1, 2)]
    assert stats.rebalances >= 2 and group.committed_[P1] == (3, "")
