"""The contract between the collector service and a tracking-protocol adapter (Segment, Snowplow). Pure.

An adapter turns one HTTP request of its protocol into `Mapped`: raw events in our schema (the
service validates them with the same `validate_event` as /v1/events and writes them to the
stream), the messages it keeps but cannot count (bad rows, e.g. reason `unmapped_event`), and
non-event records (identify/group/alias) for the identities store. It never does I/O; the
service stores everything and then asks the adapter to shape the answer (`respond`, `reshape`).
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from clickstream.collector.request import RequestError
from clickstream.collector.responses import CollectorResponse
from clickstream.events.fields import FieldError
from clickstream.events.schema import EVENT_ID_NAMESPACE, UNMAPPED_EVENT
from clickstream.settings import Limits

# Bad-row reason of a message the protocol defines but the event contract has no type for.


@dataclass(slots=True)
class Mapped:
    """One request, translated: what to validate and stream, what to keep as bad rows, what to keep aside."""

    events: list[object] = field(default_factory=list)  # raw events (objects) for validate_event
    rejected: list[tuple[object, FieldError]] = field(default_factory=list)  # (original message, why)
    identities: list[dict[str, Any]] = field(default_factory=list)  # JSON-safe identity records


@dataclass(frozen=True, slots=True)
class ProtocolRequest:
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    query: str  # the raw query string, without "?"
    method: str
    write_key: str  # what the collector expects
    limits: Limits
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Stored:
    """What the service made durable for one request (everything, or the request got a 503)."""

    event_ids: list[str]  # accepted events, in order
    rejected: int  # bad rows, unmapped messages included
    identities: int
    errors: list[dict[str, Any]]  # the per-field errors of the rejected events (index = position among events)


@dataclass(frozen=True, slots=True)
class ProtocolRoute:
    """One URL of a protocol: how to read its requests and shape its answers."""

    protocol: str  # "segment", "snowplow": names the route's bad-rows source
    methods: tuple[str, ...]
    read: Callable[[ProtocolRequest], Mapped | RequestError]
    respond: Callable[[Stored], CollectorResponse]
    reshape: Callable[[CollectorResponse], CollectorResponse]  # an error answer in the protocol's shape


def key_matches(sent: object, expected: str) -> bool:
    """Whether `sent` is the write key (constant-time, so the comparison leaks nothing)."""
    return isinstance(sent, str) and bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())


def unmapped(message: object, text: str) -> tuple[object, FieldError]:
    """A message kept as a bad row with reason `unmapped_event`."""
    return message, FieldError("event_type", UNMAPPED_EVENT, text)


def line_event_id(base: str, line: int) -> str:
    """The id of line `line` of a message that becomes several events (an order of N products).

    uuid5 of the message id and the line, so a resent message gets the same ids again.
    """
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{base}#{line}"))


def content_event_id(message: Mapping[str, Any], *, ignore: frozenset[str], received_text: str | None) -> str:
    """A deterministic id for a message without one: uuid5 of its canonical JSON minus `ignore`.

    Keys that change on a resend (a batch's sentAt) are left out so a retry gets the same id;
    `received_text` is mixed in only when the message has no time of its own.
    """
    kept = {k: v for k, v in message.items() if k not in ignore and isinstance(k, str)}
    try:
        name = orjson.dumps(kept, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        name = repr(sorted(map(repr, kept.items())))
    if received_text is not None:
        name += "|" + received_text
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))


def parse_instant(value: object) -> datetime | None:
    """An ISO 8601 string as an aware datetime (naive = UTC); None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_millis(value: object) -> int | None:
    """Epoch milliseconds sent as a decimal string or a number (Snowplow's dtm/stm/ttm); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 1e18 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def drop_empty(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` without None and empty objects (an absent field and a null one mean the same)."""
    return {k: v for k, v in values.items() if v is not None and v != {}}
