"""The Snowplow tracker protocol → our events: the pure mapping, and the answers through CollectorService.

The official tracker against the real server is in tests/integration/test_sdk_snowplow.py.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from clickstream.adapters.streams import StreamRecord
from clickstream.collector import snowplow, snowplow_mapping
from clickstream.collector.protocols import UNMAPPED_EVENT, Mapped, ProtocolRequest
from clickstream.collector.request import RequestError
from clickstream.collector.service import CollectorService
from clickstream.events.codec import decode_event
from clickstream.settings import Limits, Settings

NOW = datetime(2025, 1, 15, 10, 31, 0, tzinfo=UTC)
NOW_MS = 1736937060000
KEY = "sp-key"
JSON = {"Content-Type": "application/json; charset=utf-8"}
SNOWPLOW = "iglu:com.snowplowanalytics.snowplow"
ECOMMERCE = "iglu:com.snowplowanalytics.snowplow.ecommerce"


class Memory:
    def __init__(self) -> None:
        self.records: list[StreamRecord] = []
        self.rows: list[dict[str, Any]] = []

    def write(self, records: Sequence[StreamRecord]) -> None:
        self.records.extend(records)

    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> str:
        self.rows.extend(rows)
        return "key"

    def close(self) -> None:
        pass

    @property
    def events(self) -> list[dict[str, Any]]:
        return [decode_event(r.data) for r in self.records]


def make() -> tuple[CollectorService, Memory, Memory]:
    stream, bad = Memory(), Memory()
    return CollectorService(Settings(write_key=KEY), stream, bad, clock=lambda: NOW), stream, bad


def b64(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")  # as trackers send it: no padding


def self_describing(schema: str, data: dict[str, Any]) -> str:
    return b64({"schema": f"{SNOWPLOW}/unstruct_event/jsonschema/1-0-0", "data": {"schema": schema, "data": data}})


def contexts(*entities: tuple[str, dict[str, Any]]) -> str:
    data = [{"schema": schema, "data": entity} for schema, entity in entities]
    return b64({"schema": f"{SNOWPLOW}/contexts/jsonschema/1-0-1", "data": data})


def ev(e: str, eid: str = "e-1", **params: Any) -> dict[str, Any]:
    base = {"e": e, "eid": eid, "aid": f"{KEY}:shop", "duid": "d-1", "sid": "s-1", "p": "web", "tv": "py-1.1.0"}
    base |= {"dtm": str(NOW_MS - 70_000), "stm": str(NOW_MS - 10_000)}  # created 60 s before it was sent
    return {**base, **params}


def mapped(*items: object, app: str | None = "shop", ua: str | None = None) -> Mapped:
    out = Mapped()
    snowplow_mapping.map_events(items, out, received_at=NOW, app_ids=[app] * len(items), user_agent=ua)
    return out


def only(out: Mapped) -> dict[str, Any]:
    [event] = out.events
    assert isinstance(event, dict) and out.rejected == []
    return event


def payload(*items: object, schema: str = snowplow.PAYLOAD_DATA_SCHEMA) -> bytes:
    return orjson.dumps({"schema": schema, "data": list(items)})


def post_request(body: bytes, headers: dict[str, str] | None = None) -> ProtocolRequest:
    h = {k.lower(): v for k, v in (JSON if headers is None else headers).items()}
    return ProtocolRequest(h, body, "", "POST", KEY, Limits(), NOW)


# --- mapping -------------------------------------------------------------------------------


def test_page_view_fields_and_skew_correction() -> None:
    item = ev("pv", url="https://shop.example/p/1?ref=x", refr="https://google.com/", page="Shoe", uid="user-7")
    item |= {
        "ua": "Mozilla/5.0",
        "ip": "203.0.113.77",
        "cx": contexts(("iglu:com.acme/ctx/jsonschema/1-0-0", {"a": 1})),
    }

    event = only(mapped(item))

    assert (event["event_type"], event["event_id"], event["user_id"], event["session_id"]) == (
        "page_view",
        "e-1",
        "user-7",  # uid beats duid
        "s-1",
    )
    assert event["timestamp"] == NOW_MS - 60_000  # dtm + (received - stm)
    assert (event["url"], event["referrer"], event["user_agent"], event["ip_address"]) == (
        "/p/1",
        "https://google.com/",
        "Mozilla/5.0",
        "203.0.113.77",
    )
    props = event["properties"]
    meta = props["_snowplow"]
    assert props["title"] == "Shoe"
    assert meta["url"] == "https://shop.example/p/1?ref=x" and meta["duid"] == "d-1" and meta["app_id"] == "shop"
    assert meta["contexts"] == [{"schema": "iglu:com.acme/ctx/jsonschema/1-0-0", "data": {"a": 1}}]
    assert not {"aid", "ip", "ua", "cx", "eid"} & set(meta)
    assert KEY not in orjson.dumps(event).decode()  # the write key in `aid` is never stored


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ({"ttm": "1736930000000"}, 1736930000000),  # a time the app set: kept as is
        ({"stm": None}, NOW_MS - 70_000),  # no sent time: the device time as sent
        ({"dtm": None, "stm": None}, "2025-01-15T10:31:00.000Z"),
        ({"dtm": "yesterday"}, "yesterday"),  # not a number: left for validation to reject
    ],
)
def test_timestamp_rules(times: dict[str, Any], expected: object) -> None:
    item = {k: v for k, v in (ev("pv") | times).items() if v is not None}

    assert only(mapped(item))["timestamp"] == expected


def test_user_falls_back_to_the_network_id_and_agent_to_the_request_header() -> None:
    item = {k: v for k, v in ev("pv", tnuid="n-1").items() if k != "duid"}

    event = only(mapped(item, ua="python-requests/2.34"))

    assert (event["user_id"], event["user_agent"]) == ("n-1", "python-requests/2.34")


def test_page_ping_is_a_scroll_worth_one_ping_interval() -> None:
    item = ev("pp", url="/p/1", pp_mix="0", pp_max="0", pp_miy="100", pp_may="900", vp="1280x720", ds="1280x3240")

    event = only(mapped(item))

    assert (event["event_type"], event["duration_ms"]) == ("scroll", snowplow_mapping.DEFAULT_PING_INTERVAL_MS)
    assert event["properties"]["depth_pct"] == 50  # (900 + 720) / 3240
    assert event["properties"]["_snowplow"]["pp_may"] == "900"


def test_structured_event_maps_only_when_its_action_names_a_type() -> None:
    out = mapped(ev("se", se_ca="ui", se_ac="Click", se_la="buy"), ev("se", "e-2", se_ca="ui", se_ac="hover"))

    [event] = out.events
    assert isinstance(event, dict) and event["event_type"] == "click"
    assert {k: v for k, v in event["properties"].items() if k != "_snowplow"} == {
        "category": "ui",
        "action": "Click",
        "label": "buy",
    }
    [(kept, error)] = out.rejected
    assert error.reason == UNMAPPED_EVENT and isinstance(kept, dict) and kept["se_ac"] == "hover"
    assert kept["aid"] == "shop"  # the app name, not the key


@pytest.mark.parametrize(
    ("name", "data", "fields"),
    [
        ("link_click/jsonschema/1-0-1", {"targetUrl": "/p/2"}, {"event_type": "click"}),
        ("site_search/jsonschema/1-0-0", {"terms": ["red", "shoe"]}, {"event_type": "search"}),
        (
            "add_to_cart/jsonschema/1-0-0",
            {"sku": "p1", "quantity": 2, "unitPrice": 9.5, "currency": "EUR"},
            {"event_type": "add_to_cart", "product_id": "p1", "price": 9.5, "quantity": 2, "currency": "EUR"},
        ),
        (
            "remove_from_cart/jsonschema/1-0-0",
            {"sku": "p1", "quantity": 1, "unitPrice": 9.5},
            {"event_type": "remove_from_cart", "product_id": "p1"},
        ),
        ("screen_view/jsonschema/1-0-0", {"name": "Home", "id": "x"}, {"event_type": "page_view", "url": "Home"}),
    ],
)
def test_self_describing_events_with_a_clear_type(name: str, data: dict[str, Any], fields: dict[str, Any]) -> None:
    event = only(mapped(ev("ue", ue_px=self_describing(f"{SNOWPLOW}/{name}", data))))

    assert {k: event[k] for k in fields} == fields
    assert event["properties"]["_snowplow"]["schema"] == f"{SNOWPLOW}/{name}"
    if fields["event_type"] == "search":
        assert event["properties"]["query"] == "red shoe"


def test_self_describing_plain_json_and_unknown_schemas() -> None:
    envelope = {"schema": "x", "data": {"schema": "iglu:com.acme/signup/jsonschema/1-0-0", "data": {"plan": "pro"}}}
    out = mapped(ev("ue", ue_pr=orjson.dumps(envelope).decode()), ev("ue", "e-2", ue_px="%%%not base64"))

    assert out.events == []
    assert [(e.reason, e.field) for _, e in out.rejected] == [
        (UNMAPPED_EVENT, "event_type"),
        ("invalid_value", "properties"),
    ]


def test_ecommerce_transaction_is_one_purchase_per_product_entity() -> None:
    action = self_describing(f"{ECOMMERCE}/snowplow_ecommerce_action/jsonschema/1-0-2", {"type": "transaction"})
    cx = contexts(
        (f"{ECOMMERCE}/product/jsonschema/1-0-0", {"id": "p1", "price": 10, "quantity": 2, "currency": "EUR"}),
        (f"{ECOMMERCE}/product/jsonschema/1-0-0", {"id": "p2", "price": 4, "currency": "EUR"}),
        (f"{ECOMMERCE}/transaction/jsonschema/1-0-0", {"transaction_id": "t1", "revenue": 24, "currency": "EUR"}),
    )

    out = mapped(ev("ue", ue_px=action, cx=cx))

    lines = [e for e in out.events if isinstance(e, dict)]
    assert [(e["event_type"], e["order_id"], e["product_id"], e["price"], e["quantity"]) for e in lines] == [
        ("purchase", "t1", "p1", 10, 2),
        ("purchase", "t1", "p2", 4, None),
    ]
    assert len({e["event_id"] for e in lines}) == 2 and "e-1" not in {e["event_id"] for e in lines}


def test_ecommerce_checkout_step_is_a_checkout_priced_by_the_cart() -> None:
    action = self_describing(f"{ECOMMERCE}/snowplow_ecommerce_action/jsonschema/1-0-2", {"type": "checkout_step"})
    cx = contexts((f"{ECOMMERCE}/cart/jsonschema/1-0-0", {"total_value": 30, "currency": "EUR"}))

    event = only(mapped(ev("ue", ue_px=action, cx=cx)))

    assert (event["event_type"], event["price"], event["currency"], event["event_id"]) == ("checkout", 30, "EUR", "e-1")


def test_transaction_header_folds_into_its_items_and_alone_is_kept() -> None:
    items = [
        ev("tr", "e-1", tr_id="o1", tr_tt="19", tr_tx="2", tr_cu="EUR"),
        ev("ti", "e-2", ti_id="o1", ti_sk="p1", ti_nm="Shoe", ti_pr="9.5", ti_qu="2", ti_cu="EUR"),
        ev("tr", "e-3", tr_id="o2", tr_tt="5"),
    ]

    out = mapped(*items)

    [line] = out.events
    assert isinstance(line, dict)
    assert (line["event_type"], line["order_id"], line["product_id"], line["price"], line["quantity"]) == (
        "purchase",
        "o1",
        "p1",
        "9.5",
        "2",
    )
    assert line["properties"]["order"] == {"tr_id": "o1", "tr_tt": "19", "tr_tx": "2", "tr_cu": "EUR"}
    [(kept, error)] = out.rejected
    assert error.reason == UNMAPPED_EVENT and isinstance(kept, dict) and kept["tr_id"] == "o2"


def test_unknown_event_kinds_and_non_objects_are_kept() -> None:
    out = mapped(ev("ad"), "nope")

    assert out.events == []
    assert [e.reason for _, e in out.rejected] == [UNMAPPED_EVENT, "not_an_object"]


# --- requests: auth, envelope, pixel -------------------------------------------------------


@pytest.mark.parametrize(
    ("aid", "headers", "app"),
    [
        (KEY, JSON, None),
        (f"{KEY}:web-shop", JSON, "web-shop"),
        ("any-app", {**JSON, "X-Write-Key": KEY}, "any-app"),  # the key in a header: aid is just the app id
    ],
)
def test_accepted_write_key_rules(aid: str, headers: dict[str, str], app: str | None) -> None:
    result = snowplow.read_post(post_request(payload(ev("pv", aid=aid)), headers))

    assert isinstance(result, Mapped)
    event = only(result)
    assert event["properties"]["_snowplow"].get("app_id") == app


@pytest.mark.parametrize(
    ("items", "headers"),
    [
        ([ev("pv", aid="shop")], JSON),
        ([ev("pv", aid=f"x{KEY}")], JSON),
        ([ev("pv"), ev("pv", aid="wrong")], JSON),  # every event must carry the key
        ([{k: v for k, v in ev("pv").items() if k != "aid"}], JSON),
        ([ev("pv")], {**JSON, "X-Write-Key": "wrong"}),  # a wrong header key is not rescued by aid
    ],
)
def test_wrong_write_key_is_401(items: list[dict[str, Any]], headers: dict[str, str]) -> None:
    result = snowplow.read_post(post_request(payload(*items), headers))

    assert isinstance(result, RequestError) and (result.status, result.code) == (401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (payload(ev("pv"), schema="iglu:com.acme/other/jsonschema/1-0-0"), 400, "invalid_envelope"),
        (orjson.dumps([ev("pv")]), 400, "invalid_envelope"),
        (payload(), 400, "empty_batch"),
        (payload(*[ev("pv", str(i)) for i in range(501)]), 400, "too_many_events"),
        (payload(ev("pv"), ev("pv", page="x" * 40_000)), 413, "event_too_large"),
        (b"{", 400, "malformed_json"),
    ],
)
def test_post_request_errors(body: bytes, status: int, code: str) -> None:
    result = snowplow.read_post(post_request(body))

    assert isinstance(result, RequestError) and (result.status, result.code) == (status, code)


def test_post_through_the_service() -> None:
    service, stream, bad = make()
    body = payload(ev("pv", url="/", ip="198.51.100.9"), ev("se", "e-2", se_ac="wave"))

    response = service.handle(snowplow.POST_PATH, JSON, body)

    assert (response.status, response.body) == (200, {"status": "ok", "accepted": 1, "rejected": 1})
    [event] = stream.events
    assert (event["event_type"], event["ip_address"], event["timestamp"]) == (
        "page_view",
        "198.51.100.0",
        "2025-01-15T10:30:00.000Z",
    )
    assert [r["reason"] for r in bad.rows] == [UNMAPPED_EVENT]


def test_size_limits_answer_400_through_the_service() -> None:
    service, stream, bad = make()

    response = service.handle(snowplow.POST_PATH, JSON, payload(ev("pv"), ev("pv", page="x" * 40_000)))

    assert (response.status, response.body["error"]) == (400, "event_too_large")  # trackers retry a 413 forever
    assert stream.records == [] and bad.rows == []


def test_pixel_answers_a_gif() -> None:
    service, stream, _ = make()
    query = urlencode(ev("pv", url="https://shop.example/cart", aid=KEY))

    response = service.handle("/i", {"User-Agent": "Mozilla/5.0"}, b"", method="GET", query=query)

    assert response.status == 200 and response.headers["content-type"] == "image/gif"
    assert response.json() == snowplow.PIXEL_GIF and response.json().startswith(b"GIF89a")
    [event] = stream.events
    assert (event["url"], event["user_agent"], event["event_id"]) == ("/cart", "Mozilla/5.0", "e-1")


@pytest.mark.parametrize(
    ("method", "query", "status"),
    [("GET", urlencode(ev("pv", aid="nope")), 401), ("GET", "", 400), ("POST", urlencode(ev("pv")), 405)],
)
def test_pixel_errors_store_nothing(method: str, query: str, status: int) -> None:
    service, stream, bad = make()

    response = service.handle("/i", {}, b"", method=method, query=query)

    assert response.status == status and response.body["error"]
    assert stream.records == [] and bad.rows == []
