"""The Kinesis consumer loop with in-memory stream, leases, checkpoints and DLQ (fake clock)."""

from __future__ import annotations

import threading
from typing import Any

from consume_fakes import Clock, FakeStream, MemoryCheckpoints, MemoryDLQ, MemoryLeases, RecordingHandler

from clickstream.emulated.event_source_mapping.kinesis import KinesisConsumer
from clickstream.emulated.event_source_mapping.leases import Lease
from clickstream.emulated.event_source_mapping.options import ConsumerOptions
from clickstream.emulated.event_source_mapping.retry import RetryPolicy
from clickstream.errors import RetryableError

S0, S1 = "shardId-000000000000", "shardId-000000000001"


def consumer(
    handler: Any,
    stream: FakeStream,
    *,
    leases: MemoryLeases | None = None,
    checkpoints: MemoryCheckpoints | None = None,
    dlq: MemoryDLQ | None = None,
    clock: Clock | None = None,
    worker: str = "w1",
    **options: Any,
) -> KinesisConsumer:
    clock = clock or Clock()
    return KinesisConsumer(
        handler,
        shards=stream,
        leases=leases or MemoryLeases(),
        checkpoints=checkpoints or MemoryCheckpoints(),
        dlq=dlq or MemoryDLQ(),
        options=ConsumerOptions(**{"batch_size": 4, "retry": RetryPolicy(max_retries=2, base_delay=0.1), **options}),
        worker_id=worker,
        clock=clock,
        wall=clock,
        sleep=clock.sleep,
        jitter=lambda: 0.0,
    )


def seqs_of(stream: FakeStream, sid: str) -> list[int]:
    return [r.sequence for r in stream.records[sid]]


def test_every_record_is_invoked_once_in_order_then_checkpointed_and_leases_released() -> None:
    stream = FakeStream({S0: 10, S1: 7})
    handler, leases, checkpoints = RecordingHandler(), MemoryLeases(), MemoryCheckpoints()

    stats = consumer(handler, stream, leases=leases, checkpoints=checkpoints).run(threading.Event(), until_idle=2)

    assert handler.applied() == {S0: seqs_of(stream, S0), S1: seqs_of(stream, S1)}
    assert all(len(seqs) <= 4 for _, seqs in handler.calls)
    assert checkpoints.positions == {S0: seqs_of(stream, S0)[-1], S1: seqs_of(stream, S1)[-1]}
    assert stats.records == 17 and stats.failed_invocations == 0
    assert all(le.owner is None for le in leases.items.values()), "released on exit"
    # every batch's range was on the lease before its invocation
    assert [op for op, _ in leases.writes].count("batch") == len(handler.calls)


def test_a_partial_failure_is_retried_from_the_lowest_failed_record_with_the_same_end() -> None:
    stream = FakeStream({S0: 8})

    def respond(shard: str, seqs: list[int], n: int) -> Any:
        if n == 1:
            return {"batchItemFailures": [{"itemIdentifier": str(seqs[3])}, {"itemIdentifier": str(seqs[2])}]}
        return {"batchItemFailures": []}

    handler, checkpoints = RecordingHandler(respond=respond), MemoryCheckpoints()
    consumer(handler, stream, checkpoints=checkpoints).run(threading.Event(), until_idle=2)

    s = seqs_of(stream, S0)
    assert handler.calls[0] == (S0, s[0:4])
    assert handler.calls[1] == (S0, s[2:4]), "from the lowest failure, not topped up"
    assert handler.calls[2] == (S0, s[4:8])
    assert checkpoints.positions[S0] == s[-1]


def test_a_batch_that_keeps_failing_goes_to_the_dlq_and_the_shard_moves_on() -> None:
    stream = FakeStream({S0: 8, S1: 3})
    poison = seqs_of(stream, S0)[:4]

    def respond(shard: str, seqs: list[int], n: int) -> Any:
        if seqs == poison:
            raise RetryableError("DynamoDB throttled", retry_after=0.5)
        return None

    handler, dlq, checkpoints = RecordingHandler(respond=respond), MemoryDLQ(), MemoryCheckpoints()
    stats = consumer(handler, stream, dlq=dlq, checkpoints=checkpoints).run(threading.Event(), until_idle=2)

    assert handler.calls.count((S0, poison)) == 3, "first invocation + 2 retries"
    (message,) = dlq.messages
    info = message["KinesisBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]) == (
        S0,
        str(poison[0]),
        str(poison[-1]),
    )
    assert info["batchSize"] == 4 and info["streamArn"].endswith("stream/clicks")
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert "RetryableError: DynamoDB throttled" in message["reason"]
    assert handler.applied()[S0][-4:] == seqs_of(stream, S0)[4:], "the shard moved on"
    assert handler.applied()[S1] == seqs_of(stream, S1), "the other shard was never held up"
    assert checkpoints.positions[S0] == seqs_of(stream, S0)[-1]
    assert (stats.dead_lettered, stats.failed_invocations) == (1, 3)


