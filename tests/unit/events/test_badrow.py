"""bad_row: a rejected event, its reasons and its exact payload, always JSON-serialisable."""

from __future__ import annotations

import math

import orjson
import pytest
from events_support import RECEIVED, RECEIVED_TEXT, make_event

from clickstream.constants import SCHEMA_VERSION
from clickstream.events.anonymise import anonymise_ip
from clickstream.events.badrow import MAX_PAYLOAD_DEPTH, bad_row, json_safe
from clickstream.events.validate import FieldError, validate_event


def test_bad_row_of_a_rejected_event() -> None:
    raw = make_event(user_id=None, http_status=700)
    errors = validate_event(raw, received_at=RECEIVED).errors

    row = bad_row(raw, errors, received_at=RECEIVED, source="collector:/v1/events")

    assert row == {
        "reason": "missing",
        "errors": [
            {"field": "user_id", "reason": "missing", "message": errors[0].message},
            {"field": "http_status", "reason": "out_of_range", "message": errors[1].message},
        ],
        "payload": {**raw, "ip_address": anonymise_ip(raw["ip_address"])},  # the one thing not kept as sent
        "source": "collector:/v1/events",
        "received_at": RECEIVED_TEXT,
        "schema_version": SCHEMA_VERSION,
    }
    assert orjson.loads(orjson.dumps(row)) == row


def test_bad_row_needs_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        bad_row({}, [], received_at=RECEIVED, source="test")


@pytest.mark.parametrize(
    ("raw", "payload"),
    [
        ({"n": math.nan, "i": math.inf, "m": -math.inf}, {"n": "nan", "i": "inf", "m": "-inf"}),
        ({"big": 2**70, "neg": -(2**70), "ok": 2**64 - 1}, {"big": str(2**70), "neg": str(-(2**70)), "ok": 2**64 - 1}),
        ({1: "a", None: "b", (1, 2): "c"}, {"1": "a", "None": "b", "(1, 2)": "c"}),
        ({1: "int key", "1": "str key"}, {"1 (int key)": "int key", "1": "str key"}),
        ({"s": "lone \ud800 surrogate", "\udc00": 1}, {"s": "lone \\ud800 surrogate", "\\udc00": 1}),
        ((1, [2, {3}]), [1, [2, "{3}"]]),
        (b"bytes", "b'bytes'"),
        ("plain", "plain"),
        (None, None),
    ],
)
def test_payload_is_json_safe_and_keeps_the_information(raw: object, payload: object) -> None:
    row = bad_row(raw, [FieldError("", "not_an_object", "event: ...")], received_at=RECEIVED, source="test")

    assert row["payload"] == payload
    assert orjson.loads(orjson.dumps(row))["payload"] == payload


def test_huge_int_beyond_decimal_conversion_limit_becomes_hex() -> None:
    assert json_safe(1 << 20_000) == hex(1 << 20_000)


def test_deep_nesting_is_cut_at_max_depth_but_stays_serialisable() -> None:
    deep: object = "leaf"
    for _ in range(MAX_PAYLOAD_DEPTH * 3):
        deep = [deep]

    safe = json_safe(deep)

    orjson.dumps(safe)
    depth = 0
    while isinstance(safe, list):
        safe, depth = safe[0], depth + 1
    assert depth == MAX_PAYLOAD_DEPTH
    assert isinstance(safe, str) and safe.startswith("[[")


@pytest.mark.parametrize(
    ("payload", "path", "expected"),
    [
        ({"event_type": "teleport", "ip_address": "203.0.113.77"}, ("ip_address",), "203.0.113.0"),
        ({"type": "track", "context": {"ip": "2001:db8:85a3::8a2e:370:7334"}}, ("context", "ip"), "2001:db8:85a3::"),
        ({"batch": [{"context": {"ip": "198.51.100.9"}}]}, ("batch", 0, "context", "ip"), "198.51.100.0"),
        ({"ip_address": "not-an-ip"}, ("ip_address",), "not-an-ip"),  # the reason it was rejected: kept
    ],
)
def test_bad_rows_never_store_a_full_ip(payload: dict, path: tuple, expected: str) -> None:
    row = bad_row(payload, [FieldError("event_type", "unknown_event_type", "x")], received_at=RECEIVED, source="t")
    value: object = row["payload"]
    for step in path:
        value = value[step]  # type: ignore[index]
    assert value == expected
