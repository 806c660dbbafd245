"""RudderStack's official Python SDK (rudder-sdk-python) against the collector's Segment-compatible API.

RudderStack speaks Segment's protocol with its own habits: gzip bodies by default, identify
traits in `context.traits`, a `channel` field, the write key only as the Basic username. Only
`host` is pointed at the collector; the checks are the same as for Segment's SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from rudderstack.analytics import Client
from rudderstack.analytics.request import APIError, post
from test_collector_http import RunningCollector, bad_rows, read_kinesis
from test_sdk_segment import archived_events, bad_row_list, check_journey, identities, journey, run_doc_snippet

from clickstream.collector.deps import build_service
from clickstream.collector.protocols import UNMAPPED_EVENT
from clickstream.constants import LOCAL_WRITE_KEY
from clickstream.settings import Settings


@pytest.fixture
def collector(settings: Settings) -> Iterator[RunningCollector]:
    running = RunningCollector(lambda: build_service(settings))
    yield running
    running.stop()


@pytest.fixture
def rudder_client(collector: RunningCollector) -> Iterator[Callable[..., tuple[Client, list[Any]]]]:
    """`make(**options)`: a RudderStack client whose host (data plane URL) is the collector's /segment."""
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


def test_journey_lands_on_the_stream_identities_aside_and_in_s3_raw(
    rudder_client: Callable[..., tuple[Client, list[Any]]], settings: Settings
) -> None:
    client, errors = rudder_client()  # gzip=True is RudderStack's default
    before = datetime.now(UTC)

    sent = journey(client, user_id="user-7", anonymous_id="anon-7", session_id="sess-7")
    client.flush()

    assert errors == []
    events = check_journey(settings, sent, user_id="user-7", session_id="sess-7", before=before)
    assert {e["properties"]["_segment"]["channel"] for e in events} == {"server"}
    [identify] = [r for r in identities(settings) if r["type"] == "identify"]
    assert identify["payload"]["context"]["traits"] == {"email": "ada@example.com", "plan": "pro"}
    assert identify["anonymous_id"] == "anon-7"
    assert sorted(e["event_id"] for e in archived_events(settings)) == sorted(e["event_id"] for e in events)


def test_uncompressed_bodies_too(rudder_client: Callable[..., tuple[Client, list[Any]]], settings: Settings) -> None:
    client, errors = rudder_client(gzip=False)

    _, message = client.track(user_id="u-1", event="Product Removed", properties={"product_id": "p", "price": 2})
    client.flush()

    assert errors == []
    [event] = read_kinesis(settings)
    assert (event["event_id"], event["event_type"], event["product_id"]) == (
        message["messageId"],
        "remove_from_cart",
        "p",
    )


def test_wrong_write_key_is_401_and_nothing_is_stored(
    rudder_client: Callable[..., tuple[Client, list[Any]]], settings: Settings
) -> None:
    client, _ = rudder_client("not-the-key", sync_mode=True)

    with pytest.raises(APIError) as err:
        client.page(user_id="u-1", properties={"path": "/"})

    assert (err.value.status, err.value.code) == (401, "unauthorized")
    assert read_kinesis(settings) == [] and bad_rows(settings) == {}


def test_oversize_batch_is_400(collector: RunningCollector, settings: Settings) -> None:
    batch = [{"type": "page", "userId": "u", "properties": {"path": "/", "blob": "x" * 30_000}} for _ in range(20)]

    with pytest.raises(APIError) as err:
        post(LOCAL_WRITE_KEY, f"{collector.url}/segment", batch=batch)  # the SDK's request function, gzipped

    assert (err.value.status, err.value.code) == (400, "payload_too_large")
    assert read_kinesis(settings) == []


def test_mixed_batch_keeps_the_good_and_stores_the_bad(
    rudder_client: Callable[..., tuple[Client, list[Any]]], settings: Settings
) -> None:
    client, errors = rudder_client()

    _, good = client.screen(user_id="u-1", name="Basket")
    _, unmapped = client.track(user_id="u-1", event="Coupon Applied", properties={"coupon": "X"})
    _, bad_ip = client.page(user_id="u-1", properties={"path": "/"}, context={"ip": "not-an-ip"})
    client.flush()

    assert errors == []
    [event] = read_kinesis(settings)
    # a screen's name is its URL, rooted like any path (docs/DATA_CONTRACT.md, `url`)
    assert (event["event_id"], event["event_type"], event["url"]) == (good["messageId"], "page_view", "/Basket")
    rows = {(r["payload"].get("messageId") or r["payload"]["event_id"]): r for r in bad_row_list(settings)}
    assert rows[unmapped["messageId"]]["reason"] == UNMAPPED_EVENT
    assert (rows[bad_ip["messageId"]]["reason"], rows[bad_ip["messageId"]]["errors"][0]["field"]) == (
        "invalid_value",
        "ip_address",
    )


def test_the_docs_snippet_works(collector: RunningCollector, settings: Settings) -> None:
    namespace = run_doc_snippet("RudderStack (`rudder-sdk-python`)", collector.url)
    namespace["rudder"].shutdown()

    assert sorted(e["event_type"] for e in read_kinesis(settings)) == ["checkout", "page_view"]
    assert [r["type"] for r in identities(settings)] == ["identify"]
