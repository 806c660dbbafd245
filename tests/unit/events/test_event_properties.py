"""Property-based tests: no input makes the event contract raise, and normalisation is idempotent."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import orjson
import pytest
from events_support import CHROME_UA, RECEIVED, base_event
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from clickstream.constants import EVENT_TYPES
from clickstream.events.badrow import bad_row
from clickstream.events.normalise import EnvelopeError, extract_events
from clickstream.events.schema import EVENT_FIELDS, REASONS
from clickstream.events.validate import ValidationResult, validate_event
from clickstream.settings import Limits

# Plain JSON as json.loads can produce it, NaN and huge ints included.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
# What Python callers can also hand over: non-string keys, lone surrogates, tuples.
odd_scalars = json_scalars | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3)
odd_values = st.recursive(
    odd_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=6) | st.integers() | st.none() | st.booleans(), children, max_size=4)
    ),
    max_leaves=12,
)

# Mostly plausible values per field, with junk mixed in, so that a good share of events is valid.
_moments = st.datetimes(
    min_value=RECEIVED.replace(tzinfo=None) - timedelta(days=400), max_value=RECEIVED.replace(tzinfo=None)
)
_timestamps = st.one_of(
    _moments.map(lambda d: d.isoformat() + "Z"),
    _moments.map(lambda d: d.isoformat(timespec="milliseconds") + "+02:00"),
    st.integers(min_value=1_600_000_000, max_value=1_736_000_000),
    st.integers(min_value=1_600_000_000_000, max_value=1_736_000_000_000),
    st.floats(min_value=1.6e9, max_value=1.736e9),
)
_ids = st.text(min_size=1, max_size=12) | st.integers(min_value=0, max_value=10**12)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.uuids().map(str) | _ids,
    "event_type": st.sampled_from([*EVENT_TYPES, "PAGE-VIEW", "Add To Cart", "pageview"]),
    "action": st.sampled_from(EVENT_TYPES),
    "user_id": _ids,
    "session_id": _ids,
    "timestamp": _timestamps,
    "event_timestamp": _timestamps,
    "url": st.sampled_from(["/", "/products", "/cart", ""]),
    "page": st.sampled_from(["/home", "/a"]),
    "page_url": st.sampled_from(["/b"]),
    "referrer": st.sampled_from(["https://google.com/", "", "r.com"]),
    "user_agent": st.sampled_from([CHROME_UA, "Mozilla/5.0", "curl/8.0", "Googlebot/2.1"]),
    "ip_address": st.ip_addresses().map(str),
    "http_status": st.integers(min_value=100, max_value=599) | st.sampled_from(["404", 500.0]),
    "product_id": _ids,
    "order_id": _ids,
    "currency": st.sampled_from(["eur", "USD", "gbp"]),
    "price": st.floats(min_value=0, max_value=1e6) | st.integers(min_value=0, max_value=10**6) | st.just("9.99"),
    "quantity": st.integers(min_value=1, max_value=100),
    "duration_ms": st.integers(min_value=0, max_value=10**9),
    "duration": st.floats(min_value=0, max_value=1e5),
    "properties": st.dictionaries(st.text(max_size=8), json_values, max_size=4)
    | st.fixed_dictionaries(
        {}, optional={"page": st.just("/legacy"), "url": st.just("/u"), "referrer": st.just("x.com")}
    ),
    "received_at": st.just("2020-01-01T00:00:00Z"),
    "browser": st.sampled_from(["Chrome", "Other"]),
    "schema_version": st.sampled_from([1, 2]),
    "app_version": st.text(max_size=5),
}
event_like = st.fixed_dictionaries(
    {"event_type": PLAUSIBLE["event_type"], "user_id": PLAUSIBLE["user_id"]},
    optional={
        key: strategy | json_values for key, strategy in PLAUSIBLE.items() if key not in ("event_type", "user_id")
    },
)
mostly_valid = st.fixed_dictionaries(
    {}, optional={key: PLAUSIBLE[key] for key in PLAUSIBLE if key != "event_type"}
).map(lambda overrides: {**base_event(), **overrides})

_LIMITS = (Limits(), Limits(max_properties_bytes=64, max_event_bytes=700))


def _check(result: ValidationResult) -> None:
    assert result.ok == (result.event is not None) == (not result.errors)
    for error in result.errors:
        assert error.reason in REASONS
        assert error.field == "" or error.field in EVENT_FIELDS
        assert error.message
    if result.ok:
        assert result.event is not None
        assert list(result.event) == list(EVENT_FIELDS)
        orjson.dumps(result.event)  # always serialisable


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(raw=json_values | odd_values | event_like, default_timestamp=st.booleans(), strict=st.booleans())
def test_validate_event_never_raises(raw: object, default_timestamp: bool, strict: bool) -> None:
    limits = _LIMITS[strict]

    result = validate_event(raw, received_at=RECEIVED, limits=limits, default_timestamp=default_timestamp)

    _check(result)
    if not result.ok:
        row = bad_row(raw, result.errors, received_at=RECEIVED, source="test")
        assert orjson.loads(orjson.dumps(row))["reason"] == result.errors[0].reason


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(raw=mostly_valid, default_timestamp=st.booleans())
def test_normalised_events_revalidate_to_themselves(raw: dict[str, Any], default_timestamp: bool) -> None:
    result = validate_event(raw, received_at=RECEIVED, default_timestamp=default_timestamp)
    _check(result)
    assume(result.ok)  # hypothesis fails the test if too few generated events are valid
    assert result.event is not None

    again = validate_event(result.event, received_at=RECEIVED)

    assert again.errors == ()
    assert again.event == result.event
    assert orjson.dumps(again.event) == orjson.dumps(result.event)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(raw=event_like, default_timestamp=st.booleans())
def test_any_ok_result_revalidates_to_itself(raw: dict[str, Any], default_timestamp: bool) -> None:
    result = validate_event(raw, received_at=RECEIVED, default_timestamp=default_timestamp)
    _check(result)
    if result.ok:
        again = validate_event(result.event, received_at=RECEIVED)
        assert (again.errors, again.event) == ((), result.event)


@given(body=json_values | odd_values)
def test_extract_events_returns_a_list_or_raises_envelope_error(body: object) -> None:
    try:
        events = extract_events(body)
    except EnvelopeError as exc:
        assert "JSON array" in str(exc)
    else:
        assert isinstance(events, list)


@given(raw=odd_values)
def test_bad_row_payload_always_round_trips_through_orjson(raw: object) -> None:
    row = bad_row(
        raw, validate_event(raw, received_at=RECEIVED).errors or _any_error(), received_at=RECEIVED, source="t"
    )

    assert orjson.loads(orjson.dumps(row)) == row | {"payload": orjson.loads(orjson.dumps(row["payload"]))}


@given(raw=json_values.filter(lambda v: not _has_nan(v)).filter(lambda v: not _has_wide_int(v)))
def test_bad_row_payload_of_plain_json_is_the_payload_itself(raw: object) -> None:
    row = bad_row(raw, _any_error(), received_at=RECEIVED, source="t")

    assert row["payload"] == raw
    assert orjson.loads(orjson.dumps(row))["payload"] == raw


def _any_error() -> tuple[Any, ...]:
    from clickstream.events.validate import FieldError

    return (FieldError("", "invalid_value", "event: test"),)


def _has_nan(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_has_nan(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nan(item) for item in value.values())
    return False


def _has_wide_int(value: object) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return not -(2**63) <= value <= 2**64 - 1
    if isinstance(value, list):
        return any(_has_wide_int(item) for item in value)
    if isinstance(value, dict):
        return any(_has_wide_int(item) for item in value.values())
    return False


@pytest.mark.parametrize("value", [math.nan, math.inf, 2**80, "\ud800", {1: 2}, (1, 2), b"x", object()])
def test_odd_values_in_any_field_never_raise(value: object) -> None:
    for field in (*EVENT_FIELDS, "action", "event_timestamp", "page", "page_url", "duration", "extra"):
        _check(validate_event({**base_event(), field: value}, received_at=RECEIVED))
