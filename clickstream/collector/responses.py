"""The collector's answers, framework-free: status, JSON body, headers. No I/O.

Every error is `{"error": <code>, "message": <text>}`; an ingest answer is
`{"status", "accepted", "processed", "rejected", "event_ids", "errors"}` (`processed` and
`status: "accepted"` are what older clickstream clients check).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from clickstream.collector.request import RequestError

JSON_HEADERS: Mapping[str, str] = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class CollectorResponse:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> bytes:
        """The body as compact JSON bytes."""
        return orjson.dumps(self.body)


def error_response(err: RequestError, *, headers: Mapping[str, str] | None = None, **extra: Any) -> CollectorResponse:
    """A JSON error answer; `extra` adds detail fields (e.g. `index`, `retry_after`)."""
    return CollectorResponse(err.status, {"error": err.code, "message": err.message, **extra}, headers or {})


def unavailable_response(retry_after: float) -> CollectorResponse:
    """503 with Retry-After (whole seconds, at least 1): nothing of the request was acknowledged.

    The cause (stream names, broker addresses) is logged by the caller, not shown to clients.
    """
    seconds = max(1, math.ceil(retry_after))
    message = f"the event stream is unavailable; nothing was stored, resend the request in {seconds}s"
    err = RequestError(503, "unavailable", message)
    return error_response(err, headers={"retry-after": str(seconds)}, retry_after=seconds)


def field_errors(index: int, errors: Iterable[Any]) -> list[dict[str, Any]]:
    """Response entries for one invalid record: one per FieldError(field, reason, message)."""
    return [{"index": index, "field": e.field, "reason": e.reason, "message": e.message} for e in errors]


def ingest_response(event_ids: Sequence[str], rejected: int, errors: list[dict[str, Any]]) -> CollectorResponse:
    """200 `accepted` (all valid), 200 `partial` (some valid), or 400 `rejected` (none valid)."""
    accepted = len(event_ids)
    if rejected == 0:
        status, code = "accepted", 200
    elif accepted:
        status, code = "partial", 200
    else:
        status, code = "rejected", 400
    body = {
        "status": status,
        "accepted": accepted,
        "processed": accepted,
        "rejected": rejected,
        "event_ids": list(event_ids),
        "errors": errors,
    }
    return CollectorResponse(code, body)
