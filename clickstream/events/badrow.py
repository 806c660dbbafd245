"""Bad rows: a rejected event with its reasons, as stored under S3 `raw/bad/`.

The payload is whatever the client sent, made JSON-safe without losing information, so an
operator can see exactly what arrived and replay it after a fix, with one deliberate loss: IP
addresses are anonymised like accepted events' (docs/DATA_CONTRACT.md "Bad rows"), in
any field named like an IP field at any depth (`ip_address`, Segment's `context.ip`,
Snowplow's `ip`). A value that does not parse as an IP is kept as sent: it is what was wrong.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from clickstream.constants import SCHEMA_VERSION
from clickstream.events.anonymise import anonymise_ip
from clickstream.events.fields import FieldError
from clickstream.events.timestamps import format_timestamp

IP_FIELD_NAMES = frozenset({"ip_address", "ip", "ipAddress", "client_ip", "clientIp", "sourceIp"})
# orjson refuses nesting deeper than 255; anything past this depth is kept as its repr.
MAX_PAYLOAD_DEPTH = 100
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1  # the range orjson serialises as a JSON number


def bad_row(raw: object, errors: Sequence[FieldError], *, received_at: datetime, source: str) -> dict[str, Any]:
    """The bad-row record of one rejected event; `errors` must hold at least one error.

    `reason` is the first error's reason (for grouping and alerting); `source` names where the
    event came from (e.g. "collector:/v1/events", "stream:kinesis").
    """
    if not errors:
        raise ValueError("bad_row needs at least one FieldError")
    return {
        "reason": errors[0].reason,
        "errors": [{"field": e.field, "reason": e.reason, "message": e.message} for e in errors],
        "payload": anonymise_ip_fields(json_safe(raw)),
        "source": source,
        "received_at": format_timestamp(received_at),
        "schema_version": SCHEMA_VERSION,
    }


def anonymise_ip_fields(value: object, _depth: int = 0) -> object:
    """`value` (JSON types) with every parseable IP under an IP-named key anonymised, in place."""
    if _depth >= MAX_PAYLOAD_DEPTH:
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if key in IP_FIELD_NAMES and isinstance(item, str):
                # not an IP: keep it as sent, it is probably why the event was rejected
                with contextlib.suppress(ValueError):
                    value[key] = anonymise_ip(item)
            else:
                anonymise_ip_fields(item, _depth + 1)
    elif isinstance(value, list):
        for item in value:
            anonymise_ip_fields(item, _depth + 1)
    return value


def json_safe(value: object, _depth: int = 0) -> object:
    """`value` as plain JSON types that orjson always serialises, keeping every detail visible.

    Non-finite floats become "nan"/"inf"/"-inf", ints beyond 64 bits their decimal (or hex)
    text, strings with lone surrogates their backslash escapes, non-string keys their repr
    (suffixed with the type on a clash with a real key), other objects their repr.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _safe_text(value)
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _UINT64_MAX else _int_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if _depth >= MAX_PAYLOAD_DEPTH:
        return _safe_repr(value)
    if isinstance(value, list | tuple):
        return [json_safe(item, _depth + 1) for item in value]
    if isinstance(value, dict):
        result: dict[str, object] = {}
        for key, item in value.items():
            if isinstance(key, str):
                name = _safe_text(key)
            else:
                name = _int_text(key) if isinstance(key, int) and not isinstance(key, bool) else _safe_repr(key)
                if name in value or name in result:
                    name = f"{name} ({type(key).__name__} key)"
            result[name] = json_safe(item, _depth + 1)
        return result
    return _safe_repr(value)


def _safe_text(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (json.loads lets them through, orjson refuses them)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _int_text(number: int) -> str:
    try:
        return str(number)
    except ValueError:  # more digits than Python converts to decimal (sys.int_info.str_digits_check_threshold)
        return hex(number)


def _safe_repr(value: object) -> str:
    try:
        return _safe_text(repr(value))
    except Exception as exc:  # a foreign object's __repr__ may raise anything; a bad row must still be written
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
