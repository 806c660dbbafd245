"""Segment's official Python SDK (segment-analytics-python) against the collector over real HTTP.

The SDK is configured as a user would: only `host` points at the collector's /segment prefix
and the write key is ours. Events are read back from the Kinesis stream (moto), identity calls
from the identities store, rejects from the bad rows, and the archived copy from S3 raw/.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from segment.analytics import Client
from segment.analytics.request import APIError, post
from test_collector_http import RunningCollector, bad_rows, read_kinesis

from clickstream.adapters import _clients
from clickstream.adapters.s3 import RAW_IDENTITIES_PREFIX, LakeBucket
from clickstream.collector.deps import build_service
from clickstream.collector.protocols import UNMAPPED_EVENT, line_event_id
from clickstream.constants import LOCAL_WRITE_KEY, RAW_EVENTS_PREFIX
from clickstream.emulated.firehose.archiver import build_archiver
from clickstream.emulated.firehose.batching import FlushPolicy
from clickstream.events.codec import decode_event
from clickstream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
PRODUCTS = [
    {"product_id": "sku-1", "sku": "TRAIL-42", "name": "Trail shoe", "price": 89.5, "quantity": 1},
    {"product_id": "sku-2", "sku": "SOCK-3", "name": "Socks", "price": 7.25, "quantity": 3},
]
REVENUE = 89.5 + 7.25 * 3
JOURNEY_TYPES = Counter(
    {"page_view": 2, "search": 1, "click": 1, "add_to_cart": 2, "remove_from_cart": 1, "checkout": 1, "purchase": 2}
)


# --- shared with test_sdk_rudderstack.py (the same protocol, the same calls) ------------------


def journey(client: Any, *, user_id: str, anonymous_id: str, session_id: str) -> list[dict[str, Any]]:
    """A shopper's visit through an SDK client (Segment's or RudderStack's): the messages it queued."""

    def context(path: str) -> dict[str, Any]:
        page = {"path": path, "url": f"https://shop.example{path}", "referrer": "https://www.google.com/"}
        return {"sessionId": session_id, "ip": "203.0.113.77", "userAgent": UA, "page": page}

    ids = {"user_id": user_id, "anonymous_id": anonymous_id}
    sku3 = {"product_id": "sku-3", "name": "Cap", "price": 15.0, "quantity": 1}
    order = {"order_id": "o-1", "revenue": REVENUE, "tax": 9.1, "shipping": 4.9, "currency": "USD"}
    calls = [
        client.identify(traits={"email": "ada@example.com", "plan": "pro"}, context={"ip": "203.0.113.77"}, **ids),
        client.page(name="Home", properties={"path": "/", "title": "Home"}, context=context("/"), **ids),
        client.track(event="Products Searched", properties={"query": "trail shoes"}, context=context("/"), **ids),
        client.page(name="Trail shoe", properties={"path": "/p/sku-1"}, context=context("/p/sku-1"), **ids),
        client.track(event="Product Clicked", properties={"product_id": "sku-1"}, context=context("/p/sku-1"), **ids),
        client.track(event="Product Added", properties=PRODUCTS[0], context=context("/p/sku-1"), **ids),
        client.track(event="Product Added", properties=sku3, context=context("/p/sku-3"), **ids),
        client.track(event="Product Removed", properties=sku3, context=context("/cart"), **ids),
        client.track(
            event="Checkout Started", properties={**order, "products": PRODUCTS}, context=context("/cart"), **ids
        ),
        client.track(
            event="Order Completed", properties={**order, "products": PRODUCTS}, context=context("/ok"), **ids
        ),
        client.group(group_id="acme", traits={"name": "ACME"}, **ids),
        client.alias(previous_id=anonymous_id, user_id=user_id),
    ]
    assert all(ok for ok, _ in calls)
    return [message for _, message in calls]


