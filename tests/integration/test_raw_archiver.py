"""The raw archiver against the real servers: every record exactly once in S3, under its arrival hour,
through SIGKILLs, reruns and both transports."""

from __future__ import annotations

import gzip
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clickstream.adapters import _clients
from clickstream.adapters.s3 import LakeBucket
from clickstream.constants import PUT_RECORDS_MAX, RAW_EVENTS_PREFIX
from clickstream.emulated.checkpoints import CheckpointStore
from clickstream.emulated.firehose.archiver import build_archiver
from clickstream.emulated.firehose.batching import FlushPolicy, partition_of_key
from clickstream.errors import ConfigError
from clickstream.events.codec import decode_event, encode_event
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # archiver processes through SIGKILLs

ROOT = Path(__file__).resolve().parents[2]
HOUR_MS = 3_600_000


# --- helpers -----------------------------------------------------------------------------------


def _events(n: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": str(uuid.uuid4()),
            "user_id": f"user-{i % 97}",
            "event_type": "page_view",
            "timestamp": "2026-11-22T12:00:00Z",
            "url": f"/p/{i}",
        }
        for i in range(n)
    ]


def _put_kinesis(settings: Settings, events: list[dict[str, Any]]) -> None:
    kinesis = _clients.client("kinesis", settings)
    for i in range(0, len(events), PUT_RECORDS_MAX):
        chunk = events[i : i + PUT_RECORDS_MAX]
        resp = kinesis.put_records(
            StreamName=settings.names.stream,
            Records=[{"Data": encode_event(e), "PartitionKey": e["user_id"]} for e in chunk],
        )
        assert resp["FailedRecordCount"] == 0


def _stream_truth(settings: Settings) -> dict[str, tuple[str, int, datetime]]:
    """event_id -> (shard, sequence number, arrival time), read straight from the stream."""
    kinesis = _clients.client("kinesis", settings)
    out: dict[str, tuple[str, int, datetime]] = {}
    for shard in kinesis.list_shards(StreamName=settings.names.stream)["Shards"]:
        sid = shard["ShardId"]
        it = kinesis.get_shard_iterator(StreamName=settings.names.stream, ShardId=sid, ShardIteratorType="TRIM_HORIZON")
        iterator = it["ShardIterator"]
        while iterator:
            resp = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            for r in resp["Records"]:
                out[decode_event(r["Data"])["event_id"]] = (
                    sid,
                    int(r["SequenceNumber"]),
                    r["ApproximateArrivalTimestamp"],
                )
            iterator = resp.get("NextShardIterator") if resp["Records"] else None
    return out


def _bucket(settings: Settings) -> LakeBucket:
    return LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))


def _archive(settings: Settings) -> dict[str, list[bytes]]:
    bucket = _bucket(settings)
    return {key: bucket.get_ndjson_gz(key) for key in bucket.list_keys(RAW_EVENTS_PREFIX + "/")}


def _count_objects(settings: Settings) -> int:
    return sum(1 for _ in _bucket(settings).list_keys(RAW_EVENTS_PREFIX + "/"))


def _hour_of(ts: datetime) -> tuple[str, str]:
    t = ts.astimezone(UTC)
    return f"{t:%Y-%m-%d}", f"{t:%H}"


def _assert_exactly_once(archive: dict[str, list[bytes]], event_ids: set[str]) -> Counter[str]:
    seen = Counter(decode_event(line)["event_id"] for lines in archive.values() for line in lines)
    assert set(seen) == event_ids, f"missing {len(event_ids - set(seen))}, unexpected {len(set(seen) - event_ids)}"
    duplicated = {k: v for k, v in seen.items() if v > 1}
    assert not duplicated, f"{len(duplicated)} events archived more than once"
    assert sum(len(lines) for lines in archive.values()) == len(event_ids)
    return seen


def _assert_arrival_partitions(archive: dict[str, list[bytes]], truth: dict[str, tuple[str, int, datetime]]) -> None:
    key_re = re.compile(r"^raw/events/dt=\d{4}-\d{2}-\d{2}/hour=\d{2}/(?P<rest>.+)\.ndjson\.gz$")
    for key, lines in archive.items():
        part = partition_of_key(key)
        assert part is not None and key_re.match(key), key
        shards = set()
        for line in lines:
            shard, _, arrival = truth[decode_event(line)["event_id"]]
            assert _hour_of(arrival) == part, (key, arrival)
            shards.add(shard)
        assert len(shards) == 1, f"{key} mixes shards {shards}"
        (shard,) = shards
        assert f"-{shard}-" in key