def test_the_batch_recorded_on_the_lease_is_replayed_first_with_its_exact_range() -> None:
    stream = FakeStream({S0: 10})
    s = seqs_of(stream, S0)
    leases, checkpoints = MemoryLeases(), MemoryCheckpoints()
    checkpoints.save(S0, s[1])
    # a worker died after writing its batch s[2]..s[8] to the lease (applied or not, we cannot know)
    leases.items[S0] = Lease(S0, "dead", 7, 0.0, batch_first=s[2], batch_last=s[8])
    handler = RecordingHandler()

    consumer(handler, stream, leases=leases, checkpoints=checkpoints, batch_size=3).run(threading.Event(), until_idle=2)

    assert handler.calls[0] == (S0, s[2:9]), "the same range, though larger than our batch size"
    assert handler.calls[1] == (S0, s[9:10])


def test_a_lease_taken_by_another_worker_stops_the_shard_before_its_next_batch() -> None:
    stream = FakeStream({S0: 12})
    leases = MemoryLeases()

    def respond(shard: str, seqs: list[int], n: int) -> Any:
        if n == 1:  # while our first batch runs, another worker steals the lease
            lease = leases.items[S0]
            leases.items[S0] = Lease(S0, "thief", lease.counter + 1, lease.expires_at + 100)
        return None

    handler, checkpoints = RecordingHandler(respond=respond), MemoryCheckpoints()
    stats = consumer(handler, stream, leases=leases, checkpoints=checkpoints).run(threading.Event(), until_idle=3)

    assert len(handler.calls) == 1, "no batch invoked without the lease"
    assert checkpoints.positions[S0] == seqs_of(stream, S0)[3], "the finished batch is still checkpointed"
    assert stats.leases_lost == 1 and leases.items[S0].owner == "thief"


def test_a_stop_finishes_the_batch_in_flight_checkpoints_and_releases_the_leases() -> None:
    stream = FakeStream({S0: 12, S1: 12})
    stop = threading.Event()
    leases, checkpoints = MemoryLeases(), MemoryCheckpoints()

    def respond(shard: str, seqs: list[int], n: int) -> Any:
        if n == 2:
            stop.set()  # SIGTERM arrives during the second invocation
        return None

    handler = RecordingHandler(respond=respond)
    consumer(handler, stream, leases=leases, checkpoints=checkpoints).run(stop)

    assert len(handler.calls) == 2
    assert checkpoints.positions == {shard: seqs[-1] for shard, seqs in handler.calls}
    assert all(le.owner is None for le in leases.items.values())


def test_two_workers_split_the_shards_and_the_survivor_takes_over_a_dead_ones() -> None:
    stream = FakeStream({f"shardId-{i:012d}": 0 for i in range(4)})
    leases, clock = MemoryLeases(duration=6), Clock()
    a = consumer(RecordingHandler(), stream, leases=leases, clock=clock, worker="a", lease_seconds=6)
    b = consumer(RecordingHandler(), stream, leases=leases, clock=clock, worker="b", lease_seconds=6)
    for _ in range(6):  # lease rounds, alternating
        a._lease_round()
        b._lease_round()
        clock.now += 2
    owners = sorted(le.owner or "" for le in leases.items.values())
    assert owners == ["a", "a", "b", "b"]

    for _ in range(6):  # b dies (stops renewing); a keeps going
        clock.now += 2
        a._lease_round()
    assert {le.owner for le in leases.items.values()} == {"a"}
    assert sorted(a._owned) == sorted(leases.items)


def test_after_a_split_the_parent_is_processed_to_its_end_before_its_children_start() -> None:
    parent, left, right = S0, "shardId-000000000002", "shardId-000000000003"
    stream = FakeStream({parent: 6, left: 3, right: 2}, parents={left: (parent,), right: (parent,)}, closed={parent})
    handler, leases, checkpoints = RecordingHandler(), MemoryLeases(), MemoryCheckpoints()

    consumer(handler, stream, leases=leases, checkpoints=checkpoints).run(threading.Event(), until_idle=2)

    order = [shard for shard, _ in handler.calls]
    last_parent = max(i for i, shard in enumerate(order) if shard == parent)
    assert all(shard == parent for shard in order[: last_parent + 1]), f"children started early: {order}"
    assert handler.applied() == {s: seqs_of(stream, s) for s in (parent, left, right)}
    assert checkpoints.closed == {parent} and leases.items[parent].finished
    assert {left, right} <= set(checkpoints.positions)
