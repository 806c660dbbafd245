"""The collector, framework-agnostic: one code path for the ASGI server and the Lambda.

`CollectorService.handle(route, headers, body)` checks the write key, content type and limits,
validates every record, writes the valid ones to the stream in ONE `write()` and stores the
invalid ones as bad rows, and answers only once both are durable. Request-level errors (auth,
content type, size, JSON, envelope) write nothing. If the stream or the bad-rows store is down
the answer is 503 + Retry-After: the client resends the whole request, and because event ids are
assigned deterministically the resend carries the same ids (the batch layer dedupes them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from clickstream.adapters.streams import StreamRecord, StreamWriter
from clickstream.collector import segment, snowplow
from clickstream.collector.admission import WriteGate, WritesBackedUpError
from clickstream.collector.protocols import UNMAPPED_EVENT, Mapped, ProtocolRequest, ProtocolRoute, Stored
from clickstream.collector.request import RequestError, check_content_type, check_write_key, decode_body
from clickstream.collector.responses import (
    CollectorResponse,
    error_response,
    field_errors,
    ingest_response,
    unavailable_response,
)
from clickstream.constants import COLLECTOR_SLOT_WAIT_SECONDS, COLLECTOR_WRITE_SLOTS
from clickstream.errors import ConfigError, RetryableError
from clickstream.events.badrow import bad_row
from clickstream.events.codec import encode_event
from clickstream.events.fields import FieldError
from clickstream.events.normalise import EnvelopeError, extract_events
from clickstream.events.schema import TOO_LARGE
from clickstream.events.validate import validate_event
from clickstream.settings import Settings

log = logging.getLogger(__name__)

BAD_ROWS_SOURCE = "collector"  # names the bad-rows objects: raw/bad/dt=…/hour=…/collector-<uuid>.ndjson.gz
HEALTH_ROUTE = "/healthz"


@dataclass(frozen=True, slots=True)
class IngestRoute:
    single: bool  # the body is ONE event (no envelope unwrapping)
    default_timestamp: bool  # an event without a timestamp gets its receive time (legacy /track)


INGEST_ROUTES: Mapping[str, IngestRoute] = {
    "/v1/events": IngestRoute(single=False, default_timestamp=False),
    "/v1/track": IngestRoute(single=True, default_timestamp=True),
    "/events": IngestRoute(single=False, default_timestamp=False),  # legacy: {"records": [...]}
    "/track": IngestRoute(single=True, default_timestamp=True),  # legacy: one flat event
}


# Other trackers' protocols (docs/SDKS.md): Segment's HTTP API under /segment, Snowplow's tp2 and pixel.
PROTOCOL_ROUTES: Mapping[str, ProtocolRoute] = {**segment.ROUTES, **snowplow.ROUTES}


class BadRowsSink(Protocol):
    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> str | None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class CollectorService:
    def __init__(
        self,
        settings: Settings,
        writer: StreamWriter,
        bad_rows: BadRowsSink,
        *,
        identities: BadRowsSink | None = None,
        clock: Callable[[], datetime] = utc_now,
        gate: WriteGate | None = None,
    ) -> None:
        if not settings.write_key:
            raise ConfigError("the collector needs a write key: set CLICKSTREAM_WRITE_KEY")
        self._write_key = settings.write_key
        self.limits = settings.limits
        self.writer = writer
        self._bad_rows = bad_rows
        self._identities = identities
        self._clock = clock
        self._gate = gate or WriteGate(COLLECTOR_WRITE_SLOTS, wait_seconds=COLLECTOR_SLOT_WAIT_SECONDS)

    def handle(
        self, route: str, headers: Mapping[str, str], body: bytes, *, method: str = "POST", query: str = ""
    ) -> CollectorResponse:
        """Answer one HTTP request (`route` is the path, e.g. "/v1/events"; header names any case;
        `query` the raw query string, read by the Snowplow pixel only)."""
        path = route.rstrip("/") or "/"
        method = method.upper()
        if path == HEALTH_ROUTE:
            if method in ("GET", "HEAD"):
                return CollectorResponse(200, {"status": "ok"})
            return _method_not_allowed("GET")
        spec = INGEST_ROUTES.get(path)
        if spec is None:
            protocol = PROTOCOL_ROUTES.get(path)
            if protocol is not None:
                return self._handle_protocol(protocol, path, method, headers, body, query)
            return error_response(RequestError(404, "not_found", f"no route {path!r}: POST events to /v1/events"))
        if method != "POST":
            return _method_not_allowed("POST")
        h = {k.lower(): v for k, v in headers.items()}
        err = check_write_key(h, self._write_key) or check_content_type(h)
        if err is not None:
            return error_response(err)
        data = decode_body(h, body, max_bytes=self.limits.max_request_bytes)
        if isinstance(data, RequestError):
            return error_response(data)
        raws = _parse(data, single=spec.single)
        if isinstance(raws, RequestError):
            return error_response(raws)
        if len(raws) > self.limits.max_batch_events:
            msg = f"{len(raws)} events in one request; the limit is {self.limits.max_batch_events}: split the batch"
            return error_response(RequestError(400, "too_many_events", msg))
        return self._ingest(raws, path, spec, self._clock())

    def _ingest(self, raws: list[object], path: str, spec: IngestRoute, received_at: datetime) -> CollectorResponse:
        stored = self._store(Mapped(raws), path, received_at, default_timestamp=spec.default_timestamp)
        if isinstance(stored, CollectorResponse):
            return stored
        return ingest_response(stored.event_ids, stored.rejected, stored.errors)

    def _handle_protocol(
        self, route: ProtocolRoute, path: str, method: str, headers: Mapping[str, str], body: bytes, query: str
    ) -> CollectorResponse:
        """A Segment or Snowplow request: the adapter maps it, then the same validation and storage as /v1/events."""
        if method not in route.methods:
            return route.reshape(_method_not_allowed(", ".join(route.methods)))
        received_at = self._clock()
        h = {k.lower(): v for k, v in headers.items()}
        request = ProtocolRequest(h, body, query, method, self._write_key, self.limits, received_at)
        mapped = route.read(request)
        if isinstance(mapped, RequestError):
            return route.reshape(error_response(mapped))
        stored = self._store(mapped, path, received_at, default_timestamp=False)
        if isinstance(stored, CollectorResponse):
            return route.reshape(stored)
        return route.respond(stored)

    def _store(
        self, mapped: Mapped, path: str, received_at: datetime, *, default_timestamp: bool
    ) -> Stored | CollectorResponse:
        """Validate `mapped.events`; write the valid ones to the stream in one call, the rest (and what the
        protocol rejected) as bad rows, identity records to their store. 413 for an oversize event, 503
        if anything is not durable, or if no write slot frees up in time (`admission`)."""
        try:
            # Taken before validating: a request turned away costs no validation, so under
            # overload the CPU goes to the requests that will be written.
            with self._gate.slot():
                return self._validate_and_write(mapped, path, received_at, default_timestamp=default_timestamp)
        except WritesBackedUpError as exc:
            log.warning("request not acknowledged (%d records): %s", len(mapped.events), exc)
            return unavailable_response(exc.retry_after)

    def _validate_and_write(
        self, mapped: Mapped, path: str, received_at: datetime, *, default_timestamp: bool
    ) -> Stored | CollectorResponse:
        source = f"{BAD_ROWS_SOURCE}:{path}"
        records: list[StreamRecord] = []
        event_ids: list[str] = []
        errors: list[dict[str, Any]] = []
        bad: list[dict[str, Any]] = []
        for index, raw in enumerate(mapped.events):
            result = validate_event(
                raw, received_at=received_at, limits=self.limits, default_timestamp=default_timestamp
            )
            event = result.event
            if event is not None:
                event_ids.append(event["event_id"])
                records.append(StreamRecord(event["user_id"], encode_event(event)))
                continue
            oversize = _oversize(index, result.errors)
            if oversize is not None:  # never stored, not even as a bad row: reject the request
                return oversize
            errors.extend(field_errors(index, result.errors))
            bad.append(bad_row(raw, result.errors, received_at=received_at, source=source))
        for message, reason in mapped.rejected:
            bad.append(bad_row(message, [reason], received_at=received_at, source=source))
        identities = mapped.identities
        if identities and self._identities is None:  # never lost: kept with the bad rows instead
            reason = FieldError("event_type", UNMAPPED_EVENT, "identity call; no identities store is configured")
            bad.extend(bad_row(row, [reason], received_at=received_at, source=source) for row in identities)
            identities = []
        try:
            if records:
                self.writer.write(records)
            if bad:
                self._bad_rows.put(bad, received_at=received_at, source=BAD_ROWS_SOURCE)
            if identities and self._identities is not None:
                self._identities.put(identities, received_at=received_at, source=BAD_ROWS_SOURCE)
        except RetryableError as exc:
            log.warning("request not acknowledged (%d events, %d bad rows): %s", len(records), len(bad), exc)
            return unavailable_response(exc.retry_after)
        return Stored(event_ids, len(bad), len(identities), errors)


def _parse(data: bytes, *, single: bool) -> list[object] | RequestError:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return RequestError(400, "malformed_json", f"the body is not valid JSON: {exc}")
    if single:
        if not isinstance(body, dict):
            return RequestError(400, "invalid_envelope", "send one event as a JSON object")
        return [body]
    try:
        raws = extract_events(body)
    except EnvelopeError as exc:
        return RequestError(400, "invalid_envelope", str(exc))
    if not raws:
        return RequestError(400, "empty_batch", "the request contains no events")
    return raws


def _oversize(index: int, errors: Sequence[Any]) -> CollectorResponse | None:
    for e in errors:
        if e.reason == TOO_LARGE and e.field == "":  # the whole event, not one field
            return error_response(RequestError(413, "event_too_large", f"event {index}: {e.message}"), index=index)
    return None


def _method_not_allowed(allowed: str) -> CollectorResponse:
    err = RequestError(405, "method_not_allowed", f"use {allowed} on this route")
    return error_response(err, headers={"allow": allowed})