def _checkpoint_store(settings: Settings, source: str) -> CheckpointStore:
    return CheckpointStore(
        settings.names.checkpoints_table,
        consumer="raw-archiver",
        source=source,
        client=_clients.client("dynamodb", settings),
    )


def _run_in_process(settings: Settings, transport: str = "kinesis", **policy: Any) -> None:
    archiver = build_archiver(settings, transport=transport, policy=FlushPolicy(**policy))
    archiver.run(threading.Event(), until_idle=0.5)


def _spawn(transport: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "stream_consumers.raw_archiver", "--transport", transport, "--progress-seconds", "1"]
    with log.open("ab") as out:
        return subprocess.Popen([*cmd, *args], cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)


def _kill_after_new_objects(settings: Settings, proc: subprocess.Popen[bytes], more: int, log: Path) -> int:
    """SIGKILL the archiver once `more` objects were added since the call; returns the object count."""
    start = _count_objects(settings)
    deadline = time.monotonic() + 30
    while (count := _count_objects(settings)) < start + more:
        assert proc.poll() is None, f"archiver exited early ({proc.returncode}):\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no progress:\n{log.read_text()[-3000:]}"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    return count


def _wait_ok(proc: subprocess.Popen[bytes], log: Path, timeout: float = 45) -> None:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"archiver did not drain within {timeout} s:\n{log.read_text()[-3000:]}")
    assert rc == 0, log.read_text()[-3000:]


# --- Kinesis -----------------------------------------------------------------------------------


def test_kinesis_every_event_archived_once_in_the_layout_as_gzip_ndjson(settings: Settings) -> None:
    events = _events(1_200)
    _put_kinesis(settings, events)

    _run_in_process(settings, max_records=250)

    archive = _archive(settings)
    truth = _stream_truth(settings)
    _assert_exactly_once(archive, {e["event_id"] for e in events})
    _assert_arrival_partitions(archive, truth)
    assert {truth[e["event_id"]][0] for e in events} == {"shardId-000000000000", "shardId-000000000001"}
    stream = settings.names.stream
    name_re = re.compile(rf"^{re.escape(stream)}-(shardId-\d{{12}})-(\d{{56}})$")
    s3 = _clients.client("s3", settings)
    for key, lines in archive.items():
        m = name_re.match(key.rsplit("/", 1)[1].removesuffix(".ndjson.gz"))
        assert m, key
        seqs = [truth[decode_event(line)["event_id"]][1] for line in lines]
        assert seqs == sorted(seqs) and seqs[0] == int(m.group(2)), "named by its first sequence number, in order"
        assert len(lines) <= 250
        raw = s3.get_object(Bucket=settings.names.bucket, Key=key)["Body"].read()
        text = gzip.decompress(raw)
        assert text.endswith(b"\n") and text.count(b"\n") == len(lines)
    # the checkpoint is each shard's last sequence number
    last: dict[str, int] = {}
    for shard, seq, _ in truth.values():
        last[shard] = max(seq, last.get(shard, 0))
    assert {s: c.position for s, c in _checkpoint_store(settings, stream).load().items()} == last


def test_kinesis_crash_safety_sigkill_twice_then_drain(settings: Settings, tmp_path: Path) -> None:
    """The key test: SIGKILL mid-run (twice, with different flush bounds each run), restart, drain."""
    events = _events(6_000)
    _put_kinesis(settings, events)
    log = tmp_path / "archiver.log"

    started = time.monotonic()
    for flush_records, more in (("70", 12), ("130", 8)):
        proc = _spawn("kinesis", "--flush-records", flush_records, "--flush-seconds", "30", log=log)
        _kill_after_new_objects(settings, proc, more, log)
    proc = _spawn("kinesis", "--flush-records", "100", "--until-idle", "1", log=log)
    _wait_ok(proc, log)
    elapsed = time.monotonic() - started

    archive = _archive(settings)
    _assert_exactly_once(archive, {e["event_id"] for e in events})
    _assert_arrival_partitions(archive, _stream_truth(settings))
    print(f"\nkinesis: {len(events)} records, 3 runs (2 SIGKILLs), {len(archive)} objects in {elapsed:.1f} s")


