"""Snowplow's official Python tracker (snowplow-tracker) against the collector over real HTTP.

The emitter's endpoint is the collector's address and nothing else; the write key rides in the
tracker's app id (`<write key>:<app name>`, see docs/SDKS.md). Both emitter methods are
driven: POST (`/com.snowplowanalytics.snowplow/tp2`, batched) and GET (`/i`, the pixel).
"""

from __future__ import annotations

import base64
import gzip
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from snowplow_tracker import Emitter, SelfDescribingJson, Subject, Tracker
from snowplow_tracker.events import PagePing, PageView, SelfDescribing, StructuredEvent
from test_collector_http import RunningCollector, bad_rows, read_kinesis
from test_sdk_segment import archived_events, bad_row_list, run_doc_snippet

from clickstream.collector.deps import build_service
from clickstream.collector.protocols import UNMAPPED_EVENT
from clickstream.collector.snowplow import PAYLOAD_DATA_SCHEMA, PIXEL_GIF
from clickstream.constants import LOCAL_WRITE_KEY
from clickstream.settings import Settings
from lambdas.collector import handler as collector_lambda

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36"
SP = "iglu:com.snowplowanalytics.snowplow"
ECOMMERCE = "iglu:com.snowplowanalytics.snowplow.ecommerce"
SITE = "https://shop.example"
ITEMS = [
    {"sku": "sku-1", "name": "Trail shoe", "category": "shoes", "price": 89.5, "quantity": 1},
    {"sku": "sku-2", "name": "Socks", "category": "socks", "price": 7.25, "quantity": 3},
]
REVENUE = 89.5 + 7.25 * 3


@pytest.fixture
def collector(settings: Settings) -> Iterator[RunningCollector]:
    running = RunningCollector(lambda: build_service(settings))
    yield running
    running.stop()


@pytest.fixture
def tracker(collector: RunningCollector) -> Callable[..., tuple[Tracker, list[int]]]:
    """`make(method, app_id)`: a tracker for one shopper and the counts of events its emitter failed to send."""

    def make(method: str = "post", app_id: str = f"{LOCAL_WRITE_KEY}:web-shop") -> tuple[Tracker, list[int]]:
        failed: list[int] = []
        emitter = Emitter(
            collector.url,
            method=method,  # type: ignore[arg-type]
            batch_size=50,
            on_failure=lambda sent, events: failed.append(len(events)),
            custom_retry_codes={500: False, 503: False},  # a test must not wait for the retry timer
        )
        subject = Subject().set_user_id("user-9").set_domain_user_id("duid-9").set_domain_session_id("sess-9")
        subject.set_useragent(UA).set_ip_address("198.51.100.23").set_platform("web")
        return Tracker("shop", emitter, subject=subject, app_id=app_id), failed

    return make


def shop(tracker: Tracker) -> dict[str, str]:
    """Page views, a ping, the e-commerce sequence and a transaction; the event ids the tracker returned."""

    def sd(schema: str, data: dict[str, Any], context: list[SelfDescribingJson] | None = None) -> str | None:
        return tracker.track(SelfDescribing(SelfDescribingJson(schema, data), context=context))

    ids = {
        "home": tracker.track(
            PageView(page_url=f"{SITE}/?utm=x", page_title="Home", referrer="https://www.google.com/")
        ),
        "ping": tracker.track(PagePing(page_url=f"{SITE}/", min_x=0, max_x=0, min_y=0, max_y=400)),
        "search": sd(f"{SP}/site_search/jsonschema/1-0-0", {"terms": ["trail", "shoes"], "totalResults": 12}),
        "product": tracker.track(PageView(page_url=f"{SITE}/p/sku-1", page_title="Trail shoe")),
        "click": sd(f"{SP}/link_click/jsonschema/1-0-1", {"targetUrl": f"{SITE}/p/sku-1", "elementId": "card-1"}),
        "add": sd(f"{SP}/add_to_cart/jsonschema/1-0-0", {"sku": "sku-1", "quantity": 1, "unitPrice": 89.5}),
        "add2": sd(f"{SP}/add_to_cart/jsonschema/1-0-0", {"sku": "sku-3", "quantity": 1, "unitPrice": 15.0}),
        "remove": sd(f"{SP}/remove_from_cart/jsonschema/1-0-0", {"sku": "sku-3", "quantity": 1, "unitPrice": 15.0}),
        "checkout": sd(
            f"{ECOMMERCE}/snowplow_ecommerce_action/jsonschema/1-0-2",
            {"type": "checkout_step"},
            [
                SelfDescribingJson(f"{ECOMMERCE}/checkout_step/jsonschema/1-0-0", {"step": 1}),
                SelfDescribingJson(f"{ECOMMERCE}/cart/jsonschema/1-0-0", {"total_value": REVENUE, "currency": "USD"}),
            ],
        ),
    }
    with warnings.catch_warnings():  # the classic transaction API (tr + ti) is deprecated but what sites send
        warnings.simplefilter("ignore", DeprecationWarning)
        tracker.track_ecommerce_transaction(
            "o-1", REVENUE, tax_value=9.1, currency="USD", items=[dict(i) for i in ITEMS]
        )
    return {k: v for k, v in ids.items() if v is not None}


