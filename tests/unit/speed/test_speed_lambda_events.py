"""Lambda event payloads (real-shaped samples in tests/events/) → per-shard batches; partial response."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson

from clickstream.speed.lambda_events import partial_response, shard_batches

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return loaded


def test_kinesis_event() -> None:
    event = load("kinesis_stream_event.json")
    (batch,) = shard_batches(event, now_ms=0)
    assert batch.shard == "shardId-000000000001" and batch.source == "kinesis"
    records = event["Records"]
    assert batch.item_ids == [r["kinesis"]["sequenceNumber"] for r in records]
    assert [r.position for r in batch.records] == [int(s) for s in batch.item_ids]
    assert batch.records[0].arrival_ms == round(records[0]["kinesis"]["approximateArrivalTimestamp"] * 1000)
    assert orjson.loads(batch.records[2].data)["event_type"] == "purchase"


def test_kafka_event_one_batch_per_partition_in_offset_order() -> None:
    event = load("msk_event.json")
    batches = shard_batches(event, now_ms=0)
    assert [(b.shard, b.source, b.item_ids) for b in batches] == [
        ("clickstream-dev-events-0", "kafka", ["1200", "1201", "1202"]),
        ("clickstream-dev-events-3", "kafka", ["877"]),
    ]
    assert batches[0].records[0].arrival_ms == 1795356238412


def test_self_managed_kafka_and_records_out_of_order() -> None:
    value = base64.b64encode(b'{"a":1}').decode()
    event = {
        "eventSource": "SelfManagedKafka",
        "records": {
            "t-1": [{"offset": 9, "timestamp": -1, "value": value}, {"offset": 8, "timestamp": 5, "value": value}]
        },
    }
    (batch,) = shard_batches(event, now_ms=777)
    assert batch.item_ids == ["8", "9"]
    assert [r.arrival_ms for r in batch.records] == [5, 777]  # no timestamp: the invocation time


def test_kinesis_records_of_several_shards_are_grouped() -> None:
    def record(shard: str, seq: str) -> dict[str, Any]:
        return {"eventID": f"{shard}:{seq}", "kinesis": {"sequenceNumber": seq, "data": "e30="}}

    event = {"Records": [record("shardId-1", "10"), record("shardId-2", "5"), record("shardId-1", "11")]}
    batches = shard_batches(event, now_ms=42)
    assert [(b.shard, b.item_ids) for b in batches] == [("shardId-1", ["10", "11"]), ("shardId-2", ["5"])]
    assert batches[0].records[0].arrival_ms == 42 and batches[0].records[0].data == b"{}"


def test_data_that_is_not_base64_is_kept_as_text() -> None:
    event = {"Records": [{"eventID": "s:1", "kinesis": {"sequenceNumber": "1", "data": "not base64!"}}]}
    assert shard_batches(event, now_ms=0)[0].records[0].data == b"not base64!"


def test_partial_response() -> None:
    assert partial_response([]) == {"batchItemFailures": []}
    assert partial_response(["49"]) == {"batchItemFailures": [{"itemIdentifier": "49"}]}