def check_journey(
    settings: Settings, sent: list[dict[str, Any]], *, user_id: str, session_id: str, before: datetime
) -> list[dict[str, Any]]:
    """Assert what `journey` must leave in the pipeline; returns the events on the stream."""
    events = read_kinesis(settings)
    assert Counter(e["event_type"] for e in events) == JOURNEY_TYPES
    by_id = {e["event_id"]: e for e in events}
    kinds = [m["type"] for m in sent]
    for message in sent:
        if message["type"] == "track" and message["event"] == "Order Completed":
            lines = [by_id[line_event_id(message["messageId"], i)] for i in range(len(PRODUCTS))]
            assert [(e["product_id"], e["price"], e["quantity"]) for e in lines] == [
                (p["product_id"], p["price"], p["quantity"]) for p in PRODUCTS
            ]
            assert {e["order_id"] for e in lines} == {"o-1"} and {e["currency"] for e in lines} == {"USD"}
            assert lines[0]["properties"]["revenue"] == REVENUE and lines[0]["properties"]["tax"] == 9.1
            targets = lines
        elif message["type"] in ("track", "page"):
            targets = [by_id[message["messageId"]]]  # messageId is the event id
        else:
            assert message["messageId"] not in by_id  # identify/group/alias: not clickstream events
            continue
        sent_at = datetime.fromisoformat(message["timestamp"])
        for event in targets:
            stored = datetime.fromisoformat(event["timestamp"])
            # timestamp + (receivedAt - sentAt): a few ms later than the SDK's own stamp on a shared clock.
            assert sent_at - timedelta(milliseconds=1) <= stored <= sent_at + timedelta(seconds=5)
    assert before - timedelta(seconds=1) <= min(datetime.fromisoformat(e["timestamp"]) for e in events)
    assert {e["user_id"] for e in events} == {user_id}
    assert {e["session_id"] for e in events} == {session_id}
    assert {(e["ip_address"], e["browser"]) for e in events} == {("203.0.113.0", "Safari")}
    pages = sorted(e["url"] for e in events if e["event_type"] == "page_view")
    assert pages == ["/", "/p/sku-1"]
    revenue = sum(e["price"] * e["quantity"] for e in events if e["event_type"] == "purchase")
    assert revenue == pytest.approx(REVENUE)
    records = identities(settings)
    assert sorted(r["type"] for r in records) == sorted(k for k in kinds if k in ("identify", "group", "alias"))
    assert {r["message_id"] for r in records} == {
        m["messageId"] for m in sent if m["type"] in ("identify", "group", "alias")
    }
    assert {r["user_id"] for r in records} == {user_id}
    assert bad_rows(settings) == {}
    return events


def identities(settings: Settings) -> list[dict[str, Any]]:
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
    return [decode_event(line) for key in bucket.list_keys(RAW_IDENTITIES_PREFIX) for line in bucket.get_ndjson_gz(key)]


def archived_events(settings: Settings) -> list[dict[str, Any]]:
    """Run the raw archiver until the stream is drained; the events it wrote under S3 raw/events/."""
    archiver = build_archiver(settings, transport="kinesis", policy=FlushPolicy(max_age_seconds=0.2))
    archiver.run(threading.Event(), until_idle=0.5)
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
    return [decode_event(line) for key in bucket.list_keys(RAW_EVENTS_PREFIX) for line in bucket.get_ndjson_gz(key)]


def bad_row_list(settings: Settings) -> list[dict[str, Any]]:
    return [row for rows in bad_rows(settings).values() for row in rows]


def run_doc_snippet(heading: str, collector_url: str) -> dict[str, Any]:
    """Run the Python block under `heading` in docs/SDKS.md against `collector_url`; its globals."""
    text = (ROOT / "docs" / "SDKS.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1]
    [code] = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], flags=re.S)
    namespace: dict[str, Any] = {}
    exec(compile(code.replace("http://127.0.0.1:8000", collector_url), f"SDKS.md: {heading}", "exec"), namespace)
    return namespace


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def collector(settings: Settings) -> Iterator[RunningCollector]:
    running = RunningCollector(lambda: build_service(settings))
    yield running
    running.stop()


@pytest.fixture
def segment_client(collector: RunningCollector) -> Iterator[Callable[..., tuple[Client, list[Any]]]]:
    """`make(**options)`: a Segment client whose host is the collector; also returns its reported errors."""
    clients: list[Client] = []

    def make(write_key: str = LOCAL_WRITE_KEY, **options: Any) -> tuple[Client, list[Any]]:
        errors: list[Any] = []
        options = {"upload_interval": 0.05, "max_retries": 0, **options}
        client = Client(
            write_key, host=f"{collector.url}/segment", on_error=lambda e, batch: errors.append(e), **options
        )
        clients.append(client)
        return client, errors

    yield make
    for client in clients:
        if not client.sync_mode:
            client.shutdown()


# --- tests -------------------------------------------------------------------------------


def test_journey_lands_on_the_stream_identities_aside_and_in_s3_raw(
    segment_client: Callable[..., tuple[Client, list[Any]]], settings: Settings
) -> None:
    client, errors = segment_client()
    before = datetime.now(UTC)

    sent = journey(client, user_id="user-42", anonymous_id="anon-42", session_id="sess-42")
    client.flush()

    assert errors == []
    events = check_journey(settings, sent, user_id="user-42", session_id="sess-42", before=before)
    assert all(e["properties"]["_segment"]["context"]["library"]["name"] == "analytics-python" for e in events)
    archived = archived_events(settings)
    assert sorted(e["event_id"] for e in archived) == sorted(e["event_id"] for e in events)


