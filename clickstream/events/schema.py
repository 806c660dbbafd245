"""The event contract, schema version 1 (docs/DATA_CONTRACT.md), as constants.

The collector, the batch layer and the Parquet/Glue schema all read the field list, the
logical types and the reason codes from here, so a new field is added in one place.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Final

from clickstream.constants import EVENT_TYPES, SCHEMA_VERSION

__all__ = [
    "ALIASES",
    "COMMERCE_EVENT_TYPES",
    "DERIVED_FIELDS",
    "EVENT_FIELDS",
    "EVENT_ID_NAMESPACE",
    "EVENT_TYPES",
    "FIELD_TYPES",
    "REASONS",
    "SCHEMA_VERSION",
]

# The normalised event: a flat dict with exactly these keys, in this order (None when absent).
EVENT_FIELDS: Final[tuple[str, ...]] = (
    "event_id",
    "event_type",
    "user_id",
    "session_id",
    "timestamp",
    "url",
    "referrer",
    "user_agent",
    "browser",
    "os",
    "device",
    "ip_address",
    "http_status",
    "product_id",
    "order_id",
    "currency",
    "price",
    "quantity",
    "duration_ms",
    "properties",
    "received_at",
    "schema_version",
)

# Logical types for the curated (Parquet/Glue) schema. `timestamp` columns hold UTC instants
# (serialised on the stream as RFC 3339 with milliseconds); `json` is a free-form object.
FIELD_TYPES: Final[dict[str, str]] = {
    "event_id": "string",
    "event_type": "string",
    "user_id": "string",
    "session_id": "string",
    "timestamp": "timestamp",
    "url": "string",
    "referrer": "string",
    "user_agent": "string",
    "browser": "string",
    "os": "string",
    "device": "string",
    "ip_address": "string",
    "http_status": "int16",
    "product_id": "string",
    "order_id": "string",
    "currency": "string",
    "price": "double",
    "quantity": "int32",
    "duration_ms": "int64",
    "properties": "json",
    "received_at": "timestamp",
    "schema_version": "int8",
}
REQUIRED_FIELDS: Final[frozenset[str]] = frozenset(
    {"event_id", "event_type", "user_id", "timestamp", "http_status", "received_at", "schema_version"}
)

# Set by the collector, never taken from the client (see validate.py for what happens to them).
DERIVED_FIELDS: Final[tuple[str, ...]] = ("browser", "os", "device", "received_at", "schema_version")

# Legacy names older clickstream tools send, per canonical field, in order of preference.
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "event_type": ("action",),
    "timestamp": ("event_timestamp",),
    "url": ("page", "page_url"),
}
DURATION_SECONDS_ALIAS: Final = "duration"  # seconds, unlike duration_ms
# Error-monitoring setups send a user, a URL, a status and a time, but no event type: an event
# without one that has a URL is this type (docs/DATA_CONTRACT.md "Events without an event type").
EVENT_TYPE_WHEN_ONLY_URL: Final = "page_view"

COMMERCE_EVENT_TYPES: Final[frozenset[str]] = frozenset({"add_to_cart", "remove_from_cart", "checkout", "purchase"})
DEVICE_CLASSES: Final[tuple[str, ...]] = ("Desktop", "Mobile", "Tablet", "Bot", "Other")

# --- Reason codes (FieldError.reason, bad rows' `reason`): stable, machine-readable --------
MISSING: Final = "missing"
INVALID_TYPE: Final = "invalid_type"
INVALID_VALUE: Final = "invalid_value"
OUT_OF_RANGE: Final = "out_of_range"
UNKNOWN_EVENT_TYPE: Final = "unknown_event_type"
IN_FUTURE: Final = "in_future"
TOO_LARGE: Final = "too_large"
NOT_AN_OBJECT: Final = "not_an_object"
TOO_LATE: Final = "too_late"  # not raised by validation: the speed layer's lateness cut-off
# not raised by validation: a Segment/Snowplow message with no event type of ours
UNMAPPED_EVENT: Final = "unmapped_event"
REASONS: Final[tuple[str, ...]] = (
    MISSING,
    INVALID_TYPE,
    INVALID_VALUE,
    OUT_OF_RANGE,
    UNKNOWN_EVENT_TYPE,
    IN_FUTURE,
    TOO_LARGE,
    NOT_AN_OBJECT,
    TOO_LATE,
    UNMAPPED_EVENT,
)

# --- Value limits -------------------------------------------------------------------------
MAX_EVENT_ID_CHARS: Final = 128
MAX_ID_CHARS: Final = 256  # user_id, session_id, product_id, order_id
MAX_TEXT_CHARS: Final = 2048  # url, referrer, user_agent (the de-facto URL limit of browsers/CDNs)
MAX_QUANTITY: Final = 2**31 - 1  # fits the int32 column
MAX_DURATION_MS: Final = 2**63 - 1  # fits the int64 column
MIN_HTTP_STATUS: Final = 100
MAX_HTTP_STATUS: Final = 599
DEFAULT_HTTP_STATUS: Final = 200
MIN_TIMESTAMP: Final = datetime(2000, 1, 1, tzinfo=UTC)
# Epoch values above this are milliseconds: 1e11 s is the year 5138, while 1e11 ms is 1973,
# so every plausible event time is unambiguous.
EPOCH_MS_THRESHOLD: Final = 100_000_000_000

# uuid5 namespace of ids assigned to events that arrive without one (never change it: the
# same raw event must get the same id across releases so the batch layer can deduplicate).
EVENT_ID_NAMESPACE: Final = uuid.UUID("982db6c1-d612-45e6-873a-db6aafd5b0c9")