def test_post_emitter_journey(
    tracker: Callable[..., tuple[Tracker, list[int]]], collector: RunningCollector, settings: Settings
) -> None:
    sp, failed = tracker("post")
    before = datetime.now(UTC)

    ids = shop(sp)
    sp.flush()

    after = datetime.now(UTC)
    assert failed == []
    events = read_kinesis(settings)
    assert Counter(e["event_type"] for e in events) == Counter(
        {"page_view": 2, "scroll": 1, "search": 1, "click": 1, "add_to_cart": 2, "remove_from_cart": 1}
        | {"checkout": 1, "purchase": 2}
    )
    by_id = {e["event_id"]: e for e in events}
    assert set(ids.values()) <= set(by_id)  # eid is the event id
    assert (by_id[ids["home"]]["url"], by_id[ids["home"]]["referrer"]) == ("/", "https://www.google.com/")
    assert by_id[ids["home"]]["properties"]["_snowplow"]["url"] == f"{SITE}/?utm=x"
    assert by_id[ids["ping"]]["duration_ms"] == 10_000
    assert by_id[ids["search"]]["properties"]["query"] == "trail shoes"
    assert (by_id[ids["add"]]["product_id"], by_id[ids["add"]]["price"]) == ("sku-1", 89.5)
    assert by_id[ids["remove"]]["product_id"] == "sku-3"
    assert by_id[ids["checkout"]]["price"] == REVENUE
    purchases = sorted((e for e in events if e["event_type"] == "purchase"), key=lambda e: e["product_id"])
    assert [(p["order_id"], p["product_id"], p["price"], p["quantity"], p["currency"]) for p in purchases] == [
        ("o-1", i["sku"], i["price"], i["quantity"], "USD") for i in ITEMS
    ]
    assert sum(p["price"] * p["quantity"] for p in purchases) == pytest.approx(REVENUE)
    assert purchases[0]["properties"]["order"]["tr_tx"] == "9.1"  # the transaction header, folded in
    assert {(e["user_id"], e["session_id"]) for e in events} == {("user-9", "sess-9")}
    assert {(e["ip_address"], e["browser"]) for e in events} == {("198.51.100.0", "Chrome")}
    assert {e["properties"]["_snowplow"]["app_id"] for e in events} == {"web-shop"}
    assert all(LOCAL_WRITE_KEY not in orjson.dumps(e).decode() for e in events)
    for e in events:  # dtm + (received - stm): stm has whole seconds, so up to 1 s later than the device time
        assert (
            before - timedelta(milliseconds=1) <= datetime.fromisoformat(e["timestamp"]) <= after + timedelta(seconds=2)
        )
    assert bad_rows(settings) == {}
    assert sorted(e["event_id"] for e in archived_events(settings)) == sorted(by_id)


def test_get_emitter_sends_pixels_with_the_bare_key_as_app_id(
    tracker: Callable[..., tuple[Tracker, list[int]]], collector: RunningCollector, settings: Settings
) -> None:
    sp, failed = tracker("get", app_id=LOCAL_WRITE_KEY)

    home = sp.track(PageView(page_url=f"{SITE}/", page_title="Home"))
    click = sp.track(StructuredEvent(category="nav", action="click", label="logo"))
    sp.flush()

    assert failed == []
    landed = {e["event_id"]: e for e in read_kinesis(settings)}
    assert (landed[home]["event_type"], landed[click]["event_type"]) == ("page_view", "click")
    assert "app_id" not in landed[home]["properties"]["_snowplow"]
    pixel = collector.http.get("/i", params={"e": "pv", "aid": LOCAL_WRITE_KEY, "duid": "d", "url": "/x"})
    assert (pixel.status_code, pixel.headers["content-type"], pixel.content) == (200, "image/gif", PIXEL_GIF)


