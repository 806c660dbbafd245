"""OpenAPI documentation of the collector (for /docs and /openapi.json only).

These pydantic models describe the request and response shapes; they never parse an event on
the hot path (the service reads raw bytes and `clickstream.events.validate` is the contract).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import models_json_schema

from clickstream.constants import EVENT_TYPES, MAX_BATCH_EVENTS

_REF = "#/components/schemas/{model}"
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]

EXAMPLE_EVENT: dict[str, Any] = {
    "event_type": "page_view",
    "user_id": "user_123",
    "session_id": "session_abc",
    "timestamp": "2025-01-15T10:30:00Z",
    "url": "/products",
    "referrer": "https://google.com",
    "properties": {"campaign": "winter"},
}


class Event(BaseModel):
    """One clickstream event (schema v1). Unknown top-level fields are kept in `properties`."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [EXAMPLE_EVENT]})
    event_id: str | None = Field(None, description="UUID, the dedup key; assigned deterministically when absent")
    event_type: EventType = Field(description="alias: `action`")  # type: ignore[valid-type]
    user_id: str = Field(description="anonymous ids allowed; the stream partition key")
    session_id: str | None = None
    timestamp: str | float | None = Field(
        None, description="RFC 3339 or epoch seconds; required except on /v1/track and /track (receive time)"
    )
    url: str | None = Field(None, description="page path; aliases `page`, `page_url`")
    referrer: str | None = None
    user_agent: str | None = None
    ip_address: str | None = Field(None, description="anonymised by the collector")
    http_status: int | None = Field(None, ge=100, le=599)
    product_id: str | None = None
    order_id: str | None = None
    currency: str | None = None
    price: float | None = None
    quantity: int | None = None
    duration_ms: int | None = Field(None, ge=0)
    properties: dict[str, Any] | None = None


class EventsEnvelope(BaseModel):
    events: list[Event] = Field(max_length=MAX_BATCH_EVENTS)


class RecordsEnvelope(BaseModel):
    records: list[Event] = Field(max_length=MAX_BATCH_EVENTS, description="legacy clickstream clients")


class SegmentBatch(BaseModel):
    batch: list[Event] = Field(max_length=MAX_BATCH_EVENTS)


class EventBatch(RootModel[list[Event] | EventsEnvelope | RecordsEnvelope | SegmentBatch | Event]):
    """Up to 500 events (500 KB): an array, an envelope, or a single event object."""


class RecordError(BaseModel):
    index: int = Field(description="position of the record in the request")
    field: str
    reason: str = Field(description="machine-readable code, e.g. missing, invalid_type, unknown_event_type")
    message: str


class IngestResponse(BaseModel):
    status: Literal["accepted", "partial", "rejected"]
    accepted: int
    processed: int = Field(description="same as `accepted` (older clients read this)")
    rejected: int
    event_ids: list[str] = Field(description="ids of the accepted events, in request order")
    errors: list[RecordError]


class ErrorResponse(BaseModel):
    error: str = Field(description="machine-readable code")
    message: str


class HealthResponse(BaseModel):
    status: Literal["ok"]


SECURITY_SCHEMES: dict[str, Any] = {
    "writeKey": {"type": "apiKey", "in": "header", "name": "X-Write-Key"},
    "bearer": {"type": "http", "scheme": "bearer", "description": "the write key as a bearer token"},
    "basic": {"type": "http", "scheme": "basic", "description": "the write key as username (Segment SDKs)"},
}

INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": IngestResponse, "description": "all (`accepted`) or some (`partial`) events written"},
    400: {
        "model": IngestResponse | ErrorResponse,
        "description": "every event invalid (`rejected`, bad rows stored), or a malformed request (nothing stored)",
    },
    401: {"model": ErrorResponse, "description": "missing or wrong write key"},
    413: {"model": ErrorResponse, "description": "request over 500 KB or an event over 32 KB"},
    415: {"model": ErrorResponse, "description": "not JSON, or an unsupported Content-Encoding"},
    503: {"model": ErrorResponse, "description": "stream unavailable: nothing stored, retry after Retry-After"},
}


def ingest_openapi_extra(schema: str) -> dict[str, Any]:
    """The request body and security of an ingest route (`schema`: "EventBatch" or "Event")."""
    body = {"schema": {"$ref": _REF.format(model=schema)}}
    return {
        "requestBody": {"required": True, "content": {"application/json": body, "text/plain": body}},
        "security": [{"writeKey": []}, {"bearer": []}, {"basic": []}],
    }


def install_openapi(app: FastAPI) -> None:
    """Add the request-body schemas and security schemes the routes reference to /openapi.json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _, defs = models_json_schema([(Event, "validation"), (EventBatch, "validation")], ref_template=_REF)
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(defs.get("$defs", {}))
            components["securitySchemes"] = SECURITY_SCHEMES
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
