"""The speed layer's DynamoDB effect is exactly once per shard, on the real moto server.

Every comparison reads the whole realtime table back (a Scan) and compares every item, every
attribute: counters, watermarks, sketches and their versions, order claims. Throttling is
injected at the AWS-SDK boundary with a botocore event hook on a real client: the hooked
UpdateItem never reaches the server and comes back as ProvisionedThroughputExceededException.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.awsrequest import AWSResponse

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb import CountersTable
from clickstream.adapters.dynamodb.packed import logical_items
from clickstream.adapters.s3 import BadRowsStore, LakeBucket
from clickstream.adapters.streams import KinesisWriter, StreamRecord
from clickstream.errors import RetryableError
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.metrics.definitions import is_counter_pk
from clickstream.metrics.sketch import RSE, estimate_uniques
from clickstream.settings import Settings
from clickstream.simulate.generator import SimConfig, generate
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import SpeedProcessor

pytestmark = pytest.mark.slow  # replays of thousands of events on the embedded server

THROTTLED = "ProvisionedThroughputExceededException"
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ARRIVAL_MS = int((START + timedelta(hours=1, minutes=5)).timestamp() * 1000)


# --- helpers ------------------------------------------------------------------------------


def sim_events(n: int, *, start: datetime = START, seed: int = 1, **config: Any) -> list[dict[str, Any]]:
    """Simulator events as the collector would put them on the stream (validated, normalised)."""
    received = start + timedelta(hours=1)
    events = []
    for raw in generate(SimConfig(start=start, events=n, users=max(10, n // 8), seed=seed, **config)):
        result = validate_event(raw, received_at=received)
        if result.event is not None:
            events.append(result.event)
    return events


def as_records(events: Sequence[dict[str, Any]], *, first: int = 1000, arrival_ms: int = ARRIVAL_MS) -> list[InRecord]:
    return [InRecord(first + 2 * i, arrival_ms + i, encode_event(e)) for i, e in enumerate(events)]


def table_items(settings: Settings, table: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item of the realtime table, every attribute."""
    client = _clients.client("dynamodb", settings)
    deserialize = TypeDeserializer().deserialize
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=table or settings.names.realtime_table):
        for raw in page["Items"]:
            item = {k: deserialize(v) for k, v in raw.items()}
            out[(item["pk"], item["sk"])] = item
    return out


raw_items = table_items  # the stored items: window items and sketch sub-items as they are