def test_kinesis_sigterm_flushes_the_buffer_checkpoints_and_exits_0(settings: Settings, tmp_path: Path) -> None:
    events = _events(800)
    _put_kinesis(settings, events)
    log = tmp_path / "archiver.log"
    proc = _spawn("kinesis", "--flush-records", "100000", "--flush-seconds", "600", log=log)
    deadline = time.monotonic() + 30
    while "(read 800, buffered 800" not in log.read_text():  # everything read, nothing due
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.05)
    assert _count_objects(settings) == 0

    proc.send_signal(signal.SIGTERM)
    _wait_ok(proc, log, timeout=20)

    _assert_exactly_once(_archive(settings), {e["event_id"] for e in events})
    checkpoints = _checkpoint_store(settings, settings.names.stream).load()
    last: dict[str, int] = {}
    for shard, seq, _ in _stream_truth(settings).values():
        last[shard] = max(seq, last.get(shard, 0))
    assert {s: c.position for s, c in checkpoints.items()} == last


def test_kinesis_crash_between_objects_and_checkpoint_is_replayed_into_the_same_keys(settings: Settings) -> None:
    """The crash window, deterministically: the objects are written, then the checkpoint write fails
    (the checkpoint table is gone), and a restart with other flush bounds replays into the same keys."""
    events = _events(900)
    _put_kinesis(settings, events)
    table = settings.names.checkpoints_table
    ddb = _clients.client("dynamodb", settings)
    archiver = build_archiver(settings, transport="kinesis", policy=FlushPolicy(max_records=400, max_age_seconds=0.5))
    assert archiver.step() == len(events)  # both shards read, nothing due yet
    ddb.delete_table(TableName=table)
    time.sleep(0.6)
    with pytest.raises(ConfigError, match="does not exist"):
        archiver.step()  # age bound reached: objects written, then the checkpoint fails
    orphans = _archive(settings)
    assert orphans, "the crashed flush wrote its objects"
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )

    _run_in_process(settings, max_records=170)  # other bounds on the replay

    archive = _archive(settings)
    _assert_exactly_once(archive, {e["event_id"] for e in events})
    assert set(orphans) <= set(archive), "the orphan keys were overwritten, not left beside new ones"


def test_kinesis_rerun_from_trim_horizon_overwrites_the_same_keys(settings: Settings) -> None:
    events = _events(1_000)
    _put_kinesis(settings, events)
    _run_in_process(settings, max_records=150)
    first = _archive(settings)

    ddb = _clients.client("dynamodb", settings)
    for item in ddb.scan(TableName=settings.names.checkpoints_table)["Items"]:
        ddb.delete_item(TableName=settings.names.checkpoints_table, Key={"pk": item["pk"], "sk": item["sk"]})
    _run_in_process(settings, max_records=150)
    assert _archive(settings) == first, "same bounds: the very same keys and contents"

    for item in ddb.scan(TableName=settings.names.checkpoints_table)["Items"]:
        ddb.delete_item(TableName=settings.names.checkpoints_table, Key={"pk": item["pk"], "sk": item["sk"]})
    _run_in_process(settings, max_records=230)  # other bounds: cut at the existing keys, never beside them
    again = _archive(settings)
    assert set(first) <= set(again)
    _assert_exactly_once(again, {e["event_id"] for e in events})


