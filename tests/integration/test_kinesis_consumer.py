"""The Kinesis stream consumer running the REAL stream-processor handler against the embedded servers:
exact counters through SIGKILLs, shards shared and taken over through DynamoDB leases, a failing
batch to the SQS dead-letter queue."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.consumer import (
    Procs,
    assert_counters_equal,
    headline,
    kill,
    make_events,
    other_items,
    read_counters,
    recompute,
    stream_records,
    wait_exit,
    wait_for,
)

from clickstream.adapters import _clients
from clickstream.adapters.streams import KinesisWriter
from clickstream.emulated.checkpoints import CheckpointStore
from clickstream.emulated.event_source_mapping.kinesis import build_kinesis_consumer
from clickstream.emulated.event_source_mapping.lease_table import LeaseTable
from clickstream.emulated.event_source_mapping.options import CONSUMER, ConsumerOptions
from clickstream.emulated.event_source_mapping.retry import RetryPolicy
from clickstream.errors import RetryableError
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # consumer processes, SIGKILLs and lease expiries

MODULE = "stream_consumers.kinesis_consumer"


@pytest.fixture
def real_handler(settings: Settings) -> Iterator[Any]:
    """The stream-processor Lambda's handler, its process-wide deps rebuilt for this test's server."""
    handler_module = pytest.importorskip(
        "lambdas.stream_processor.handler", reason="the stream-processor handler (issue 3, parts 1-4) is not there yet"
    )
    from clickstream.speed import processor

    processor.deps.cache_clear()
    yield handler_module.handler
    processor.deps.cache_clear()


@pytest.fixture
def procs() -> Iterator[Procs]:
    started = Procs()
    yield started
    started.cleanup()


def _put(settings: Settings, records: list[Any], stream: str | None = None) -> None:
    KinesisWriter(stream or settings.names.stream, client=_clients.client("kinesis", settings)).write(records)


def _leases(settings: Settings, stream: str | None = None) -> LeaseTable:
    return LeaseTable(
        settings.names.checkpoints_table,
        consumer=CONSUMER,
        stream=stream or settings.names.stream,
        client=_clients.client("dynamodb", settings),
    )


def _checkpoints(settings: Settings, stream: str | None = None) -> dict[str, int | None]:
    store = CheckpointStore(
        settings.names.checkpoints_table,
        consumer=CONSUMER,
        source=stream or settings.names.stream,
        client=_clients.client("dynamodb", settings),
    )
    return {shard: c.position for shard, c in store.load().items()}


def _stream_ends(settings: Settings, stream: str | None = None) -> dict[str, int]:
    from support.stream_reading import kinesis_records

    last: dict[str, int] = {}
    for r in kinesis_records(settings, stream):
        last[r["ShardId"]] = max(last.get(r["ShardId"], 0), int(r["SequenceNumber"]))
    return last


# --- the lease table on DynamoDB ------------------------------------------------------------------


def test_lease_writes_are_conditional_on_the_counter_and_the_owner(settings: Settings) -> None:
    table = _leases(settings)
    table.ensure("shardId-000000000000")
    table.ensure("shardId-000000000000")  # idempotent
    (free,) = table.load().values()
    assert free.owner is None and free.counter == 0

    mine = table.take(free, me="a", now=1000.0)
    assert mine is not None and mine.owner == "a" and mine.expires_at == 1000.0 + table.duration
    assert table.take(free, me="b", now=1000.0) is None, "a stale view of the lease loses"

    renewed = table.renew(mine, me="a", now=1001.0)
    assert renewed is not None and renewed.counter == mine.counter + 1
    noted = table.record_batch(renewed, 10**55, 10**55 + 99, me="a", now=1002.0)
    assert noted is not None and (noted.batch_first, noted.batch_last) == (10**55, 10**55 + 99)

    stolen = table.take(noted, me="b", now=1003.0)
    assert stolen is not None and stolen.owner == "b" and stolen.batch_last == 10**55 + 99
    assert table.renew(noted, me="a", now=1004.0) is None, "the old holder learns it at its next write"
    assert table.record_batch(noted, 1, 2, me="a", now=1004.0) is None
    assert table.release(stolen, me="b")
    released = table.load()["shardId-000000000000"]
    assert released.owner is None and released.free(now=0.0)
    # leases live in the checkpoint table under their own pk: the archiver's checkpoints are untouched
    assert table.pk == f"lease#{CONSUMER}#{settings.names.stream}"


# --- exactness ------------------------------------------------------------------------------------


def test_in_process_every_event_counted_exactly_once_checkpointed_and_leases_released(
    settings: Settings, real_handler: Any
) -> None:
    events = make_events(2_000, seed=11, minutes=3)
    records = stream_records(events)
    _put(settings, records)

    consumer = build_kinesis_consumer(
        settings, real_handler, options=ConsumerOptions(batch_size=350, progress_seconds=1.0), worker_id="w1"
    )
    started = time.monotonic()
    stats = consumer.run(threading.Event(), until_idle=1.0)
    elapsed = time.monotonic() - started

    assert stats.records == len(events) and stats.failed_invocations == 0
    assert_counters_equal(read_counters(settings), recompute(r.data for r in records))
    assert not other_items(settings, "bad#") and not other_items(settings, "dup#")
    assert _checkpoints(settings) == _stream_ends(settings)
    assert all(lease.owner is None for lease in _leases(settings).load().values())
    print(f"\n{len(events)} events, {stats.batches} batches in {elapsed:.1f} s ({len(events) / elapsed:.0f} events/s)")


def _in_flight(settings: Settings, since: dict[str, int | None]) -> bool:
    """A batch is between its lease record and its checkpoint, on a shard that moved past `since`."""
    done = _checkpoints(settings)
    return any(
        lease.batch_last is not None
        and done.get(shard) != since.get(shard)
        and lease.batch_last > (done.get(shard) or 0)
        for shard, lease in _leases(settings).load().items()
    )


def test_sigkill_five_times_during_an_8k_event_run_then_counters_are_exact(
    settings: Settings, real_handler: Any, tmp_path: Path, procs: Procs
) -> None:
    """The key test: 8,000 events put on the stream in six parts, one before each run of the
    consumer and the rest before the drain. It is SIGKILLed 5 times and restarted each time
    (alternately as the same worker, which reclaims its leases at once, and as a new one, which
    waits for them to expire). Runs 0, 2 and 4 die at a random point after their first checkpoint;
    runs 1 and 3 die while a batch is in flight (recorded on the lease, not yet checkpointed), so
    the next holder must replay it. Every counter must equal the independent recomputation,
    exactly. (Each run gets its own part: the consumer drains 8,000 events in a few seconds, so
    a single upfront put would leave the later runs nothing to do.)"""
    events = make_events(8_000, seed=7)
    records = stream_records(events)
    parts = [records[i * 1_400 : (i + 1) * 1_400] for i in range(5)] + [records[5 * 1_400 :]]
    rng = random.Random(20261122)
    log = tmp_path / "consumer.log"
    args = ["--batch-size", "150", "--lease-seconds", "4", "--progress-seconds", "1"]

    started = time.monotonic()
    for run in range(5):
        before = _checkpoints(settings)
        proc = procs.spawn(MODULE, *args, "--worker-id", f"w{run // 2}", log=log)
        _put(settings, parts[run])
        wait_for(lambda b=before: _checkpoints(settings) != b, timeout=120, what=f"progress in run {run}", log=log)
        if run % 2:
            wait_for(
                lambda b=before: _in_flight(settings, b),
                timeout=60,
                what=f"a batch in flight in run {run}",
                log=log,
                poll=0.0,
            )
        else:
            time.sleep(rng.uniform(0.0, 1.5))
        assert proc.poll() is None, log.read_text()[-3000:]
        kill(proc)
    _put(settings, parts[5])
    final = procs.spawn(MODULE, *args, "--worker-id", "w-final", "--until-idle", "2", log=log)
    wait_exit(final, log, timeout=300)
    elapsed = time.monotonic() - started

    expected = recompute(r.data for r in records)
    assert_counters_equal(read_counters(settings), expected)
    assert not other_items(settings, "bad#") and not other_items(settings, "dup#")
    assert _checkpoints(settings) == _stream_ends(settings)
    text = log.read_text()
    assert text.count("replaying the batch") >= 1, "a kill landed between a batch's lease record and its checkpoint"
    print(
        f"\n{len(events)} events, 5 SIGKILLs, {len(expected)} counter items exact in {elapsed:.0f} s: {headline(expected)}"
    )


def test_two_consumers_share_four_shards_and_the_survivor_takes_over(
    settings: Settings, real_handler: Any, tmp_path: Path, procs: Procs
) -> None:
    stream = f"{settings.names.stream}-four"
    kinesis = _clients.client("kinesis", settings)
    kinesis.create_stream(StreamName=stream, ShardCount=4)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    env = {"CLICKSTREAM_STREAM": stream}
    s4 = replace(settings, names=replace(settings.names, stream=stream))
    events = make_events(4_000, seed=5)
    records = stream_records(events)
    half = len(records) // 2
    _put(s4, records[:half])
    args = ["--batch-size", "150", "--lease-seconds", "3", "--progress-seconds", "1"]
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"

    a = procs.spawn(MODULE, *args, "--worker-id", "a", log=log_a, env=env)
    b = procs.spawn(MODULE, *args, "--worker-id", "b", "--until-idle", "2", log=log_b, env=env)

    def owners() -> list[str]:
        return sorted(str(le.owner) for le in _leases(settings, stream).load().values())

    wait_for(lambda: owners() == ["a", "a", "b", "b"], timeout=120, what="a 2/2 split of the leases", log=log_b)
    held_by_a = sorted(s for s, le in _leases(settings, stream).load().items() if le.owner == "a")
    _put(s4, records[half:])
    wait_for(lambda: any(p for p in _checkpoints(settings, stream).values()), timeout=120, what="progress", log=log_a)
    kill(a)
    wait_exit(b, log_b, timeout=240)

    assert_counters_equal(read_counters(settings), recompute(r.data for r in records))
    assert _checkpoints(settings, stream) == _stream_ends(settings, stream)
    text = log_b.read_text()
    for shard in held_by_a:
        assert f"shard {shard} after" in text, f"b never took over {shard}:\n{text[-3000:]}"


def test_sigterm_finishes_the_batch_checkpoints_and_releases_the_leases(
    settings: Settings, real_handler: Any, tmp_path: Path, procs: Procs
) -> None:
    events = make_events(1_500, seed=13, minutes=3)
    records = stream_records(events)
    _put(settings, records)
    log = tmp_path / "consumer.log"
    proc = procs.spawn(MODULE, "--batch-size", "100", "--worker-id", "w1", "--progress-seconds", "1", log=log)
    wait_for(lambda: any(p for p in _checkpoints(settings).values()), timeout=120, what="a checkpoint", log=log)

    proc.send_signal(signal.SIGTERM)
    wait_exit(proc, log, timeout=60)

    assert "SIGTERM received" in log.read_text()
    assert all(lease.owner is None for lease in _leases(settings).load().values()), "released for the next worker"
    ends = _stream_ends(settings)
    assert all((_checkpoints(settings).get(s) or 0) <= end for s, end in ends.items())
    # a new worker (another id) starts at once from the checkpoints: no lease to wait for
    rest = procs.spawn(MODULE, "--batch-size", "1000", "--worker-id", "w2", "--until-idle", "1", log=log)
    wait_exit(rest, log, timeout=180)
    assert_counters_equal(read_counters(settings), recompute(r.data for r in records))


# --- the dead-letter queue ------------------------------------------------------------------------


def test_a_batch_the_handler_keeps_failing_goes_to_the_dlq_with_its_range_and_the_shard_moves_on(
    settings: Settings, real_handler: Any
) -> None:
    events = make_events(1_500, seed=3, minutes=2)
    records = stream_records(events)
    _put(settings, records)
    doomed_shard = "shardId-000000000000"
    doomed: list[list[str]] = []  # the sequence numbers of the batch we fail, as the handler saw them

    def failing_handler(event: dict[str, Any], context: Any) -> Any:
        """Fault injection at the contract boundary: the first batch of shard 0 always fails."""
        shard = event["Records"][0]["eventID"].split(":")[0]
        seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        if shard == doomed_shard and (not doomed or seqs == doomed[0]):
            doomed[:1] = [seqs]
            raise RetryableError("injected: DynamoDB throttled past the retries", retry_after=0.05)
        return real_handler(event, context)

    options = ConsumerOptions(batch_size=300, retry=RetryPolicy(max_retries=2, base_delay=0.05, max_delay=0.2))
    consumer = build_kinesis_consumer(settings, failing_handler, options=options, worker_id="w1")
    stats = consumer.run(threading.Event(), until_idle=1.0)

    sqs = _clients.client("sqs", settings)
    url = sqs.get_queue_url(QueueName=settings.names.dead_letter_queue)["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert len(got) == 1
    message = orjson.loads(got[0]["Body"])
    info = message["KinesisBatchInfo"]
    assert info["shardId"] == doomed_shard
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (doomed[0][0], doomed[0][-1])
    assert info["batchSize"] == len(doomed[0]) == 300
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert "injected: DynamoDB throttled" in message["reason"]
    assert stats.dead_lettered == 1

    # the shard moved on: everything else is counted exactly, the dead-lettered batch not at all
    from support.stream_reading import kinesis_records

    lost = {(doomed_shard, seq) for seq in doomed[0]}
    kept = [r["Data"] for r in kinesis_records(settings) if (r["ShardId"], r["SequenceNumber"]) not in lost]
    assert len(kept) == len(records) - 300
    assert_counters_equal(read_counters(settings), recompute(kept))
    assert _checkpoints(settings) == _stream_ends(settings)


def test_a_lease_left_by_a_dead_worker_is_taken_and_its_batch_replayed_first(
    settings: Settings, real_handler: Any
) -> None:
    events = make_events(900, seed=9, minutes=2)
    records = stream_records(events)
    _put(settings, records)
    from support.stream_reading import kinesis_records

    shard0 = [r for r in kinesis_records(settings) if r["ShardId"] == "shardId-000000000000"]
    first, last = int(shard0[0]["SequenceNumber"]), int(shard0[len(shard0) // 2]["SequenceNumber"])
    table = _leases(settings)
    table.ensure("shardId-000000000000")
    lease = table.take(table.load()["shardId-000000000000"], me="dead", now=0.0)  # expired long ago
    assert lease is not None and table.record_batch(lease, first, last, me="dead", now=0.0) is not None
    seen: list[tuple[int, int, int]] = []

    def spy(event: dict[str, Any], context: Any) -> Any:
        seqs = [int(r["kinesis"]["sequenceNumber"]) for r in event["Records"]]
        if event["Records"][0]["eventID"].startswith("shardId-000000000000"):
            seen.append((seqs[0], seqs[-1], len(seqs)))
        return real_handler(event, context)

    build_kinesis_consumer(settings, spy, options=ConsumerOptions(batch_size=100), worker_id="w1").run(
        threading.Event(), until_idle=1.0
    )

    assert seen[0] == (first, last, len(shard0) // 2 + 1), "the dead worker's batch, exactly, before anything else"
    assert seen[1][0] > last and all(n <= 100 for _, _, n in seen[1:]), "then batches of our own size"
    assert_counters_equal(read_counters(settings), recompute(r.data for r in records))
    assert _leases(settings).load()["shardId-000000000000"].owner is None, "released at the end"
