"""The stored event, decoded and checked, not validated again: what the speed layer reads off the stream.

The collector (and the producer) write one canonical event per record: `validate_event`'s output,
every field of `schema.EVENT_FIELDS` present (None when absent), `schema_version` set
(`codec.encode_event`). Re-running the full validation on it costs about 20 µs an event in the
speed layer (docs/BENCHMARKS.md "Speed layer"), to learn what the collector already decided.
`decode_stored` instead decodes the bytes straight into a typed struct (msgspec: the JSON shape
and every field's type in one pass) and checks what the counters rely on and the batch layer's
quality gate checks too, so both layers count the same events:

- the schema version is this code's (`constants.SCHEMA_VERSION`);
- every field present, none unknown, each of its type; the required ones not null;
- `event_type` one of `constants.EVENT_TYPES`; `timestamp` and `received_at` in the stored form
  (`YYYY-MM-DDTHH:MM:SS.mmmZ`); `http_status` 100..599; `price` ≥ 0, `quantity` ≥ 1 and
  `duration_ms` ≥ 0 when present.

Anything else raises `StoredEventError` with the field and a reason code of `schema.REASONS`,
which the speed layer turns into a bad row, as before. Pure.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from clickstream.constants import EVENT_TYPES, SCHEMA_VERSION
from clickstream.events.schema import (
    EVENT_FIELDS,
    INVALID_TYPE,
    INVALID_VALUE,
    MAX_HTTP_STATUS,
    MIN_HTTP_STATUS,
    MISSING,
    NOT_AN_OBJECT,
    OUT_OF_RANGE,
    UNKNOWN_EVENT_TYPE,
)


class StoredEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One canonical event as the stream carries it: the fields of `schema.EVENT_FIELDS`, in order."""

    event_id: str
    event_type: str
    user_id: str
    session_id: str | None
    timestamp: str
    url: str | None
    referrer: str | None
    user_agent: str | None
    browser: str | None
    os: str | None
    device: str | None
    ip_address: str | None
    http_status: int
    product_id: str | None
    order_id: str | None
    currency: str | None
    price: float | None
    quantity: int | None
    duration_ms: int | None
    properties: dict[str, Any] | None
    received_at: str
    schema_version: int


assert StoredEvent.__struct_fields__ == EVENT_FIELDS, "StoredEvent must list schema.EVENT_FIELDS, in order"

_DECODER: Final = msgspec.json.Decoder(StoredEvent)
_TYPES: Final = frozenset(EVENT_TYPES)
_STORED_TIME: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_FIELD_IN_PATH: Final = re.compile(r"`\$\.(\w+)")
_FIELD_NAMED: Final = re.compile(r"field `(\w+)`")


class StoredEventError(ValueError):
    """The record is not a canonical event of this schema version: `field`, `reason` (schema.REASONS)."""

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.field, self.reason, self.message = field, reason, message


def decode_stored(data: bytes) -> dict[str, Any]:
    """A canonical event's bytes → the event dict (the keys of `schema.EVENT_FIELDS`, in order).

    Raises `StoredEventError` for a record that is not one (see the module docstring), and
    `msgspec.DecodeError` for bytes that are not JSON at all.
    """
    try:
        event = _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise _shape_error(str(exc)) from None
    if event.schema_version != SCHEMA_VERSION:
        raise StoredEventError(
            "schema_version",
            INVALID_VALUE,
            f"schema version {event.schema_version}; this speed layer reads {SCHEMA_VERSION}",
        )
    if event.event_type not in _TYPES:
        raise StoredEventError("event_type", UNKNOWN_EVENT_TYPE, f"unknown event type {event.event_type!r}")
    for name in ("timestamp", "received_at"):
        if not _STORED_TIME.fullmatch(getattr(event, name)):
            raise StoredEventError(
                name, INVALID_VALUE, f"not the stored form YYYY-MM-DDTHH:MM:SS.mmmZ: {getattr(event, name)!r}"
            )
    if not MIN_HTTP_STATUS <= event.http_status <= MAX_HTTP_STATUS:
        raise StoredEventError(
            "http_status", OUT_OF_RANGE, f"{event.http_status} is not {MIN_HTTP_STATUS}..{MAX_HTTP_STATUS}"
        )
    if (
        (event.price is not None and not event.price >= 0)  # NaN fails too
        or (event.quantity is not None and event.quantity < 1)
        or (event.duration_ms is not None and event.duration_ms < 0)
    ):
        raise StoredEventError("price", OUT_OF_RANGE, "price must be >= 0, quantity >= 1 and duration_ms >= 0")
    return dict(zip(EVENT_FIELDS, msgspec.structs.astuple(event), strict=True))


def _shape_error(message: str) -> StoredEventError:
    """msgspec's message → the field and reason code: a missing field, a wrong type, an unknown field."""
    if message.startswith("Expected `object`"):
        return StoredEventError("", NOT_AN_OBJECT, f"record is not a JSON object ({message})")
    if message.startswith("Object missing required field"):
        found = _FIELD_NAMED.search(message)
        return StoredEventError(found.group(1) if found else "", MISSING, message)
    if message.startswith("Object contains unknown field"):
        found = _FIELD_NAMED.search(message)
        return StoredEventError(found.group(1) if found else "", INVALID_VALUE, f"not a stored event: {message}")
    found = _FIELD_IN_PATH.search(message)
    field = found.group(1) if found else ""
    if "got `null`" in message:
        return StoredEventError(field, MISSING, message)
    return StoredEventError(field, INVALID_TYPE, message)