def counters_only(items: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The logical counter items (summed from the window items; no watermarks, sketches or claims)."""
    return {key: item for key, item in logical_items(items.values()).items() if is_counter_pk(key[0])}


def window_items(items: dict[tuple[str, str], dict[str, Any]]) -> list[tuple[str, str]]:
    """The keys of the physical window items (one per window and shard)."""
    return [key for key in items if key[0].startswith("win#")]


def processor(settings: Settings, *, client: Any = None, table: str | None = None) -> SpeedProcessor:
    counters = CountersTable(
        table or settings.names.realtime_table,
        client=client or _clients.client("dynamodb", settings),
        base_delay=0.001,
    )
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
    return SpeedProcessor(counters, BadRowsStore(bucket), limits=settings.limits)


def fresh_dynamodb_client(settings: Settings) -> Any:
    # Not the shared cached client: the hooks below must not leak into anything else.
    return boto3.session.Session().client("dynamodb", endpoint_url=settings.endpoint_url, region_name=settings.region)


class WriteFaults:
    """Writes (PutItem of window items, UpdateItem of sketches and freshness) for which
    `fail(pk, sk, call_no_for_that_key)` is true come back throttled."""

    def __init__(self, client: Any, fail: Callable[[str, str, int], bool]) -> None:
        self.throttled = 0
        self._fail = fail
        self._calls: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        client.meta.events.register("before-call.dynamodb.UpdateItem", self._maybe_throttle)
        client.meta.events.register("before-call.dynamodb.PutItem", self._maybe_throttle)

    def _maybe_throttle(self, params: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        request = json.loads(params["body"])  # the serialised request
        keyed = request.get("Key") or request["Item"]
        key = (keyed["pk"]["S"], keyed["sk"]["S"])
        with self._lock:
            n = self._calls.get(key, 0)
            self._calls[key] = n + 1
            if not self._fail(key[0], key[1], n):
                return None
            self.throttled += 1
        error = {
            "Code": THROTTLED,
            "Message": "The level of configured provisioned throughput for the table was exceeded",
        }
        return AWSResponse("http://fault-injection", 400, {}, None), {"Error": error, "ResponseMetadata": {}}


def create_twin_table(settings: Settings) -> str:
    """A second table with the realtime table's keys: where a clean, single application goes."""
    name = f"{settings.names.realtime_table}-clean"
    client = _clients.client("dynamodb", settings)
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


# --- exactly once ---------------------------------------------------------------------------


def test_the_same_batch_delivered_three_times_changes_nothing_after_the_first(settings: Settings) -> None:
    events = sim_events(60, error_rate=0.1, duplicate_fraction=0.08)
    records = as_records(events)
    speed = processor(settings)

    first = speed.process("shardId-000000000000", records)
    after_first = table_items(settings)
    second = speed.process("shardId-000000000000", records)
    third = processor(settings).process("shardId-000000000000", records)  # a new Lambda environment too

    assert table_items(settings) == after_first
    assert first.writes.applied == len(window_items(after_first)) > 0
    assert second.writes.applied == third.writes.applied == 0
    assert second.writes.skipped == third.writes.skipped == first.writes.applied
    # and the first application was right: every valid, distinct event counted once
    distinct = {e["event_id"]: e for e in events}
    day = counters_only(after_first)[("all", "d#2026-11-22T00:00:00Z")]
    assert day["events"] == len(distinct) == first.kept
    assert day["errors"] == sum(1 for e in distinct.values() if e["http_status"] >= 400)
    assert first.duplicates == len(events) - len(distinct) > 0


def test_full_replay_from_trim_horizon_with_other_batch_sizes_changes_nothing(settings: Settings) -> None:
    # GIVEN events on the real Kinesis stream (2 shards), as the collector writes them
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    events = sim_events(90, start=now - timedelta(hours=2), seed=3, duplicate_fraction=0.05)
    KinesisWriter(settings.names.stream, client=_clients.client("kinesis", settings)).write(
        [StreamRecord(key=e["user_id"], data=encode_event(e)) for e in events]
    )
    shards = read_stream(settings)
    assert len(shards) == 2

    # WHEN a processor applies the stream in batches of 20
    first = processor(settings)
    for shard, records in shards.items():
        for batch in chunks(records, 20):
            first.process(shard, batch)
    applied = table_items(settings)

    # THEN a new processor replaying everything from TRIM_HORIZON, cut into other batches,
    # changes no item at all
    replay = processor(settings)
    for shard, records in read_stream(settings).items():
        for batch in chunks(records, 13):
            replay.process(shard, batch)
    assert table_items(settings) == applied
    # (the events may straddle midnight: every day item of `all` together)
    days = [item["events"] for (pk, sk), item in counters_only(applied).items() if pk == "all" and sk.startswith("d#")]
    assert sum(days) == len({e["event_id"] for e in events})


def test_a_partly_applied_batch_retried_as_a_larger_batch_counts_every_record_once(settings: Settings) -> None:
    events = sim_events(70, seed=5, error_rate=0.05)
    records = as_records(events)
    shard = "shardId-000000000001"

    # GIVEN day windows are throttled past every retry in the first attempt at records[:40]
    client = fresh_dynamodb_client(settings)
    WriteFaults(client, fail=lambda pk, sk, n: pk.startswith("win#d#") and n < 6)
    with pytest.raises(RetryableError, match=THROTTLED):
        processor(settings, client=client).process(shard, records[:40])
    partial = counters_only(table_items(settings))
    assert any(pk == "all" and sk.startswith("h#") for pk, sk in partial)
    assert not any(sk.startswith("d#") for _, sk in partial)

    # WHEN the shard is read again from the failed batch's first record with a larger batch,
    # and then the rest, by a new processor (another execution environment)
    retry = processor(settings)
    result = retry.process(shard, records[:55])
    retry.process(shard, records[55:])

    # THEN the table equals a clean single application of all the records
    assert result.writes.partial > 0  # items that had records[:40] got only records[40:55]
    clean_table = create_twin_table(settings)
    processor(settings, table=clean_table).process(shard, records)
    assert counters_only(table_items(settings)) == counters_only(table_items(settings, clean_table))


def test_an_owner_whose_memory_of_its_writes_went_stale_rereads_and_counts_once(settings: Settings) -> None:
    events = sim_events(80, seed=9, error_rate=0.05)
    records = as_records(events)
    shard = "shardId-000000000002"
    # GIVEN process A applied records[:20] and remembers what it wrote
    a = processor(settings)
    a.process(shard, records[:20])
    # WHEN process B takes the shard over and applies records[:70], cut differently
    processor(settings).process(shard, records[:70])
    after_b = counters_only(table_items(settings))
    # AND A, not knowing, applies its next batch records[20:60]
    stale = a.process(shard, records[20:60])

    # THEN A's conditions failed on the moved watermarks, it read the items again and skipped them
    # all: writing what it remembered plus its batch would have lost B's records[60:70]
    assert stale.writes.skipped > 0 and stale.writes.applied == stale.writes.partial == 0
    assert counters_only(table_items(settings)) == after_b
    # AND A's next batch applies only records[70:]: the table equals a clean single application
    assert a.process(shard, records[60:]).writes.partial > 0
    clean_table = create_twin_table(settings)
    processor(settings, table=clean_table).process(shard, records)
    assert counters_only(table_items(settings)) == counters_only(table_items(settings, clean_table))


def test_throttling_is_retried_and_nothing_is_lost(settings: Settings) -> None:
    events = sim_events(30, seed=7)
    records = as_records(events)
    client = fresh_dynamodb_client(settings)
    # every write is throttled twice before it gets through
    faults = WriteFaults(client, fail=lambda pk, sk, n: n < 2)

    result = processor(settings, client=client).process("shardId-000000000000", records)

    clean_table = create_twin_table(settings)
    processor(settings, table=clean_table).process("shardId-000000000000", records)
    assert faults.throttled >= 2 * result.writes.applied > 0
    assert table_items(settings) == {
        key: item for key, item in table_items(settings, clean_table).items()
    }  # identical, watermarks and sketches included


def test_uniques_within_the_sketch_error_with_two_shards_merging_concurrently(settings: Settings) -> None:
    # GIVEN 10 000 distinct users (and 2 500 sessions), one event each, in one hour, on two shards
    def event(i: int) -> dict[str, Any]:
        ts = f"2026-11-22T10:{i % 3:02d}:{i % 59:02d}.{i % 1000:03d}Z"  # few counter items: the sketches matter
        raw = {"event_id": f"e{i}", "event_type": "page_view", "user_id": f"user-{i}", "session_id": f"s{i % 2500}"}
        result = validate_event({**raw, "timestamp": ts, "url": "/"}, received_at=START + timedelta(hours=1))
        assert result.event is not None
        return result.event

    events = [event(i) for i in range(10_000)]
    speed = processor(settings)
    errors: list[BaseException] = []

    def run(shard: str, part: list[dict[str, Any]]) -> None:
        try:
            for batch in chunks(as_records(part), 1_000):
                speed.process(shard, batch)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"shard-{s}", events[s::2])) for s in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    items = logical_items(table_items(settings).values())
    for kind, truth in (("users", 10_000), ("sessions", 2_500)):
        for sk in ("h#2026-11-22T10:00:00Z", "d#2026-11-22T00:00:00Z"):
            estimate = estimate_uniques(bytes(items[(f"uniq#{kind}", sk)]["sketch"]))
            assert abs(estimate.estimate - truth) <= 3 * RSE * truth, (kind, sk, estimate)
            assert estimate.lower <= truth <= estimate.upper
    # each shard merged each of its 5 batches once, into its own sub-item: no write lost a race
    raw = raw_items(settings)
    assert [raw[("uniq#users", f"h#2026-11-22T10:00:00Z@shard-{s}")]["version"] for s in range(2)] == [5, 5]
    assert items[("all", "h#2026-11-22T10:00:00Z")]["events"] == 10_000


# --- stream plumbing --------------------------------------------------------------------------


def read_stream(settings: Settings) -> dict[str, list[InRecord]]:
    """Every record of every shard from TRIM_HORIZON, as the Lambda event source would see them."""
    client = _clients.client("kinesis", settings)
    out: dict[str, list[InRecord]] = {}
    for shard in client.list_shards(StreamName=settings.names.stream)["Shards"]:
        shard_id = shard["ShardId"]
        iterator = client.get_shard_iterator(
            StreamName=settings.names.stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = out.setdefault(shard_id, [])
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            if not page["Records"]:
                break
            for r in page["Records"]:
                arrival = int(r["ApproximateArrivalTimestamp"].timestamp() * 1000)
                records.append(InRecord(int(r["SequenceNumber"]), arrival, r["Data"]))
            iterator = page.get("NextShardIterator")
    return out


def chunks(records: list[InRecord], size: int) -> list[list[InRecord]]:
    return [records[i : i + size] for i in range(0, len(records), size)]