def test_gzip_bodies(segment_client: Callable[..., tuple[Client, list[Any]]], settings: Settings) -> None:
    client, errors = segment_client(gzip=True)

    _, page = client.page(user_id="u-1", properties={"path": "/gz"})
    _, add = client.track(user_id="u-1", event="Product Added", properties={"product_id": "p", "price": 3})
    client.flush()

    assert errors == []
    landed = {e["event_id"]: e for e in read_kinesis(settings)}
    assert landed[page["messageId"]]["url"] == "/gz"
    assert (landed[add["messageId"]]["event_type"], landed[add["messageId"]]["price"]) == ("add_to_cart", 3.0)


def test_wrong_write_key_is_401_and_nothing_is_stored(
    segment_client: Callable[..., tuple[Client, list[Any]]], settings: Settings
) -> None:
    client, _ = segment_client("not-the-key", sync_mode=True)

    with pytest.raises(APIError) as err:
        client.track(user_id="u-1", event="Product Clicked", properties={"product_id": "p"})

    assert (err.value.status, err.value.code) == (401, "unauthorized")
    assert read_kinesis(settings) == [] and bad_rows(settings) == {} and identities(settings) == []


def test_oversize_batch_is_400_and_nothing_is_stored(collector: RunningCollector, settings: Settings) -> None:
    # The SDK's own request function (its client refuses to build such a batch: 475 KB cap).
    batch = [
        {"type": "track", "event": "Product Clicked", "userId": "u", "properties": {"blob": "x" * 30_000}}
        for _ in range(20)
    ]

    with pytest.raises(APIError) as err:
        post(LOCAL_WRITE_KEY, f"{collector.url}/segment", batch=batch)

    assert (err.value.status, err.value.code) == (400, "payload_too_large")
    assert read_kinesis(settings) == [] and bad_rows(settings) == {}


def test_mixed_batch_keeps_the_good_and_stores_the_bad_with_reasons(
    segment_client: Callable[..., tuple[Client, list[Any]]], settings: Settings
) -> None:
    client, errors = segment_client()

    _, good_page = client.page(user_id="u-1", properties={"path": "/"})
    _, unmapped = client.track(user_id="u-1", event="Newsletter Subscribed", properties={"list": "weekly"})
    _, no_price = client.track(user_id="u-1", event="Order Completed", properties={"order_id": "o-9"})
    _, bad_qty = client.track(user_id="u-1", event="Product Added", properties={"product_id": "p", "quantity": 0})
    _, good_click = client.track(user_id="u-1", event="Product Clicked", properties={"product_id": "p"})
    client.flush()

    assert errors == []  # a batch with rejects is still a success: nothing was lost
    assert sorted(e["event_id"] for e in read_kinesis(settings)) == sorted(
        [good_page["messageId"], good_click["messageId"]]
    )
    rows = {(r["payload"].get("messageId") or r["payload"]["event_id"]): r for r in bad_row_list(settings)}
    assert rows[unmapped["messageId"]]["reason"] == UNMAPPED_EVENT
    assert rows[unmapped["messageId"]]["payload"]["properties"] == {"list": "weekly"}  # the message, as sent
    assert "writeKey" not in rows[unmapped["messageId"]]["payload"]
    assert (rows[no_price["messageId"]]["reason"], rows[no_price["messageId"]]["errors"][0]["field"]) == (
        "missing",
        "price",
    )
    assert (rows[bad_qty["messageId"]]["reason"], rows[bad_qty["messageId"]]["errors"][0]["field"]) == (
        "out_of_range",
        "quantity",
    )
    assert {r["source"] for r in rows.values()} == {"collector:/segment/v1/batch"}


def test_the_docs_snippet_works(collector: RunningCollector, settings: Settings) -> None:
    namespace = run_doc_snippet("Segment (`segment-analytics-python`)", collector.url)
    namespace["analytics"].shutdown()

    events = read_kinesis(settings)
    assert Counter(e["event_type"] for e in events) == Counter(
        {"page_view": 1, "search": 1, "add_to_cart": 1, "purchase": 2}
    )
    assert sum(e["price"] * e["quantity"] for e in events if e["event_type"] == "purchase") == pytest.approx(111.25)
    assert [r["type"] for r in identities(settings)] == ["identify"]