def test_kinesis_reshard_parent_is_archived_to_its_end_before_its_children_start(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    kinesis = _clients.client("kinesis", settings)
    stream = settings.names.stream
    first = _events(300)
    _put_kinesis(settings, first)
    _run_in_process(settings, max_records=1000)
    parent = "shardId-000000000000"
    shard = next(s for s in kinesis.list_shards(StreamName=stream)["Shards"] if s["ShardId"] == parent)
    lo, hi = int(shard["HashKeyRange"]["StartingHashKey"]), int(shard["HashKeyRange"]["EndingHashKey"])
    kinesis.split_shard(StreamName=stream, ShardToSplit=parent, NewStartingHashKey=str((lo + hi) // 2))
    second = _events(300)
    _put_kinesis(settings, second)
    children = sorted(s["ShardId"] for s in kinesis.list_shards(StreamName=stream)["Shards"] if s.get("ParentShardId"))
    assert len(children) == 2

    caplog.set_level(logging.INFO, logger="clickstream")
    _run_in_process(settings, max_records=1000)

    assert _checkpoint_store(settings, stream).load()[parent].closed
    started = [r.getMessage().split()[2] for r in caplog.records if r.getMessage().startswith("reading shard")]
    assert started[-2:] == children, "the children start only after the parent is closed"
    # moto (unlike AWS) keeps routing to the closed parent and re-puts its records there under
    # the same sequence numbers; on any stream, every record must still be archived once.
    _assert_exactly_once(_archive(settings), {e["event_id"] for e in first + second})


# --- Kafka -------------------------------------------------------------------------------------


def test_kafka_exactly_once_through_a_sigkill_with_hour_splits(settings: Settings, tmp_path: Path) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from clickstream.emulated.firehose.kafka_reader import GROUP_ID

    topic = settings.names.topic
    events = _events(3_000)
    now_ms = int(time.time() * 1000)
    stamp = {}  # event_id -> message timestamp: spread over 3 hours, back and forth (CreateTime jitter)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    for i, e in enumerate(events):
        stamp[e["event_id"]] = now_ms - ((i * 7) % 3) * HOUR_MS
        producer.send(topic, encode_event(e), key=e["user_id"].encode(), timestamp_ms=stamp[e["event_id"]])
    producer.flush()
    producer.close()
    log = tmp_path / "archiver.log"

    started = time.monotonic()
    proc = _spawn("kafka", "--flush-records", "60", "--flush-seconds", "30", log=log)
    _kill_after_new_objects(settings, proc, 15, log)
    proc = _spawn("kafka", "--flush-records", "90", "--until-idle", "1", log=log)
    _wait_ok(proc, log, timeout=60)
    elapsed = time.monotonic() - started

    archive = _archive(settings)
    _assert_exactly_once(archive, set(stamp))
    hours = set()
    for key, lines in archive.items():
        part = partition_of_key(key)
        hours.add(part)
        for line in lines:
            ts = datetime.fromtimestamp(stamp[decode_event(line)["event_id"]] / 1000, UTC)
            assert _hour_of(ts) == part, key
        assert re.search(rf"/{re.escape(topic)}-[0-3]-\d{{20}}\.ndjson\.gz$", key), key
    assert len(hours) == 3

    checkpoints = _checkpoint_store(settings, topic).load()
    assert set(checkpoints) == {"0", "1", "2", "3"}
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=GROUP_ID, enable_auto_commit=False)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(4)])
        for tp, end in ends.items():
            assert checkpoints[str(tp.partition)].position == end - 1
            assert consumer.committed(tp) == end, "the group offset is committed after the checkpoint"
    finally:
        consumer.close()
    print(f"\nkafka: {len(events)} records, 2 runs (1 SIGKILL), {len(archive)} objects in {elapsed:.1f} s")


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_run_until_idle_then_stats_per_partition(settings: Settings) -> None:
    from click.testing import CliRunner

    from clickstream.cli import main

    events = _events(500)
    _put_kinesis(settings, events)
    runner = CliRunner()
    result = runner.invoke(main, ["archive", "run", "--flush-records", "100", "--until-idle", "0.5"])
    assert result.exit_code == 0, result.output
    assert "archived 500 records" in result.output

    dt, hour = _hour_of(next(iter(_stream_truth(settings).values()))[2])
    result = runner.invoke(main, ["archive", "stats", "--date", dt])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    objects = len(_archive(settings))
    assert lines[-1].split() == ["total", str(objects), "500"]
    assert any(line.split()[:2] == [dt, hour] for line in lines[1:-1])
    result = runner.invoke(main, ["archive", "stats", "--date", "1999-01-01"])
    assert result.output.strip().splitlines()[-1].split() == ["total", "0", "0"]