@pytest.mark.parametrize("method", ["post", "get"])
def test_wrong_app_id_is_401_and_nothing_is_stored(
    tracker: Callable[..., tuple[Tracker, list[int]]], collector: RunningCollector, settings: Settings, method: str
) -> None:
    sp, failed = tracker(method, app_id="web-shop")  # no write key in it

    sp.track(PageView(page_url=f"{SITE}/"))
    sp.flush()

    assert failed == [1]
    assert read_kinesis(settings) == [] and bad_rows(settings) == {}
    path = "/com.snowplowanalytics.snowplow/tp2" if method == "post" else "/i"
    direct = (
        collector.http.post(path, json={"schema": PAYLOAD_DATA_SCHEMA, "data": [{"e": "pv", "aid": "web-shop"}]})
        if method == "post"
        else collector.http.get(path, params={"e": "pv", "aid": "web-shop"})
    )
    assert (direct.status_code, direct.json()["error"]) == (401, "unauthorized")


def test_mixed_batch_keeps_the_good_and_stores_the_bad(
    tracker: Callable[..., tuple[Tracker, list[int]]], settings: Settings
) -> None:
    sp, failed = tracker("post")

    good = sp.track(PageView(page_url=f"{SITE}/"))
    hover = sp.track(StructuredEvent(category="ui", action="hover"))
    signup = sp.track(SelfDescribing(SelfDescribingJson("iglu:com.acme/signup/jsonschema/1-0-0", {"plan": "pro"})))
    sp.flush()

    assert failed == []  # stored as bad rows is stored: the tracker must not resend
    assert [e["event_id"] for e in read_kinesis(settings)] == [good]
    rows = {r["payload"]["eid"]: r for r in bad_row_list(settings)}
    assert set(rows) == {hover, signup}
    assert {r["reason"] for r in rows.values()} == {UNMAPPED_EVENT}
    assert rows[hover]["payload"]["se_ac"] == "hover" and rows[hover]["payload"]["aid"] == "web-shop"


def test_oversize_and_gzip(collector: RunningCollector, settings: Settings) -> None:
    event = {"e": "pv", "aid": LOCAL_WRITE_KEY, "duid": "d", "url": "/", "page": "x" * 20_000}
    big = orjson.dumps({"schema": PAYLOAD_DATA_SCHEMA, "data": [{**event, "eid": str(i)} for i in range(30)]})
    small = orjson.dumps({"schema": PAYLOAD_DATA_SCHEMA, "data": [{**event, "page": "Home", "eid": "gz-1"}]})
    headers = {"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"}
    path = "/com.snowplowanalytics.snowplow/tp2"

    oversize = collector.http.post(path, content=gzip.compress(big), headers=headers)
    compressed = httpx.post(f"{collector.url}{path}", content=gzip.compress(small), headers=headers, trust_env=False)

    assert (oversize.status_code, oversize.json()["error"]) == (400, "payload_too_large")
    assert compressed.status_code == 200
    assert [e["event_id"] for e in read_kinesis(settings)] == ["gz-1"]


def test_lambda_answers_the_pixel_base64_encoded(settings: Settings) -> None:
    event = {
        "rawPath": "/i",
        "rawQueryString": f"e=pv&aid={LOCAL_WRITE_KEY}&duid=d-1&eid=px-1&url=%2Fcart",
        "headers": {"user-agent": UA},
        "requestContext": {"http": {"method": "GET"}, "stage": "$default"},
        "isBase64Encoded": False,
    }
    collector_lambda.deps.cache_clear()
    try:
        response = collector_lambda.handler(event, None)
    finally:
        collector_lambda.deps.cache_clear()

    assert (response["statusCode"], response["headers"]["content-type"], response["isBase64Encoded"]) == (
        200,
        "image/gif",
        True,
    )
    assert base64.b64decode(response["body"]) == PIXEL_GIF
    [landed] = read_kinesis(settings)
    assert (landed["event_id"], landed["url"], landed["browser"]) == ("px-1", "/cart", "Chrome")


def test_the_docs_snippet_works(collector: RunningCollector, settings: Settings) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        run_doc_snippet("Snowplow (`snowplow-tracker`)", collector.url)

    events = read_kinesis(settings)
    assert sorted(e["event_type"] for e in events) == ["add_to_cart", "page_view", "purchase", "purchase"]
    assert {(e["user_id"], e["session_id"]) for e in events} == {("user-9", "sess-9")}
    assert bad_rows(settings) == {}
