"""Validate and normalise one raw event into the schema v1 shape (docs/DATA_CONTRACT.md).

Pure and clock-free: the caller passes `received_at`. Every problem of an event is reported,
each with its field, and no input (None, lists, NaN, huge numbers, non-string keys...) makes
`validate_event` raise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from clickstream.events import fields as f
from clickstream.events.anonymise import anonymise_ip
from clickstream.events.fields import FieldError
from clickstream.events.normalise import (
    canonical_event_type,
    is_absent,
    json_type,
    lift_legacy_properties,
    normalise_url,
    pick,
)
from clickstream.events.schema import (
    COMMERCE_EVENT_TYPES,
    DEFAULT_HTTP_STATUS,
    DERIVED_FIELDS,
    DURATION_SECONDS_ALIAS,
    EVENT_FIELDS,
    EVENT_ID_NAMESPACE,
    EVENT_TYPE_WHEN_ONLY_URL,
    EVENT_TYPES,
    INVALID_TYPE,
    INVALID_VALUE,
    MAX_DURATION_MS,
    MAX_EVENT_ID_CHARS,
    MAX_HTTP_STATUS,
    MAX_ID_CHARS,
    MAX_QUANTITY,
    MAX_TEXT_CHARS,
    MIN_HTTP_STATUS,
    MISSING,
    NOT_AN_OBJECT,
    OUT_OF_RANGE,
    SCHEMA_VERSION,
    TOO_LARGE,
    UNKNOWN_EVENT_TYPE,
)
from clickstream.events.timestamps import clock, parse_timestamp
from clickstream.events.useragent import parse_user_agent
from clickstream.settings import Limits

__all__ = ["FieldError", "ValidationResult", "validate_event"]

_DEFAULT_LIMITS = Limits()
# Top-level keys with a rule of their own; any other key is an unknown field (→ properties).
_FIELD_KEYS = frozenset(EVENT_FIELDS) - frozenset(DERIVED_FIELDS)
_CLIENT_RECEIVED_AT = "client_received_at"
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes
_ALLOWED_TYPES = ", ".join(EVENT_TYPES)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The normalised event (None unless ok) and every problem found."""

    event: dict[str, Any] | None
    errors: tuple[FieldError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_event(
    raw: object,
    *,
    received_at: datetime,
    limits: Limits = _DEFAULT_LIMITS,
    default_timestamp: bool = False,
) -> ValidationResult:
    """Check one raw event against schema v1 and return it normalised, or every error found.

    The normalised event is a flat dict with exactly `schema.EVENT_FIELDS`, in order, None
    when absent. Legacy shapes are mapped: aliases (`action`, `event_timestamp`, `page`,
    `page_url`, `duration` in seconds), a page/referrer inside `properties`, unknown top-level
    fields (moved into `properties`, which wins on a key collision). `received_at` (naive =
    UTC) comes from the caller; a client-sent one is kept as `properties.client_received_at`
    unless it equals ours. With `default_timestamp`, an event without a timestamp gets
    `received_at` (the legacy `/track` endpoint).

    An event without `event_id` gets a deterministic one: uuid5(EVENT_ID_NAMESPACE, canonical
    JSON of the raw event with sorted keys), so a client retry of the same event gets the same
    id and the batch layer deduplicates it. When the raw event has no timestamp either, the
    formatted `received_at` is mixed in, since two such events are otherwise only told apart
    by arrival time (a retry then gets a new id: those events cannot be deduplicated).

    Validating a normalised event again with the same `received_at` returns it unchanged.
    """
    if not isinstance(raw, dict):
        message = f"event: expected a JSON object, got {json_type(raw)}"
        return ValidationResult(None, (FieldError("", NOT_AN_OBJECT, message),))
    errors: list[FieldError] = []
    now = clock(received_at, limits.clock_skew_seconds)
    received_text = now.received_text
    get = raw.get

    type_value, type_key = pick(raw, "event_type")
    # without a type, decided once the URL is known: a URL makes a page view
    event_type = None if type_value is None else _event_type(type_value, type_key, errors)
    user_id = f.text(get("user_id"), "user_id", "user_id", errors, max_chars=MAX_ID_CHARS, required=True, numbers=True)
    session_id = f.text(get("session_id"), "session_id", "session_id", errors, max_chars=MAX_ID_CHARS, numbers=True)

    value, ts_key = pick(raw, "timestamp")
    has_timestamp = value is not None
    timestamp: str | None = None
    if has_timestamp:
        timestamp = parse_timestamp(value, "timestamp", ts_key, errors, now=now)
    elif default_timestamp:
        timestamp = received_text
    else:
        f.fail(
            errors, "timestamp", ts_key, MISSING, "missing; send RFC 3339 (e.g. 2025-01-15T10:30:00Z) or epoch seconds"
        )

    properties, properties_ok = _properties(get("properties"), errors)
    url_value, url_key = pick(raw, "url")
    url_alias = url_key  # the top-level key consumed (lifting may relabel url_key below)
    referrer_value, referrer_key = pick(raw, "referrer")
    if properties and (url_value is None or referrer_value is None):
        lifted = lift_legacy_properties(properties, want_url=url_value is None, want_referrer=referrer_value is None)
        url_value, url_key = lifted.get("url", (url_value, url_key))
        referrer_value, referrer_key = lifted.get("referrer", (referrer_value, referrer_key))
    url = normalise_url(f.text(url_value, "url", url_key, errors, max_chars=MAX_TEXT_CHARS))
    if type_value is None:
        if url is not None:
            event_type = EVENT_TYPE_WHEN_ONLY_URL
        else:
            f.fail(
                errors,
                "event_type",
                type_key,
                MISSING,
                f"missing; send one of {_ALLOWED_TYPES} (or a url: a page view)",
            )
    referrer = f.text(referrer_value, "referrer", referrer_key, errors, max_chars=MAX_TEXT_CHARS)
    user_agent = f.text(get("user_agent"), "user_agent", "user_agent", errors, max_chars=MAX_TEXT_CHARS)
    browser = os_family = device = None
    if user_agent is not None:
        browser, os_family, device = parse_user_agent(user_agent)
    ip_address = _ip_address(get("ip_address"), errors)

    http_status: int | None = DEFAULT_HTTP_STATUS
    value = get("http_status")
    if value is not None:
        http_status = f.integer(value, "http_status", "http_status", errors, lo=MIN_HTTP_STATUS, hi=MAX_HTTP_STATUS)
    product_id = f.text(get("product_id"), "product_id", "product_id", errors, max_chars=MAX_ID_CHARS, numbers=True)
    order_id = f.text(get("order_id"), "order_id", "order_id", errors, max_chars=MAX_ID_CHARS, numbers=True)
    currency = _currency(get("currency"), errors)
    price_value = get("price")
    price = None if price_value is None else f.number(price_value, "price", "price", errors, lo=0.0)
    if price_value is None and event_type == "purchase":
        f.fail(
            errors, "price", "price", MISSING, "missing; purchase events need the unit price (quantity defaults to 1)"
        )
    value = get("quantity")
    quantity: int | None = None
    if value is not None:
        quantity = f.integer(value, "quantity", "quantity", errors, lo=1, hi=MAX_QUANTITY)
    elif price is not None and event_type in COMMERCE_EVENT_TYPES:
        quantity = 1
    duration_ms, duration_key = _duration_ms(raw, errors)

    used = (type_key, ts_key, url_alias, duration_key)
    extras = [key for key in raw if key not in _FIELD_KEYS and key not in used]
    if extras:
        derived = {"browser": browser, "os": os_family, "device": device, "schema_version": SCHEMA_VERSION}
        properties = _merge_unknown(raw, extras, properties, properties_ok, derived, received_text, errors)
    if properties:
        _check_properties_size(properties, limits, errors)

    event_id_value = get("event_id")
    event_id = f.text(event_id_value, "event_id", "event_id", errors, max_chars=MAX_EVENT_ID_CHARS, numbers=True)
    if errors:
        _check_raw_size(raw, limits, errors)
        return ValidationResult(None, tuple(errors))
    if event_id is None:
        event_id = _assign_event_id(raw, None if has_timestamp else received_text)
    event = {
        "event_id": event_id,
        "event_type": event_type,
        "user_id": user_id,
        "session_id": session_id,
        "timestamp": timestamp,
        "url": url,
        "referrer": referrer,
        "user_agent": user_agent,
        "browser": browser,
        "os": os_family,
        "device": device,
        "ip_address": ip_address,
        "http_status": http_status,
        "product_id": product_id,
        "order_id": order_id,
        "currency": currency,
        "price": price,
        "quantity": quantity,
        "duration_ms": duration_ms,
        "properties": properties,
        "received_at": received_text,
        "schema_version": SCHEMA_VERSION,
    }
    _check_event_size(event, limits, errors)
    if errors:
        return ValidationResult(None, tuple(errors))
    return ValidationResult(event, ())


def _event_type(value: object, key: str, errors: list[FieldError]) -> str | None:
    if isinstance(value, str):
        canonical = canonical_event_type(value)
        if canonical is None:
            f.fail(errors, "event_type", key, UNKNOWN_EVENT_TYPE, f"{f.show(value)} is not one of {_ALLOWED_TYPES}")
        return canonical
    f.fail(errors, "event_type", key, INVALID_TYPE, f"must be a string, got {json_type(value)}")
    return None


def _properties(value: object, errors: list[FieldError]) -> tuple[dict[str, Any] | None, bool]:
    """A copy of `properties` (lifting and merging must not touch the caller's dict), and whether it is usable."""
    if value is None:
        return None, True
    if isinstance(value, dict):
        return dict(value), True
    f.fail(errors, "properties", "properties", INVALID_TYPE, f"must be an object, got {json_type(value)}")
    return None, False


def _ip_address(value: object, errors: list[FieldError]) -> str | None:
    if is_absent(value):
        return None
    if not isinstance(value, str):
        f.fail(errors, "ip_address", "ip_address", INVALID_TYPE, f"must be a string, got {json_type(value)}")
        return None
    try:
        return anonymise_ip(value)
    except ValueError:
        f.fail(errors, "ip_address", "ip_address", INVALID_VALUE, f"{f.show(value)} is not an IPv4 or IPv6 address")
        return None


def _currency(value: object, errors: list[FieldError]) -> str | None:
    if is_absent(value):
        return None
    if not isinstance(value, str):
        f.fail(errors, "currency", "currency", INVALID_TYPE, f"must be a string, got {json_type(value)}")
        return None
    code = value.strip().upper()
    if len(code) != 3 or not (code.isascii() and code.isalpha()):
        f.fail(errors, "currency", "currency", INVALID_VALUE, f"{f.show(value)} is not a 3-letter ISO 4217 code")
        return None
    return code


def _duration_ms(raw: dict[Any, Any], errors: list[FieldError]) -> tuple[int | None, str]:
    """duration_ms, or the legacy `duration` in seconds (x 1000, rounded); and the key used."""
    value = raw.get("duration_ms")
    if value is not None:
        return f.integer(value, "duration_ms", "duration_ms", errors, lo=0, hi=MAX_DURATION_MS), "duration_ms"
    value = raw.get(DURATION_SECONDS_ALIAS)
    if value is None:
        return None, "duration_ms"
    seconds = f.number(value, "duration_ms", DURATION_SECONDS_ALIAS, errors, lo=0.0)
    if seconds is None:
        return None, DURATION_SECONDS_ALIAS
    millis = seconds * 1000
    if not millis <= MAX_DURATION_MS:
        f.fail(errors, "duration_ms", DURATION_SECONDS_ALIAS, OUT_OF_RANGE, f"{f.show(value)} seconds is too long")
        return None, DURATION_SECONDS_ALIAS
    return round(millis), DURATION_SECONDS_ALIAS


def _merge_unknown(
    raw: dict[Any, Any],
    extras: list[Any],
    properties: dict[str, Any] | None,
    properties_ok: bool,
    derived: Mapping[str, object],
    received_text: str,
    errors: list[FieldError],
) -> dict[str, Any] | None:
    """Move unknown top-level fields into properties; properties keeps its own value on a collision.

    Derived fields a client sent (browser, os, device, schema_version) are dropped when they
    equal ours and kept in properties otherwise; a client `received_at` likewise, as
    `client_received_at`. So re-validating a normalised event changes nothing.
    """
    for key in extras:
        if not isinstance(key, str):
            f.fail(errors, "", "", INVALID_TYPE, f"key {f.show(key)} is not a string (JSON object keys are strings)")
            continue
        if not properties_ok:  # nowhere to keep them; the properties error rejects the event anyway
            continue
        value = raw[key]
        target = key
        if key == "received_at":
            if value is None or value == received_text:
                continue
            target = _CLIENT_RECEIVED_AT
        elif key in derived:
            mine = derived[key]
            if value is None or (type(value) is type(mine) and value == mine):
                continue
        if properties is None:
            properties = {}
        if target not in properties:
            properties[target] = value
    return properties


def _check_properties_size(properties: dict[str, Any], limits: Limits, errors: list[FieldError]) -> None:
    try:
        size = len(orjson.dumps(properties))
    except orjson.JSONEncodeError as exc:  # non-string keys, > 64-bit ints, lone surrogates, deep nesting
        f.fail(errors, "properties", "properties", INVALID_VALUE, f"is not JSON-serialisable ({exc})")
        return
    if size > limits.max_properties_bytes:
        f.fail(errors, "properties", "properties", TOO_LARGE, f"{size} bytes; at most {limits.max_properties_bytes}")


def _check_event_size(event: dict[str, Any], limits: Limits, errors: list[FieldError]) -> None:
    try:
        size = len(orjson.dumps(event))
    except orjson.JSONEncodeError:  # a lone surrogate in a string field: find which
        for key, value in event.items():
            try:
                orjson.dumps(value)
            except orjson.JSONEncodeError as exc:
                f.fail(errors, key, key, INVALID_VALUE, f"is not valid Unicode text ({exc})")
        return
    if size > limits.max_event_bytes:
        f.fail(errors, "", "", TOO_LARGE, f"{size} bytes serialised; at most {limits.max_event_bytes}")


def _check_raw_size(raw: dict[Any, Any], limits: Limits, errors: list[FieldError]) -> None:
    """The size rule for an event that failed other rules (measured on what the client sent)."""
    try:
        size = len(orjson.dumps(raw, option=orjson.OPT_NON_STR_KEYS))
    except orjson.JSONEncodeError:
        return  # unmeasurable; the other errors already reject it
    if size > limits.max_event_bytes:
        f.fail(errors, "", "", TOO_LARGE, f"{size} bytes serialised; at most {limits.max_event_bytes}")


def _assign_event_id(raw: dict[Any, Any], received_text: str | None) -> str:
    """uuid5(EVENT_ID_NAMESPACE, canonical JSON [+ "|" + received_at]); equal to uuid.uuid5 on that text."""
    try:
        name = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # unreachable for a valid event; stay total anyway
        name = repr(sorted(map(repr, raw.items()))).encode("utf-8", "backslashreplace")
    if received_text is not None:
        name += b"|" + received_text.encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()  # formatted by hand: uuid.UUID() costs more than the hash
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
