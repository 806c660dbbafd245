"""The Kafka stream consumer running the REAL stream-processor handler against the embedded broker:
exact counters through a consumer-group rebalance and a SIGKILL, a failing batch to the SQS DLQ."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
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
    read_counters,
    recompute,
    stream_records,
    wait_exit,
    wait_for,
)

from clickstream.adapters import _clients
from clickstream.adapters.streams import KafkaWriter
from clickstream.emulated.event_source_mapping import kafka_group
from clickstream.emulated.event_source_mapping.kafka import build_kafka_consumer
from clickstream.emulated.event_source_mapping.kafka_group import KafkaGroup
from clickstream.emulated.event_source_mapping.options import ConsumerOptions
from clickstream.emulated.event_source_mapping.retry import RetryPolicy
from clickstream.emulated.stream_reading import LEADER_SYNC_DELAY_SECONDS
from clickstream.errors import RetryableError
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # consumer processes through a rebalance and a SIGKILL

MODULE = "stream_consumers.kafka_consumer"
FOLLOWER_LAG = LEADER_SYNC_DELAY_SECONDS / 2
JOIN_STAGGER_SECONDS = 3.0  # docs/ENVIRONMENT.md "Kafka mock broker (librdkafka)": simultaneous joins race


@pytest.fixture
def real_handler(settings: Settings) -> Iterator[Any]:
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


def _produce(settings: Settings, records: list[Any]) -> None:
    writer = KafkaWriter(settings.require_kafka(), settings.names.topic)
    try:
        for i in range(0, len(records), 2_000):
            writer.write(records[i : i + 2_000])
    finally:
        writer.close()


def _processed(log: Path) -> int:
    """The last 'processed N records' a consumer logged."""
    found = re.findall(r"processed (\d+) records", log.read_text() if log.exists() else "")
    return int(found[-1]) if found else 0


def test_exact_counters_through_a_rebalance_and_a_sigkilled_member(
    settings: Settings, real_handler: Any, tmp_path: Path, procs: Procs
) -> None:
    """A consumes alone; B joins (rebalance: A invokes and commits what it buffered for the
    partitions it gives up); A is SIGKILLed mid-run (after its session times out B takes every
    partition and replays A's last noted batch ranges); B drains. Counters must be exact."""
    events = make_events(4_000, seed=21)  # the second half is produced after B joins: a rebalance mid-stream
    records = stream_records(events)
    half = len(records) // 2
    _produce(settings, records[:half])
    args = ["--batch-size", "500", "--progress-seconds", "1"]
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    started = time.monotonic()

    a = procs.spawn(MODULE, *args, log=log_a)
    wait_for(lambda: _processed(log_a) > 0, timeout=60, what="A to process something", log=log_a)
    time.sleep(JOIN_STAGGER_SECONDS)
    # B must outwait A's session after the SIGKILL (6 s, SESSION_TIMEOUT_MS) plus the rebalance,
    # or it stops idle before A's partitions reach it and their events are never counted
    b = procs.spawn(MODULE, *args, "--until-idle", "12", log=log_b)
    producer = threading.Thread(target=_produce, args=(settings, records[half:]), daemon=True)
    producer.start()

    def split() -> bool:
        assigned = re.findall(r"assigned (.+)", log_b.read_text())
        return bool(assigned) and assigned[-1].strip() != "nothing" and "revoked" in log_a.read_text()

    wait_for(split, timeout=90, what="a rebalance that gives B partitions", log=log_b)
    wait_for(lambda: _processed(log_b) > 0, timeout=60, what="B to process something", log=log_b)
    assert a.poll() is None, log_a.read_text()[-3000:]
    kill(a)
    producer.join(timeout=60)
    assert not producer.is_alive()
    wait_exit(b, log_b, timeout=240)
    elapsed = time.monotonic() - started

    expected = recompute(r.data for r in records)
    assert_counters_equal(read_counters(settings), expected)
    text_a, text_b = log_a.read_text(), log_b.read_text()
    assert "revoked" in text_a, "A saw the rebalance"
    assert len(re.findall(r"assigned (.+)", text_b)) >= 2, "B was reassigned when A died"
    print(f"\nkafka: {len(events)} events, 1 rebalance + 1 SIGKILL, exact in {elapsed:.0f} s: {headline(expected)}")


def test_a_slow_follower_joining_an_idle_group_gets_its_partitions_at_the_first_sync(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The mock broker refuses a follower's SyncGroup that arrives after the leader's (stream_reading
    `_followers_first_assignor`). An idle leader answers at once; a joiner on a loaded machine (as
    in CI, where the test above failed so) is slower. Injected: the joiner's SyncGroup leaves
    FOLLOWER_LAG seconds late. Without the leader's delay every join was refused and retried."""
    _produce(settings, stream_records(make_events(40, seed=5)))
    topic, bootstrap = settings.names.topic, settings.require_kafka()
    caplog.set_level(logging.WARNING, logger=kafka_group.__name__)
    for trial in range(2):
        joined = _join_an_idle_leader(bootstrap, topic, f"slow-follower-{trial}", follower_lag=FOLLOWER_LAG)
        assert joined, f"trial {trial}: the joiner got no partitions in 60 s"
    refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("group join failed")]
    assert not refused, f"{len(refused)} refused joins over 2 (each a rejoin after a 3-6 s back-off): {refused}"


def _join_an_idle_leader(bootstrap: str, topic: str, group_id: str, *, follower_lag: float) -> list[str]:
    """A leader that holds the group and polls idly; a second member joins with its follower
    SyncGroup sent `follower_lag` seconds late. The partitions the joiner got within 60 s."""

    def noop(pids: list[str]) -> None:
        return None

    leader = KafkaGroup(bootstrap, topic, group_id=group_id, on_revoked=noop, on_assigned=noop)
    while not leader.assignment():
        leader.poll(100, 10)
    stop = threading.Event()

    def idle() -> None:
        while not stop.is_set():
            leader.poll(100, 10)

    thread = threading.Thread(target=idle, daemon=True)
    thread.start()
    joiner = KafkaGroup(bootstrap, topic, group_id=group_id, on_revoked=noop, on_assigned=noop)
    coordinator = joiner._consumer._coordinator  # kafka-python's group coordinator client
    send_sync = coordinator._on_join_follower

    def late_sync() -> Any:
        time.sleep(follower_lag)
        return send_sync()

    coordinator._on_join_follower = late_sync
    try:
        deadline = time.monotonic() + 60
        while not joiner.assignment() and time.monotonic() < deadline:
            joiner.poll(100, 10)
        return joiner.assignment()
    finally:
        stop.set()
        thread.join(timeout=10)
        joiner.close()
        leader.close()


def test_a_batch_the_handler_keeps_failing_goes_to_the_dlq_and_the_partition_moves_on(
    settings: Settings, real_handler: Any
) -> None:
    events = make_events(1_200, seed=4, minutes=2)
    records = stream_records(events)
    _produce(settings, records)
    doomed: list[dict[str, list[int]]] = []

    def failing_handler(event: dict[str, Any], context: Any) -> Any:
        """Fault injection at the contract boundary: the first batch holding offset 0 of partition 0 fails."""
        offsets = {pid: [r["offset"] for r in recs] for pid, recs in event["records"].items()}
        zero = f"{settings.names.topic}-0"
        if (not doomed and 0 in offsets.get(zero, [])) or (doomed and offsets == doomed[0]):
            doomed[:1] = [offsets]
            raise RetryableError("injected: DynamoDB throttled past the retries")
        return real_handler(event, context)

    options = ConsumerOptions(batch_size=250, retry=RetryPolicy(max_retries=1, base_delay=0.05, max_delay=0.1))
    consumer = build_kafka_consumer(settings, failing_handler, options=options, group_id="dlq-test")
    stats = consumer.run(threading.Event(), until_idle=2.0)

    sqs = _clients.client("sqs", settings)
    url = sqs.get_queue_url(QueueName=settings.names.dead_letter_queue)["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    body = orjson.loads(message["Body"])
    info = body["KafkaBatchInfo"]
    assert stats.dead_lettered == 1 and body["requestContext"]["approximateInvokeCount"] == 2
    assert info["batchSize"] == sum(len(v) for v in doomed[0].values())
    assert {
        pid: (int(r["firstRecordOffset"]), int(r["lastRecordOffset"])) for pid, r in info["recordsInfo"].items()
    } == {pid: (offs[0], offs[-1]) for pid, offs in doomed[0].items()}
    assert "injected" in body["reason"]

    # everything but the dead-lettered batch is counted, exactly once
    by_partition = _read_topic(settings)
    kept = [
        data
        for pid, messages in by_partition.items()
        for offset, data in messages
        if offset not in doomed[0].get(pid, [])
    ]
    assert len(kept) == len(records) - info["batchSize"]
    assert_counters_equal(read_counters(settings), recompute(kept))


def _read_topic(settings: Settings) -> dict[str, list[tuple[int, bytes]]]:
    """Every message of the topic by partition id (a throwaway group, from the beginning)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.names.topic,
        bootstrap_servers=settings.require_kafka(),
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3_000,
    )
    out: dict[str, list[tuple[int, bytes]]] = {}
    try:
        for m in consumer:
            out.setdefault(f"{m.topic}-{m.partition}", []).append((m.offset, m.value))
    finally:
        consumer.close()
    return out
