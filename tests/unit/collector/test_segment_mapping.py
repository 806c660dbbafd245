"""Segment's HTTP tracking API → our events: the pure mapping, and the answers through CollectorService.

Stand-ins for the stream and the stores are in-memory; the official SDKs against the real
server are in tests/integration/test_sdk_segment.py and test_sdk_rudderstack.py.
"""

from __future__ import annotations

import base64
import gzip
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from clickstream.adapters.streams import StreamRecord
from clickstream.collector import segment, segment_mapping
from clickstream.collector.protocols import UNMAPPED_EVENT, Mapped, ProtocolRequest
from clickstream.collector.request import RequestError
from clickstream.collector.service import CollectorService
from clickstream.errors import StreamUnavailableError
from clickstream.events.codec import decode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Limits, Settings

NOW = datetime(2025, 1, 15, 10, 31, 0, tzinfo=UTC)
KEY = "seg-key"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode(), "Content-Type": "application/json"}
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:146.0) Gecko/20100101 Firefox/146.0"


class Memory:
    """An in-memory stream writer and record store (bad rows, identities)."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.records: list[StreamRecord] = []
        self.rows: list[dict[str, Any]] = []
        self.fail = fail

    def write(self, records: Sequence[StreamRecord]) -> None:
        if self.fail:
            raise self.fail
        self.records.extend(records)

    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> str:
        self.rows.extend(rows)
        return "key"

    def close(self) -> None:
        pass

    @property
    def events(self) -> list[dict[str, Any]]:
        return [decode_event(r.data) for r in self.records]


def make(fail: Exception | None = None) -> tuple[CollectorService, Memory, Memory, Memory]:
    stream, bad, identities = Memory(fail), Memory(), Memory()
    service = CollectorService(Settings(write_key=KEY), stream, bad, identities=identities, clock=lambda: NOW)
    return service, stream, bad, identities


def message(kind: str = "track", **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "userId": "user-1",
        "messageId": f"m-{kind}",
        "timestamp": "2025-01-15T10:30:00.000Z",
        **fields,
    }


def ms(text: str) -> int:
    """Epoch milliseconds of an RFC 3339 time (what the mapping hands to validation)."""
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def mapped(*messages: object, **envelope: Any) -> Mapped:
    out = Mapped()
    batch = segment_mapping.batch_defaults(envelope, NOW)
    for m in messages:
        segment_mapping.map_message(m, out, received_at=NOW, batch=batch)
    return out


def request(body: object, headers: dict[str, str] | None = None, *, limits: Limits | None = None) -> ProtocolRequest:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    h = {k.lower(): v for k, v in (BASIC if headers is None else headers).items()}
    return ProtocolRequest(h, raw, "", "POST", KEY, limits or Limits(), NOW)


# --- mapping -------------------------------------------------------------------------------


def test_page_is_a_page_view_with_the_path_referrer_agent_ip_and_session() -> None:
    context = {"ip": "203.0.113.77", "userAgent": UA, "sessionId": 42, "page": {"path": "/ignored", "referrer": "r"}}
    props = {"path": "/products", "referrer": "https://google.com/", "title": "Products"}

    [event] = mapped(message("page", properties=props, context=context, name="Products")).events

    assert isinstance(event, dict)
    assert (event["event_type"], event["url"], event["referrer"]) == ("page_view", "/products", "https://google.com/")
    assert (event["user_agent"], event["ip_address"], event["session_id"]) == (UA, "203.0.113.77", 42)
    assert event["event_id"] == "m-page" and event["user_id"] == "user-1"
    meta = event["properties"]["_segment"]
    assert event["properties"]["title"] == "Products" and meta["name"] == "Products"
    assert "ip" not in meta["context"] and "userAgent" not in meta["context"]  # mapped, not duplicated raw


def test_page_url_falls_back_to_the_context_page() -> None:
    [event] = mapped(message("page", context={"page": {"path": "/cart", "referrer": "https://x.example/"}})).events

    assert isinstance(event, dict)
    assert (event["url"], event["referrer"]) == ("/cart", "https://x.example/")


def test_screen_is_a_page_view_named_by_the_screen() -> None:
    [event] = mapped(message("screen", name="Checkout")).events

    assert isinstance(event, dict)
    assert (event["event_type"], event["url"]) == ("page_view", "Checkout")


@pytest.mark.parametrize(
    ("name", "event_type"),
    [
        ("Products Searched", "search"),
        ("Product Clicked", "click"),
        ("Product Added", "add_to_cart"),
        ("Product Removed", "remove_from_cart"),
        ("Checkout Started", "checkout"),
        ("order_completed", "purchase"),  # spelled as some SDKs do: case and separators ignored
        ("add_to_cart", "add_to_cart"),  # our own type names are clear too
        ("Product Viewed", None),
        ("Signed Up", None),
        (None, None),
    ],
)
def test_track_event_names(name: str | None, event_type: str | None) -> None:
    assert segment_mapping.track_event_type(name) == event_type


def test_product_added_carries_the_product() -> None:
    props = {"product_id": "sku-1", "price": "19.99", "quantity": 2, "currency": "eur", "name": "Shoe"}

    [event] = mapped(message(event="Product Added", properties=props)).events

    assert isinstance(event, dict)
    assert (event["event_type"], event["product_id"], event["price"], event["quantity"]) == (
        "add_to_cart",
        "sku-1",
        "19.99",
        2,
    )
    assert event["properties"]["name"] == "Shoe"


def test_checkout_price_is_the_order_value() -> None:
    [event] = mapped(message(event="Checkout Started", properties={"order_id": "o1", "revenue": 30})).events

    assert isinstance(event, dict)
    assert (event["event_type"], event["order_id"], event["price"]) == ("checkout", "o1", 30)


def test_order_completed_is_one_purchase_per_product_line_sharing_the_order() -> None:
    products = [{"product_id": "p1", "price": 10, "quantity": 2}, {"sku": "p2", "price": 5.5}]
    props = {"order_id": "o-9", "revenue": 25.5, "tax": 2, "currency": "USD", "products": products}

    events = mapped(message(event="Order Completed", properties=props, messageId="m-1")).events
    again = mapped(message(event="Order Completed", properties=props, messageId="m-1")).events

    lines = [e for e in events if isinstance(e, dict)]
    assert [(e["event_type"], e["order_id"], e["product_id"], e["price"], e["quantity"]) for e in lines] == [
        ("purchase", "o-9", "p1", 10, 2),
        ("purchase", "o-9", "p2", 5.5, None),
    ]
    ids = [e["event_id"] for e in lines]
    assert len(set(ids)) == 2 and all(uuid.UUID(i).version == 5 for i in ids)
    assert ids == [e["event_id"] for e in again if isinstance(e, dict)]  # a resend dedupes
    assert [e["properties"]["_segment"]["line"] for e in lines] == [0, 1]
    assert all(e["properties"]["tax"] == 2 and "products" not in e["properties"] for e in lines)
    assert lines[1]["properties"]["product"] == {"sku": "p2", "price": 5.5}


def test_order_of_one_product_keeps_the_message_id_and_without_products_is_priced_by_revenue() -> None:
    [one] = mapped(message(event="Order Completed", properties={"order_id": "o", "products": [{"price": 3}]})).events
    [bare] = mapped(message(event="Order Completed", properties={"order_id": "o", "total": 12})).events

    assert isinstance(one, dict) and isinstance(bare, dict)
    assert one["event_id"] == "m-track" and one["price"] == 3
    assert (bare["price"], bare["product_id"], bare["order_id"]) == (12, None, "o")


def test_skew_correction_adds_receive_minus_sent() -> None:
    # The device clock is 1 hour behind: it stamped the event at 09:30 and sent it at 09:30:50.
    m = message(event="Product Clicked", timestamp="2025-01-15T09:30:00+00:00")

    [batched] = mapped(m, sentAt="2025-01-15T09:30:50Z").events
    [own] = mapped({**m, "sentAt": "2025-01-15T09:30:55Z"}, sentAt="2025-01-15T09:30:50Z").events
    [unsent] = mapped(m).events
    [untimed] = mapped({k: v for k, v in m.items() if k != "timestamp"}).events

    assert isinstance(batched, dict) and isinstance(own, dict) and isinstance(unsent, dict)
    assert batched["timestamp"] == ms("2025-01-15T10:30:10Z")  # 10:31:00 - 50 s
    assert own["timestamp"] == ms("2025-01-15T10:30:05Z")  # the message's own sentAt wins
    assert unsent["timestamp"] == ms("2025-01-15T09:30:00Z")
    assert isinstance(untimed, dict) and untimed["timestamp"] == ms("2025-01-15T10:31:00Z")


def test_corrected_time_keeps_milliseconds_and_validates_to_the_stored_form() -> None:
    m = message(event="Product Clicked", timestamp="2025-01-15T11:30:00.123456+01:00")

    [event] = mapped(m, sentAt="2025-01-15T10:30:01.5Z").events

    assert isinstance(event, dict) and event["timestamp"] == ms("2025-01-15T10:30:58.623Z")
    assert validate_event(event, received_at=NOW).event["timestamp"] == "2025-01-15T10:30:58.623Z"  # type: ignore[index]


def test_unparseable_timestamp_is_left_for_validation() -> None:
    [event] = mapped(message(event="Product Clicked", timestamp="last tuesday")).events

    assert isinstance(event, dict) and event["timestamp"] == "last tuesday"
    assert validate_event(event, received_at=NOW).errors[0].field == "timestamp"


def test_user_id_prefers_user_id_over_anonymous_id() -> None:
    both = message("page", anonymousId="anon-1")
    anonymous = {**both, "userId": None}

    assert [e["user_id"] for e in mapped(both, anonymous).events if isinstance(e, dict)] == ["user-1", "anon-1"]


def test_the_other_id_and_the_batch_context_are_kept_in_the_meta() -> None:
    m = message("page", anonymousId="anon-1", context={"locale": "de-DE", "library": {"name": "mine"}})

    [event] = mapped(m, context={"library": {"name": "batch"}, "ip": "192.0.2.9"}, sentAt="2025-01-15T10:30:00Z").events

    assert isinstance(event, dict)
    meta = event["properties"]["_segment"]
    assert meta["anonymousId"] == "anon-1" and "userId" not in meta  # userId is the user_id already
    assert meta["context"] == {"library": {"name": "mine"}, "locale": "de-DE"}  # the message's own context wins
    assert event["ip_address"] == "192.0.2.9" and meta["sentAt"] == "2025-01-15T10:30:00Z"


def test_session_id_from_an_integration() -> None:
    m = message("page", integrations={"All": True, "Actions Amplitude": {"session_id": 1736937000000}})

    [event] = mapped(m).events

    assert isinstance(event, dict) and event["session_id"] == 1736937000000


def test_message_without_id_gets_one_that_survives_a_resend() -> None:
    m = {k: v for k, v in message().items() if k != "messageId"} | {"event": "Product Clicked"}

    [first] = mapped(m, sentAt="2025-01-15T10:30:01Z").events
    [resent] = mapped(m, sentAt="2025-01-15T10:30:31Z").events

    assert isinstance(first, dict) and isinstance(resent, dict)
    assert first["event_id"] == resent["event_id"] and uuid.UUID(first["event_id"]).version == 5


def test_unmapped_and_unknown_messages_are_kept_with_a_reason() -> None:
    out = mapped(message(event="Signed Up", writeKey=KEY), message("bogus"), ["not", "an", "object"])

    assert out.events == [] and out.identities == []
    assert [(e.reason, e.field) for _, e in out.rejected] == [
        (UNMAPPED_EVENT, "event_type"),
        (UNMAPPED_EVENT, "event_type"),
        ("not_an_object", ""),
    ]
    first = out.rejected[0][0]
    assert isinstance(first, dict) and first["event"] == "Signed Up" and "writeKey" not in first


@pytest.mark.parametrize("kind", ["identify", "group", "alias"])
def test_identity_calls_are_records_not_events(kind: str) -> None:
    m = message(kind, anonymousId="anon-1", traits={"plan": "pro"}, groupId="g1", previousId="old")
    m["context"] = {"ip": "198.51.100.23", "traits": {"email": "a@example.com"}}

    out = mapped(m)

    assert out.events == [] and out.rejected == []
    [record] = out.identities
    assert (record["type"], record["user_id"], record["anonymous_id"]) == (kind, "user-1", "anon-1")
    assert (record["group_id"], record["previous_id"], record["message_id"]) == ("g1", "old", f"m-{kind}")
    assert record["timestamp"] == "2025-01-15T10:30:00.000Z" and record["received_at"] == "2025-01-15T10:31:00.000Z"
    assert record["payload"]["context"] == {"ip": "198.51.100.0", "traits": {"email": "a@example.com"}}


# --- requests: auth, envelope, limits ------------------------------------------------------


def test_write_key_as_basic_user_or_in_the_body() -> None:
    body = {"batch": [message("page")], "writeKey": KEY}

    assert isinstance(segment.read(request(body)), Mapped)
    assert isinstance(segment.read(request(body, {"Content-Type": "application/json"})), Mapped)


@pytest.mark.parametrize(
    ("headers", "body_key"),
    [
        ({"Content-Type": "application/json"}, None),
        ({"Content-Type": "application/json"}, "wrong"),
        ({**BASIC, "Authorization": "Basic " + base64.b64encode(b"wrong:").decode()}, KEY),  # the header decides
    ],
)
def test_wrong_or_missing_write_key_is_401(headers: dict[str, str], body_key: str | None) -> None:
    body: dict[str, Any] = {"batch": [message("page")]}
    if body_key:
        body["writeKey"] = body_key

    result = segment.read(request(body, headers))

    assert isinstance(result, RequestError) and (result.status, result.code) == (401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"batch": [', 400, "malformed_json"),
        ({"batch": "nope"}, 400, "invalid_envelope"),
        ([message()], 400, "invalid_envelope"),
        ({"batch": []}, 400, "empty_batch"),
        ({"batch": [message()] * 501}, 400, "too_many_events"),
        ({"batch": [message(), message(properties={"blob": "x" * 33_000})]}, 400, "message_too_large"),
        ({"batch": [message(properties={"blob": "y" * 20_000}) for _ in range(30)]}, 413, "payload_too_large"),
    ],
)
def test_request_errors(body: object, status: int, code: str) -> None:
    result = segment.read(request(body))

    assert isinstance(result, RequestError) and (result.status, result.code) == (status, code)


def test_gzip_body_and_single_call_route() -> None:
    body = gzip.compress(orjson.dumps({"event": "Product Removed", "userId": "u", "properties": {"product_id": "p"}}))

    result = segment.read(request(body, {**BASIC, "Content-Encoding": "gzip"}), message_type="track")

    assert isinstance(result, Mapped)
    [event] = result.events
    assert isinstance(event, dict) and (event["event_type"], event["product_id"]) == ("remove_from_cart", "p")


# --- through the service: validation, storage, Segment's answers ----------------------------


def test_batch_through_the_service_answers_success_and_stores_everything() -> None:
    service, stream, bad, identities = make()
    batch = [
        message("page", properties={"path": "/"}, context={"ip": "203.0.113.77", "userAgent": UA}),
        message(event="Order Completed", properties={"order_id": "o", "products": [{"price": 1}, {"price": 2}]}),
        message(event="Order Completed", messageId="m-bad", properties={"order_id": "o2"}),  # no price anywhere
        message(event="Signed Up"),
        message("identify", traits={"plan": "pro"}),
    ]

    response = service.handle("/segment/v1/batch", BASIC, orjson.dumps({"batch": batch}))

    assert (response.status, response.body) == (200, {"success": True, "accepted": 3, "rejected": 2, "identities": 1})
    page = stream.events[0]
    assert (page["event_type"], page["ip_address"], page["browser"]) == ("page_view", "203.0.113.0", "Firefox")
    assert [e["price"] for e in stream.events[1:]] == [1.0, 2.0]
    assert sorted(r["reason"] for r in bad.rows) == ["missing", UNMAPPED_EVENT]
    assert all(r["source"] == "collector:/segment/v1/batch" for r in bad.rows)
    assert [r["type"] for r in identities.rows] == ["identify"]


@pytest.mark.parametrize(
    ("route", "body", "headers", "status", "code"),
    [
        ("/segment/v1/batch", {"batch": [message()]}, {"Content-Type": "application/json"}, 401, "unauthorized"),
        ("/segment/v1/batch", {"batch": [message(properties={"blob": "x" * 40_000})]}, BASIC, 400, "message_too_large"),
        ("/segment/v1/page", b"[]", BASIC, 400, "invalid_envelope"),
    ],
)
def test_errors_in_segment_shape(route: str, body: object, headers: dict[str, str], status: int, code: str) -> None:
    service, stream, bad, _ = make()

    response = service.handle(route, headers, body if isinstance(body, bytes) else orjson.dumps(body))

    assert response.status == status
    assert response.body["success"] is False and response.body["code"] == code and response.body["message"]
    assert stream.records == [] and bad.rows == []


def test_oversize_request_is_400_like_segment() -> None:
    service, _, _, _ = make()
    body = orjson.dumps({"batch": [message(properties={"blob": "y" * 20_000}) for _ in range(30)]})

    response = service.handle("/segment/v1/batch", BASIC, body)

    assert (response.status, response.body["code"]) == (400, "payload_too_large")


def test_stream_down_is_503_with_retry_after() -> None:
    service, _, bad, _ = make(StreamUnavailableError("down", retry_after=2.5))

    response = service.handle("/segment/v1/track", BASIC, orjson.dumps(message(event="Product Clicked")))

    assert (response.status, response.headers["retry-after"], response.body["success"]) == (503, "3", False)
    assert bad.rows == []


def test_get_on_a_segment_route_is_405() -> None:
    service, _, _, _ = make()

    response = service.handle("/segment/v1/batch", BASIC, b"", method="GET")

    assert (response.status, response.headers["allow"]) == (405, "POST")


def test_simulator_events_come_out_as_the_native_route_makes_them() -> None:
    # The benchmark's fixtures (benchmarks/segment) send these messages: each must become its native event again.
    from benchmarks.ingest.fixtures import simulator_events
    from benchmarks.segment.fixtures import segment_batches

    events = simulator_events(400, start=NOW - timedelta(hours=1))
    service, stream, bad, _ = make()

    for body in segment_batches(events, sent_at="2025-01-15T10:31:00.000Z"):  # sentAt = receive time: no skew
        assert service.handle("/segment/v1/batch", BASIC, body).status == 200

    assert bad.rows == [] and len(stream.events) == len(events)
    for sent, got in zip(events, stream.events, strict=True):
        native = validate_event(sent, received_at=NOW).event
        assert native is not None
        fields = ["event_id", "event_type", "user_id", "session_id", "timestamp", "url", "referrer", "user_agent"]
        fields += ["browser", "ip_address"]
        if sent["event_type"] != "page_view":  # a Segment page call carries no product or order fields
            fields += ["product_id", "order_id", "price", "quantity", "currency"]
        assert {f: got[f] for f in fields} == {f: native[f] for f in fields}
