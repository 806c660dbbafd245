"""The stream-processor Lambda handler, called as the event source mapping calls it, on moto.

Real-shaped Kinesis and MSK events (tests/events/), poison records, throttling reported as a
partial batch failure and redelivered, and the handler's counters against an independent pandas
recomputation over a simulator fixture.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.awsrequest import AWSResponse

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb.packed import logical_items, physical_key
from clickstream.constants import RAW_BAD_PREFIX
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Settings
from clickstream.simulate.generator import SimConfig, generate
from clickstream.speed import processor as speed_processor
from lambdas.stream_processor.handler import handler

pytestmark = pytest.mark.slow  # the speed layer over thousands of events on the embedded server

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
DAY = "d#2026-11-22T00:00:00Z"
SEQ0 = 49656980227040428066208429483744412548911094318478049378  # a real-looking 56-digit sequence number


@pytest.fixture(autouse=True)
def fresh_deps(settings: Settings) -> Iterator[None]:
    # deps() is built once per execution environment; each test is a new environment
    speed_processor.deps.cache_clear()
    yield
    speed_processor.deps.cache_clear()


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return loaded


def table_items(settings: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    """The realtime table as readers see it: counters summed from the window items, the rest as stored."""
    return logical_items(physical_items(settings).values())


def physical_items(settings: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    client = _clients.client("dynamodb", settings)
    deserialize = TypeDeserializer().deserialize
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=settings.names.realtime_table):
        for raw in page["Items"]:
            item = {k: deserialize(v) for k, v in raw.items()}
            out[(item["pk"], item["sk"])] = item
    return out


def bad_rows(settings: Settings) -> list[dict[str, Any]]:
    s3 = _clients.client("s3", settings)
    listing = s3.list_objects_v2(Bucket=settings.names.bucket, Prefix=f"{RAW_BAD_PREFIX}/")
    rows: list[dict[str, Any]] = []
    for obj in listing.get("Contents", []):
        body = s3.get_object(Bucket=settings.names.bucket, Key=obj["Key"])["Body"].read()
        rows.extend(orjson.loads(line) for line in gzip.decompress(body).splitlines())
    return rows


def kinesis_event(
    datas: list[bytes], *, shard: str = "shardId-000000000000", first: int = SEQ0, arrival: float
) -> dict[str, Any]:
    """A Lambda Kinesis event as the event source mapping delivers it."""
    records = []
    for i, data in enumerate(datas):
        seq = str(first + 2 * i)
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"pk-{i}",
                    "sequenceNumber": seq,
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": arrival + i / 1000,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{seq}",
                "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/clickstream-local-events",
            }
        )
    return {"Records": records}


SAMPLE_DAY = {"events": 4, "errors": 1, "revenue": Decimal("37"), "orders": 1, "duration_ms": 8120, "timed_events": 1}


def counters(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ("events", "errors", "revenue", "orders", "duration_ms", "timed_events") if k in item}


def test_real_shaped_kinesis_event(settings: Settings) -> None:
    event = load("kinesis_stream_event.json")

    assert handler(event, None) == {"batchItemFailures": []}

    items = table_items(settings)
    assert counters(items[("all", DAY)]) == SAMPLE_DAY
    assert counters(items[("all", "m#2026-11-22T14:02:00Z")]) == {"events": 1, "errors": 1}  # 14:02:59.999
    assert counters(items[("status#404", DAY)]) == {"events": 1, "errors": 1}
    assert counters(items[("type#purchase", DAY)]) == {"events": 1, "revenue": Decimal("37")}
    assert counters(items[("product#p10438", DAY)]) == {"events": 2, "revenue": Decimal("37")}
    assert counters(items[("url#/checkout", "h#2026-11-22T14:00:00Z")]) == {"events": 1, "revenue": Decimal("37")}
    day_item = physical_items(settings)[physical_key(DAY, "shardId-000000000001")]
    assert day_item["wm"] == event["Records"][-1]["kinesis"]["sequenceNumber"].zfill(56)
    assert bad_rows(settings) == []
    # delivered again: nothing changes
    assert handler(event, None) == {"batchItemFailures": []}
    assert table_items(settings) == items


def test_real_shaped_msk_event_gives_the_same_counters(settings: Settings) -> None:
    assert handler(load("msk_event.json"), None) == {"batchItemFailures": []}

    items = table_items(settings)
    assert counters(items[("all", DAY)]) == SAMPLE_DAY
    shards = {sk.split("@")[1] for pk, sk in physical_items(settings) if pk.startswith("win#d#")}
    assert {"clickstream-dev-events-0", "clickstream-dev-events-3"} <= shards


def test_poison_records_go_to_bad_rows_and_the_batch_succeeds(settings: Settings) -> None:
    good = load("kinesis_stream_event.json")["Records"][0]["kinesis"]["data"]
    teleport = {**json.loads(base64.b64decode(good)), "event_id": "t1", "event_type": "teleport"}
    old_writer = {**json.loads(base64.b64decode(good)), "event_id": "v0", "schema_version": 0}
    datas = [b"\x89PNG\r\n\x1a\n", base64.b64decode(good), encode_event(teleport), encode_event(old_writer)]
    arrival = datetime(2026, 11, 22, 14, 4, tzinfo=UTC).timestamp()

    assert handler(kinesis_event(datas, arrival=arrival), None) == {"batchItemFailures": []}

    rows = bad_rows(settings)
    assert sorted(r["reason"] for r in rows) == ["invalid_value", "invalid_value", "unknown_event_type"]
    assert sorted(r["errors"][0]["field"] for r in rows) == ["", "event_type", "schema_version"]
    assert all(r["source"] == "stream:kinesis:shardId-000000000000" for r in rows)
    items = table_items(settings)
    assert items[("bad#invalid_value", "m#2026-11-22T14:04:00Z")]["events"] == 2  # not JSON; schema version 0
    assert items[("bad#unknown_event_type", DAY)]["events"] == 1
    assert items[("all", DAY)]["events"] == 1  # the good record still counts


def test_throttled_batch_is_reported_from_its_first_record_and_the_redelivery_completes_it(settings: Settings) -> None:
    events = sim_events(40, seed=11)
    arrival = datetime(2026, 11, 22, 11, 5, tzinfo=UTC).timestamp()
    event = kinesis_event([encode_event(e) for e in events], arrival=arrival)
    # GIVEN DynamoDB throttles every hour window item, past every retry
    client = _clients.client("dynamodb", settings)  # the very client the handler uses

    def throttle(params: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not json.loads(params["body"])["Item"]["pk"]["S"].startswith("win#h#"):
            return None
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}
        return AWSResponse("http://fault-injection", 400, {}, None), {"Error": error, "ResponseMetadata": {}}

    client.meta.events.register("before-call.dynamodb.PutItem", throttle)
    speed_processor.deps().counters._base_delay = 0.001  # type: ignore[attr-defined]  # keep the backoff short
    try:
        response = handler(event, None)
    finally:
        client.meta.events.unregister("before-call.dynamodb.PutItem", throttle)

    # THEN the whole batch is reported for retry, from its first record
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["kinesis"]["sequenceNumber"]}]}
    # WHEN Lambda redelivers it (in a new execution environment, say)
    speed_processor.deps.cache_clear()
    assert handler(event, None) == {"batchItemFailures": []}
    # THEN every counter is exact
    assert_matches_pandas(table_items(settings), events)


def test_handler_counters_equal_an_independent_pandas_recomputation(settings: Settings) -> None:
    events = sim_events(260, seed=0, error_rate=0.05, late_fraction=0.05, duplicate_fraction=0.04)
    arrival = datetime(2026, 11, 22, 11, 5, tzinfo=UTC).timestamp()
    # two shards by hashed user_id, batches of 50 as an event source mapping would deliver them
    shards: dict[str, list[bytes]] = {}
    for e in events:
        shard = f"shardId-00000000000{hashlib.md5(e['user_id'].encode()).digest()[0] % 2}"
        shards.setdefault(shard, []).append(encode_event(e))
    for shard, datas in shards.items():
        for i in range(0, len(datas), 50):
            batch = kinesis_event(datas[i : i + 50], shard=shard, first=SEQ0 + 2 * i, arrival=arrival + i)
            assert handler(batch, None) == {"batchItemFailures": []}

    assert_matches_pandas(table_items(settings), events)
    # the fixture exercised every rule: errors, late events, producer duplicates, orders, revenue
    day = table_items(settings)[("all", DAY)]
    assert day["errors"] > 0 and day["orders"] == 3 and day["revenue"] > 0  # 3 orders, 5 purchase lines
    assert len({e["event_id"] for e in events}) < len(events)
    assert any(e["timestamp"] < events[i - 1]["timestamp"] for i, e in enumerate(events) if i)


# --- the independent recomputation ---------------------------------------------------------


def sim_events(n: int, *, seed: int, **config: Any) -> list[dict[str, Any]]:
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    out = []
    for raw in generate(SimConfig(start=start, events=n, users=max(10, n // 6), seed=seed, **config)):
        result = validate_event(raw, received_at=start + timedelta(hours=1))
        if result.event is not None:
            out.append(result.event)
    return out


def expected_counters(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every counter item recomputed with pandas, from the metric definitions in docs/METRICS.md."""
    df = pd.DataFrame(events).drop_duplicates("event_id")  # the stream order keeps the first send
    t = pd.to_datetime(df["timestamp"], utc=True)
    windows = {
        "m": "m#" + t.dt.floor("min").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "h": "h#" + t.dt.floor("h").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "d": "d#" + t.dt.floor("D").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    url = df["url"].str.split("?").str[0].str.split("#").str[0].str[:256]
    dims = {
        "all": pd.Series("all", index=df.index),
        "type": "type#" + df["event_type"],
        "status": "status#" + df["http_status"].astype(int).astype(str),
        "url": "url#" + url,
        "product": "product#" + df["product_id"],
    }
    purchase = df["event_type"] == "purchase"
    revenue = [
        (Decimal(repr(p)) * int(q or 1)).quantize(Decimal("0.000001")) if is_p else Decimal(0)
        for p, q, is_p in zip(df["price"], df["quantity"], purchase, strict=True)
    ]
    base = pd.DataFrame(
        {
            "events": 1,
            "errors": (df["http_status"] >= 400).astype(int),
            "revenue": revenue,
            "duration_ms": df["duration_ms"].fillna(0).astype(int),
            "timed_events": df["duration_ms"].notna().astype(int),
            "order": df["order_id"].where(purchase),
        }
    )
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for dim in dims.values():
        for sk in windows.values():
            frame = base.assign(pk=dim, sk=sk).dropna(subset=["pk"])
            for (pk, window), group in frame.groupby(["pk", "sk"]):
                cell = {
                    "events": int(group["events"].sum()),
                    "errors": int(group["errors"].sum()),
                    "revenue": sum(group["revenue"], Decimal(0)),
                    "orders": int(group["order"].nunique()) if pk == "all" else 0,
                    "duration_ms": int(group["duration_ms"].sum()),
                    "timed_events": int(group["timed_events"].sum()),
                }
                out[(pk, window)] = {k: v for k, v in cell.items() if v}
    return out


def assert_matches_pandas(items: dict[tuple[str, str], dict[str, Any]], events: list[dict[str, Any]]) -> None:
    expected = expected_counters(events)
    got = {
        key: counters(item)
        for key, item in items.items()
        if not key[0].startswith(("uniq#", "top#", "order#", "meta#", "dup#", "bad#"))
    }
    assert got == expected


def test_realtime_view_reads_what_the_handler_wrote(settings: Settings) -> None:
    from click.testing import CliRunner

    from clickstream.adapters.dynamodb import CountersTable
    from clickstream.cli import main
    from clickstream.speed.snapshot import read_snapshot

    handler(load("kinesis_stream_event.json"), None)
    table = CountersTable(settings.names.realtime_table, client=_clients.client("dynamodb", settings))

    snap = read_snapshot(table, datetime(2026, 11, 22, 14, 3, 59, 500_000, tzinfo=UTC))

    assert snap["totals"]["minute"]["events"] == 3 and snap["totals"]["previous_minute"]["events"] == 1
    assert snap["totals"]["hour"]["error_rate"] == 0.25 and snap["totals"]["hour"]["aov"] == 37.0
    assert snap["events_by_type"]["minute"] == {
        **dict.fromkeys(snap["events_by_type"]["minute"], 0),
        "page_view": 1,
        "add_to_cart": 1,
        "purchase": 1,
    }
    assert [(s["status"], s["hour_events"], s["error"]) for s in snap["statuses"]] == [
        ("200", 3, False),
        ("404", 1, True),
    ]
    assert snap["top_urls"][0] == {"url": "/p/p10438/fable-lipstick", "events": 2, "errors": 0}
    assert snap["uniques"]["users"]["hour"]["estimate"] == 2 and snap["uniques"]["sessions"]["day"]["estimate"] == 2
    assert snap["events_per_minute"] == {"2026-11-22T14:02:00Z": 1, "2026-11-22T14:03:00Z": 3}
    assert snap["freshness_seconds"] == pytest.approx(4.498)  # 14:03:59.5 - newest event 14:03:55.002
    # and the command prints the same kind of snapshot as JSON, for now
    result = CliRunner().invoke(main, ["realtime", "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)) >= {
        "totals",
        "events_by_type",
        "statuses",
        "top_urls",
        "uniques",
        "freshness_seconds",
    }
