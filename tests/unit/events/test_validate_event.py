"""validate_event: each rule of the schema v1 contract, good and bad, and the normalised shape."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from events_support import CHROME_UA, DROP, RECEIVED, RECEIVED_TEXT, make_event

from clickstream.constants import EVENT_TYPES, SCHEMA_VERSION
from clickstream.events.schema import EVENT_FIELDS, REASONS
from clickstream.events.validate import FieldError, ValidationResult, validate_event
from clickstream.settings import Limits


def validate(raw: object, **kwargs: Any) -> ValidationResult:
    return validate_event(raw, received_at=RECEIVED, **kwargs)


def ok_event(raw: object, **kwargs: Any) -> dict[str, Any]:
    result = validate(raw, **kwargs)
    assert result.ok, result.errors
    assert result.event is not None
    return result.event


# --- the normalised shape ------------------------------------------------------------------


def test_valid_event_is_normalised_to_exactly_the_canonical_fields_in_order() -> None:
    event = ok_event(make_event())

    assert list(event) == list(EVENT_FIELDS)
    assert event == {
        "event_id": "0b5f3c9e-3f4c-4c1a-9d39-5c1e8f1b2a77",
        "event_type": "page_view",
        "user_id": "user_123",
        "session_id": "session_abc",
        "timestamp": "2025-01-15T10:30:00.000Z",
        "url": "/products",
        "referrer": None,
        "user_agent": CHROME_UA,
        "browser": "Chrome",
        "os": "Windows",
        "device": "Desktop",
        "ip_address": "203.0.113.0",
        "http_status": 200,
        "product_id": None,
        "order_id": None,
        "currency": None,
        "price": None,
        "quantity": None,
        "duration_ms": None,
        "properties": None,
        "received_at": RECEIVED_TEXT,
        "schema_version": SCHEMA_VERSION,
    }


def test_result_of_a_valid_event_is_ok_with_no_errors() -> None:
    result = validate(make_event())

    assert result.ok and result.errors == ()


def test_input_is_not_mutated() -> None:
    raw = make_event(properties={"page": "/x", "nested": {"a": [1]}}, url=DROP, extra="kept")
    before = copy.deepcopy(raw)

    validate(raw)

    assert raw == before


@pytest.mark.parametrize("raw", [None, [], [make_event()], "event", 42, 1.5, True])
def test_non_object_is_rejected_as_not_an_object(raw: object) -> None:
    result = validate(raw)

    assert not result.ok and result.event is None
    assert result.errors == (FieldError("", "not_an_object", result.errors[0].message),)
    assert "JSON object" in result.errors[0].message


# --- accepted values and their normal form ---------------------------------------------------

GOOD_CASES: list[tuple[dict[str, Any], str, object]] = [
    # (overrides, field, normalised value)
    ({"event_id": "any-client-id"}, "event_id", "any-client-id"),
    ({"event_id": 12345}, "event_id", "12345"),
    ({"event_id": 12.0}, "event_id", "12"),
    ({"event_id": "x" * 128}, "event_id", "x" * 128),
    ({"event_type": "PAGE_VIEW"}, "event_type", "page_view"),
    ({"event_type": "page-view"}, "event_type", "page_view"),
    ({"event_type": "pageview"}, "event_type", "page_view"),
    ({"event_type": "Add To Cart"}, "event_type", "add_to_cart"),
    ({"event_type": "removeFromCart"}, "event_type", "remove_from_cart"),
    ({"event_type": DROP, "action": "click"}, "event_type", "click"),
    ({"event_type": None, "action": "SCROLL"}, "event_type", "scroll"),
    ({"user_id": 42}, "user_id", "42"),
    ({"user_id": "u" * 256}, "user_id", "u" * 256),
    ({"session_id": DROP}, "session_id", None),
    ({"session_id": ""}, "session_id", None),
    ({"session_id": 7}, "session_id", "7"),
    ({"url": DROP}, "url", None),
    ({"url": DROP, "page": "/a"}, "url", "/a"),
    ({"url": DROP, "page_url": "/b"}, "url", "/b"),
    ({"url": "", "page": "/c"}, "url", "/c"),
    ({"url": "/" + "u" * 2047}, "url", "/" + "u" * 2047),
    ({"referrer": "https://google.com/"}, "referrer", "https://google.com/"),
    ({"referrer": ""}, "referrer", None),
    ({"user_agent": DROP}, "browser", None),
    ({"ip_address": DROP}, "ip_address", None),
    ({"ip_address": "2001:db8:abcd:12::7"}, "ip_address", "2001:db8:abcd::"),
    ({"ip_address": "::ffff:192.168.1.9"}, "ip_address", "192.168.1.0"),
    ({"http_status": 404}, "http_status", 404),
    ({"http_status": "404"}, "http_status", 404),
    ({"http_status": 503.0}, "http_status", 503),
    ({"http_status": 100}, "http_status", 100),
    ({"http_status": 599}, "http_status", 599),
    ({"http_status": None}, "http_status", 200),
    ({"product_id": "sku-1"}, "product_id", "sku-1"),
    ({"product_id": 991}, "product_id", "991"),
    ({"order_id": 1001}, "order_id", "1001"),
    ({"currency": "eur"}, "currency", "EUR"),
    ({"currency": " usd "}, "currency", "USD"),
    ({"price": 19.99}, "price", 19.99),
    ({"price": "19.99"}, "price", 19.99),
    ({"price": 0}, "price", 0.0),
    ({"price": 5}, "price", 5.0),
    ({"quantity": 3}, "quantity", 3),
    ({"quantity": "2"}, "quantity", 2),
    ({"event_type": "add_to_cart", "price": 9.5}, "quantity", 1),
    ({"event_type": "page_view", "price": 9.5}, "quantity", None),
    ({"duration_ms": 1500}, "duration_ms", 1500),
    ({"duration_ms": 0}, "duration_ms", 0),
    ({"duration_ms": "250"}, "duration_ms", 250),
    ({"duration": 1.5}, "duration_ms", 1500),
    ({"duration": 2}, "duration_ms", 2000),
    ({"duration": "0.0004"}, "duration_ms", 0),
    ({"properties": {"a": 1}}, "properties", {"a": 1}),
    ({"properties": {}}, "properties", {}),
]


@pytest.mark.parametrize(("overrides", "field", "expected"), GOOD_CASES)
def test_accepted_value_is_normalised(overrides: dict[str, Any], field: str, expected: object) -> None:
    event = ok_event(make_event(**overrides))

    assert event[field] == expected
    assert type(event[field]) is type(expected)


def test_purchase_with_price_defaults_quantity_to_one_and_keeps_price() -> None:
    event = ok_event(make_event(event_type="purchase", price=25, order_id="o-1", currency="eur"))

    assert (event["price"], event["quantity"], event["currency"], event["order_id"]) == (25.0, 1, "EUR", "o-1")
    assert "revenue" not in event


def test_every_event_type_is_accepted() -> None:
    for event_type in EVENT_TYPES:
        extra = {"price": 1} if event_type == "purchase" else {}
        assert ok_event(make_event(event_type=event_type, **extra))["event_type"] == event_type


# --- rejected values: each names its field and reason ------------------------------------------

BAD_CASES: list[tuple[dict[str, Any], str, str]] = [
    # (overrides, field, reason)
    ({"event_id": True}, "event_id", "invalid_type"),
    ({"event_id": ["a"]}, "event_id", "invalid_type"),
    ({"event_id": "x" * 129}, "event_id", "too_large"),
    ({"event_id": math.nan}, "event_id", "invalid_value"),
    ({"event_id": 10**600}, "event_id", "too_large"),
    ({"event_type": DROP, "url": DROP}, "event_type", "missing"),  # with a URL it is a page view
    ({"event_type": "", "url": DROP}, "event_type", "missing"),
    ({"event_type": "signup"}, "event_type", "unknown_event_type"),
    ({"event_type": 3}, "event_type", "invalid_type"),
    ({"event_type": DROP, "action": "bogus"}, "event_type", "unknown_event_type"),
    ({"user_id": DROP}, "user_id", "missing"),
    ({"user_id": None}, "user_id", "missing"),
    ({"user_id": ""}, "user_id", "invalid_value"),
    ({"user_id": "   "}, "user_id", "invalid_value"),
    ({"user_id": True}, "user_id", "invalid_type"),
    ({"user_id": {"id": 1}}, "user_id", "invalid_type"),
    ({"user_id": "u" * 257}, "user_id", "too_large"),
    ({"session_id": False}, "session_id", "invalid_type"),
    ({"session_id": "s" * 257}, "session_id", "too_large"),
    ({"timestamp": DROP}, "timestamp", "missing"),
    ({"timestamp": "2025-13-01"}, "timestamp", "invalid_value"),
    ({"timestamp": "yesterday"}, "timestamp", "invalid_value"),
    ({"timestamp": "nan"}, "timestamp", "invalid_value"),
    ({"timestamp": math.inf}, "timestamp", "invalid_value"),
    ({"timestamp": True}, "timestamp", "invalid_type"),
    ({"timestamp": [2025, 1, 15]}, "timestamp", "invalid_type"),
    ({"timestamp": "1999-12-31T23:59:59Z"}, "timestamp", "out_of_range"),
    ({"timestamp": 0}, "timestamp", "out_of_range"),
    ({"timestamp": -5}, "timestamp", "out_of_range"),
    ({"timestamp": "2025-01-15T10:36:01Z"}, "timestamp", "in_future"),
    ({"timestamp": 10**400}, "timestamp", "in_future"),
    ({"timestamp": 1e300}, "timestamp", "in_future"),
    ({"timestamp": DROP, "event_timestamp": "garbage"}, "timestamp", "invalid_value"),
    ({"url": 5}, "url", "invalid_type"),
    ({"url": "/" + "u" * 2048}, "url", "too_large"),
    ({"url": DROP, "page": ["/a"]}, "url", "invalid_type"),
    ({"referrer": 1}, "referrer", "invalid_type"),
    ({"referrer": "r" * 2049}, "referrer", "too_large"),
    ({"user_agent": {"ua": 1}}, "user_agent", "invalid_type"),
    ({"user_agent": "M" * 2049}, "user_agent", "too_large"),
    ({"ip_address": "999.1.1.1"}, "ip_address", "invalid_value"),
    ({"ip_address": "localhost"}, "ip_address", "invalid_value"),
    ({"ip_address": 3232235777}, "ip_address", "invalid_type"),
    ({"http_status": 99}, "http_status", "out_of_range"),
    ({"http_status": 600}, "http_status", "out_of_range"),
    ({"http_status": "404.5"}, "http_status", "invalid_value"),
    ({"http_status": 404.5}, "http_status", "invalid_value"),
    ({"http_status": "abc"}, "http_status", "invalid_value"),
    ({"http_status": True}, "http_status", "invalid_type"),
    ({"http_status": 10**400}, "http_status", "out_of_range"),
    ({"product_id": True}, "product_id", "invalid_type"),
    ({"order_id": [1]}, "order_id", "invalid_type"),
    ({"currency": "EURO"}, "currency", "invalid_value"),
    ({"currency": "€€€"}, "currency", "invalid_value"),
    ({"currency": 978}, "currency", "invalid_type"),
    ({"price": -0.01}, "price", "out_of_range"),
    ({"price": "abc"}, "price", "invalid_value"),
    ({"price": "1_000"}, "price", "invalid_value"),
    ({"price": True}, "price", "invalid_type"),
    ({"price": math.nan}, "price", "invalid_value"),
    ({"price": math.inf}, "price", "invalid_value"),
    ({"price": "inf"}, "price", "invalid_value"),
    ({"price": 10**400}, "price", "out_of_range"),
    ({"event_type": "purchase"}, "price", "missing"),
    ({"quantity": 0}, "quantity", "out_of_range"),
    ({"quantity": 1.5}, "quantity", "invalid_value"),
    ({"quantity": True}, "quantity", "invalid_type"),
    ({"quantity": 2**31}, "quantity", "out_of_range"),
    ({"duration_ms": -1}, "duration_ms", "out_of_range"),
    ({"duration_ms": "x"}, "duration_ms", "invalid_value"),
    ({"duration_ms": 2**64}, "duration_ms", "out_of_range"),
    ({"duration": -1}, "duration_ms", "out_of_range"),
    ({"duration": 1e300}, "duration_ms", "out_of_range"),
    ({"duration": "soon"}, "duration_ms", "invalid_value"),
    ({"properties": [1, 2]}, "properties", "invalid_type"),
    ({"properties": "a=1"}, "properties", "invalid_type"),
    ({"properties": {1: "non-string key"}}, "properties", "invalid_value"),
    ({"properties": {"big": 2**70}}, "properties", "invalid_value"),
    ({"properties": {"text": "\ud800"}}, "properties", "invalid_value"),
    ({"user_id": "bad \udc00 surrogate"}, "user_id", "invalid_value"),
]


@pytest.mark.parametrize(("overrides", "field", "reason"), BAD_CASES)
def test_rejected_value_names_its_field_and_reason(overrides: dict[str, Any], field: str, reason: str) -> None:
    result = validate(make_event(**overrides))

    assert not result.ok and result.event is None
    assert [(e.field, e.reason) for e in result.errors] == [(field, reason)]
    message = result.errors[0].message
    assert message.startswith(field)
    assert reason in REASONS


def test_unknown_event_type_message_lists_the_allowed_values() -> None:
    (error,) = validate(make_event(event_type="signup")).errors

    assert "'signup'" in error.message
    assert all(name in error.message for name in EVENT_TYPES)


def test_alias_errors_name_the_canonical_field_and_the_key_sent() -> None:
    (error,) = validate(make_event(url=DROP, page_url=7)).errors

    assert error.field == "url"
    assert "page_url" in error.message


def test_timestamp_message_says_what_is_accepted() -> None:
    (error,) = validate(make_event(timestamp="2025-13-01")).errors

    assert error.message == "timestamp: '2025-13-01' is not RFC 3339 or epoch seconds"


def test_every_problem_of_an_event_is_reported_together() -> None:
    raw = {
        "event_type": "purchase",
        "user_id": True,
        "timestamp": "2025-13-01",
        "ip_address": "not-an-ip",
        "http_status": 700,
        "currency": "euro",
        "quantity": 0,
        "properties": [1],
        7: "non-string key",
    }

    result = validate(raw)

    assert not result.ok
    assert sorted((e.field, e.reason) for e in result.errors) == [
        ("", "invalid_type"),
        ("currency", "invalid_value"),
        ("http_status", "out_of_range"),
        ("ip_address", "invalid_value"),
        ("price", "missing"),
        ("properties", "invalid_type"),
        ("quantity", "out_of_range"),
        ("timestamp", "invalid_value"),
        ("user_id", "invalid_type"),
    ]


def test_non_string_top_level_key_is_an_error_of_the_whole_event() -> None:
    result = validate({**make_event(), 1: "x"})

    assert [(e.field, e.reason) for e in result.errors] == [("", "invalid_type")]
    assert result.errors[0].message.startswith("event: key 1")


# --- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2025-01-15T10:30:00Z",
        "2025-01-15T10:30:00.000Z",
        "2025-01-15T10:30:00+00:00",
        "2025-01-15T11:30:00+01:00",
        "2025-01-15T05:30:00-05:00",
        "2025-01-15T10:30:00",  # naive: UTC
        "2025-01-15 10:30:00Z",
        1736937000,
        1736937000.0,
        "1736937000",
        1736937000000,  # epoch milliseconds
        1736937000000.0,
        datetime(2025, 1, 15, 10, 30, tzinfo=UTC),
        datetime(2025, 1, 15, 12, 30, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_equivalent_timestamps_normalise_to_the_same_utc_text(value: object) -> None:
    assert ok_event(make_event(timestamp=value))["timestamp"] == "2025-01-15T10:30:00.000Z"


@pytest.mark.parametrize(
    "value",
    [1736937000123, 1736937000.123, "2025-01-15T10:30:00.123456Z", "2025-01-15T11:30:00.1239+01:00"],
)
def test_timestamps_keep_milliseconds(value: object) -> None:
    assert ok_event(make_event(timestamp=value))["timestamp"] == "2025-01-15T10:30:00.123Z"


def test_event_timestamp_is_an_alias_of_timestamp() -> None:
    event = ok_event(make_event(timestamp=DROP, event_timestamp=1736937000))

    assert event["timestamp"] == "2025-01-15T10:30:00.000Z"
    assert event["properties"] is None


def test_epoch_heuristic_threshold_between_seconds_and_milliseconds() -> None:
    # 1e11 seconds would be the year 5138: anything above is milliseconds.
    assert validate(make_event(timestamp=100_000_000_000)).errors[0].reason == "in_future"
    assert validate(make_event(timestamp=100_000_000_001)).errors[0].reason == "out_of_range"  # 1973, in ms


def test_clock_skew_allows_slightly_future_timestamps_only() -> None:
    skew = Limits().clock_skew_seconds
    at_limit = RECEIVED + timedelta(seconds=skew)

    assert ok_event(make_event(timestamp=at_limit.isoformat()))["timestamp"] == "2025-01-15T10:36:00.000Z"
    late = validate(make_event(timestamp=(at_limit + timedelta(milliseconds=1)).isoformat()))
    assert [(e.field, e.reason) for e in late.errors] == [("timestamp", "in_future")]
    strict = validate(make_event(timestamp="2025-01-15T10:31:01Z"), limits=Limits(clock_skew_seconds=0))
    assert [(e.field, e.reason) for e in strict.errors] == [("timestamp", "in_future")]


def test_timestamp_before_2000_is_out_of_range_but_2000_is_accepted() -> None:
    assert ok_event(make_event(timestamp="2000-01-01T00:00:00Z"))["timestamp"] == "2000-01-01T00:00:00.000Z"
    assert validate(make_event(timestamp=946684799)).errors[0].reason == "out_of_range"


def test_missing_timestamp_defaults_to_received_at_only_when_allowed() -> None:
    raw = make_event(timestamp=DROP)

    assert validate(raw).errors[0].reason == "missing"
    assert ok_event(raw, default_timestamp=True)["timestamp"] == RECEIVED_TEXT


def test_received_at_comes_from_the_caller_naive_meaning_utc() -> None:
    naive = datetime(2025, 1, 15, 10, 31)
    paris = datetime(2025, 1, 15, 11, 31, tzinfo=timezone(timedelta(hours=1)))

    assert validate_event(make_event(), received_at=naive).event["received_at"] == RECEIVED_TEXT  # type: ignore[index]
    assert validate_event(make_event(), received_at=paris).event["received_at"] == RECEIVED_TEXT  # type: ignore[index]


def test_client_received_at_is_kept_in_properties_never_trusted() -> None:
    event = ok_event(make_event(received_at="2020-01-01T00:00:00Z"))

    assert event["received_at"] == RECEIVED_TEXT
    assert event["properties"] == {"client_received_at": "2020-01-01T00:00:00Z"}


# --- legacy shapes -----------------------------------------------------------------------------


def test_legacy_page_and_referrer_in_properties_are_lifted() -> None:
    raw = {
        "event_type": "page_view",
        "user_id": "user_123",
        "session_id": "session_abc",
        "timestamp": "2025-01-15T10:30:00Z",
        "properties": {"page": "/products", "referrer": "google.com"},
    }

    event = ok_event(raw)

    assert (event["url"], event["referrer"]) == ("/products", "google.com")
    assert event["properties"] == {}
    assert event["timestamp"] == "2025-01-15T10:30:00.000Z"
    assert (event["user_id"], event["session_id"]) == ("user_123", "session_abc")


def test_legacy_track_record_gets_id_timestamp_and_anonymised_ip() -> None:
    raw = {
        "user_id": "550e8400-e29b-41d4-a716-446655440000",
        "page_url": "/home",
        "event_type": "click",
        "user_agent": "Mozilla/5.0",
        "ip_address": "192.168.1.1",
    }

    event = ok_event(raw, default_timestamp=True)

    assert isinstance(event["event_id"], str) and len(event["event_id"]) == 36
    assert event["timestamp"] == RECEIVED_TEXT
    assert event["ip_address"] == "192.168.1.0"
    assert (event["event_type"], event["url"], event["user_agent"]) == ("click", "/home", "Mozilla/5.0")
    assert (event["browser"], event["os"], event["device"]) == ("Other", "Other", "Other")
    assert event["properties"] is None


def test_properties_url_is_lifted_and_top_level_url_wins_over_properties() -> None:
    lifted = ok_event(make_event(url=DROP, properties={"url": "/from-props", "other": 1}))
    kept = ok_event(make_event(url="/top", properties={"page": "/from-props", "referrer": 5}))

    assert (lifted["url"], lifted["properties"]) == ("/from-props", {"other": 1})
    assert (kept["url"], kept["referrer"], kept["properties"]) == ("/top", None, {"page": "/from-props", "referrer": 5})


def test_unknown_top_level_fields_move_into_properties() -> None:
    event = ok_event(make_event(app_version="1.2", cart={"items": 2}, properties={"theme": "dark"}))

    assert event["properties"] == {"theme": "dark", "app_version": "1.2", "cart": {"items": 2}}


def test_a_top_level_key_spelled_like_a_lifted_property_is_still_kept() -> None:
    event = ok_event(make_event(url=DROP, properties={"page": "/legacy"}, **{"properties.page": "odd"}))

    assert (event["url"], event["properties"]) == ("/legacy", {"properties.page": "odd"})


def test_on_a_key_collision_properties_keeps_its_own_value() -> None:
    event = ok_event(make_event(theme="light", properties={"theme": "dark"}))

    assert event["properties"] == {"theme": "dark"}


def test_alias_next_to_its_canonical_field_is_kept_in_properties() -> None:
    event = ok_event(make_event(url="/canonical", page="/alias", action="click", duration=3, duration_ms=10))

    assert (event["url"], event["event_type"], event["duration_ms"]) == ("/canonical", "page_view", 10)
    assert event["properties"] == {"page": "/alias", "action": "click", "duration": 3}


def test_client_derived_fields_are_dropped_when_equal_and_kept_when_different() -> None:
    same = ok_event(make_event(browser="Chrome", os="Windows", device="Desktop", schema_version=1))
    different = ok_event(make_event(browser="Firefox", schema_version=2))

    assert same["properties"] is None
    assert (different["browser"], different["schema_version"]) == ("Chrome", 1)
    assert different["properties"] == {"browser": "Firefox", "schema_version": 2}


# --- deterministic event ids ---------------------------------------------------------------------


def test_missing_event_id_is_a_deterministic_uuid5_of_the_canonical_raw_event() -> None:
    import uuid

    from clickstream.events.schema import EVENT_ID_NAMESPACE

    raw = make_event(event_id=DROP)
    reordered = dict(reversed(list(raw.items())))

    first = ok_event(raw)["event_id"]

    canonical = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode()
    assert first == str(uuid.uuid5(EVENT_ID_NAMESPACE, canonical))
    assert ok_event(copy.deepcopy(raw))["event_id"] == first  # a client retry
    assert ok_event(reordered)["event_id"] == first  # key order is not content
    assert validate_event(raw, received_at=RECEIVED + timedelta(hours=1)).event["event_id"] == first  # type: ignore[index]
    assert ok_event(make_event(event_id=DROP, url="/other"))["event_id"] != first
    assert ok_event(make_event(event_id=""))["event_id"] == str(
        uuid.uuid5(EVENT_ID_NAMESPACE, orjson.dumps(make_event(event_id=""), option=orjson.OPT_SORT_KEYS).decode())
    )


def test_event_without_timestamp_mixes_received_at_into_its_id() -> None:
    raw = make_event(event_id=DROP, timestamp=DROP)

    first = ok_event(raw, default_timestamp=True)["event_id"]
    same_time = ok_event(copy.deepcopy(raw), default_timestamp=True)["event_id"]
    later = validate_event(raw, received_at=RECEIVED + timedelta(seconds=1), default_timestamp=True)

    assert first == same_time
    assert later.event is not None and later.event["event_id"] != first


# --- size limits ---------------------------------------------------------------------------------


def test_properties_size_limit_is_inclusive() -> None:
    limit = 100
    overhead = len(orjson.dumps({"k": ""}))
    fits = {"k": "x" * (limit - overhead)}
    assert len(orjson.dumps(fits)) == limit

    assert validate(make_event(properties=fits), limits=Limits(max_properties_bytes=limit)).ok
    too_big = validate(
        make_event(properties={"k": "x" * (limit - overhead + 1)}), limits=Limits(max_properties_bytes=limit)
    )
    assert [(e.field, e.reason) for e in too_big.errors] == [("properties", "too_large")]


def test_unknown_fields_count_towards_the_properties_limit() -> None:
    result = validate(make_event(blob="x" * 200), limits=Limits(max_properties_bytes=100))

    assert [(e.field, e.reason) for e in result.errors] == [("properties", "too_large")]


def test_default_properties_limit_is_16_kib() -> None:
    assert validate(make_event(properties={"k": "x" * 16_000})).ok
    assert validate(make_event(properties={"k": "x" * 17_000})).errors[0].reason == "too_large"


def test_whole_event_limit_applies_to_the_serialised_normalised_event() -> None:
    event = ok_event(make_event())
    size = len(orjson.dumps(event))

    assert validate(make_event(), limits=Limits(max_event_bytes=size)).ok
    result = validate(make_event(), limits=Limits(max_event_bytes=size - 1))
    assert [(e.field, e.reason) for e in result.errors] == [("", "too_large")]


def test_too_large_is_reported_alongside_other_errors() -> None:
    result = validate(make_event(user_id=None, properties={"k": "x" * 40_000}))

    assert sorted((e.field, e.reason) for e in result.errors) == [
        ("", "too_large"),
        ("properties", "too_large"),
        ("user_id", "missing"),
    ]


# --- idempotence ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        make_event(),
        make_event(event_id=DROP, timestamp=1736937000.5, url=DROP, page="/p", referrer=""),
        make_event(event_type="Purchase", price="3.50", currency="gbp", received_at="x", browser="Other", junk=[1]),
        make_event(url=DROP, properties={"page": "/legacy", "referrer": "r.com", "more": {"a": None}}),
        make_event(user_agent="Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) Mobile/15E148 Safari/604.1"),
        make_event(timestamp=DROP, ip_address="::ffff:10.1.2.3", duration=0.25),
    ],
)
def test_validating_a_normalised_event_changes_nothing(raw: dict[str, Any]) -> None:
    once = ok_event(raw, default_timestamp=True)

    assert ok_event(once) == once
    assert ok_event(copy.deepcopy(once)) == once


# --- older tools: no event type, a URL (docs/DATA_CONTRACT.md "Events without an event type") ------


def test_an_event_without_a_type_but_with_a_url_is_a_page_view_with_its_status_kept() -> None:
    # the shape error-monitoring setups send: a user, a URL without its leading slash, a status,
    # an epoch time under the legacy name, and no event type
    raw = {"user_id": "u-7", "url": "checkout/step-2", "http_status": 502, "event_timestamp": 1736937000}
    event = ok_event(raw)
    assert (event["event_type"], event["url"], event["http_status"]) == ("page_view", "/checkout/step-2", 502)
    assert event["timestamp"] == "2025-01-15T10:30:00.000Z"
    assert validate(event).event == event, "validating it again changes nothing"


def test_without_a_type_and_without_a_url_the_error_says_both_ways_out() -> None:
    result = validate(make_event(event_type=DROP, url=DROP))
    (error,) = result.errors
    assert (error.field, error.reason) == ("event_type", "missing") and "or a url" in error.message


def test_a_blank_type_with_a_url_is_a_page_view_but_an_unknown_one_is_still_refused() -> None:
    assert ok_event(make_event(event_type=" ", url="a"))["event_type"] == "page_view"
    result = validate(make_event(event_type="teleport"))
    assert [e.reason for e in result.errors] == ["unknown_event_type"]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("products/1", "/products/1"),
        ("products/1?ref=mail#top", "/products/1?ref=mail#top"),
        ("/products/1", "/products/1"),
        ("https://shop.example/products/1", "https://shop.example/products/1"),
        ("//cdn.example/x", "//cdn.example/x"),
        ("?q=shoes", "?q=shoes"),
        ("#reviews", "#reviews"),
        ("about:blank", "about:blank"),
    ],
)
def test_a_url_without_its_leading_slash_gets_one_and_nothing_else_changes(sent: str, stored: str) -> None:
    assert ok_event(make_event(url=sent))["url"] == stored
