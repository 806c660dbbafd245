"""Segment's HTTP tracking API (which RudderStack's SDKs speak too), served under /segment. Pure.

An SDK whose host is `http://<collector>/segment` POSTs `/v1/batch`; the single-call routes
(`/v1/track`, `/page`, `/screen`, `/identify`, `/group`, `/alias`) and the legacy `/v1/import`
work too. This module reads the requests and shapes the answers; `segment_mapping` maps each
message onto our raw events, and validation, the stream write and bad rows are the
collector's usual path.

- Write key: the HTTP Basic username (what the SDKs send), `X-Write-Key`, a bearer token, or
  `writeKey` in the body. Limits as Segment's: 32 KB per message, 500 KB per request, both 400.
- Answers are Segment's: `{"success": true}`, and errors as `{"success": false, "code", "message"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial

import orjson

from clickstream.collector.protocols import Mapped, ProtocolRequest, ProtocolRoute, Stored, key_matches
from clickstream.collector.request import RequestError, check_content_type, decode_body, write_key_from_headers
from clickstream.collector.responses import CollectorResponse
from clickstream.collector.segment_mapping import NO_BATCH, PROTOCOL, batch_defaults, map_message

PREFIX = "/segment"

UNAUTHORIZED = RequestError(
    401,
    "unauthorized",
    "missing or invalid write key: send it as the HTTP Basic username (what Segment and RudderStack SDKs do), "
    "as `writeKey` in the body, or in the X-Write-Key header",
)


def read(request: ProtocolRequest, *, message_type: str | None = None) -> Mapped | RequestError:
    """One Segment request as events, bad rows and identity records (`message_type`: the single-call route's type)."""
    headers = request.headers
    header_key = write_key_from_headers(headers)
    if header_key is not None and not key_matches(header_key, request.write_key):
        return UNAUTHORIZED  # checked before the body is even read
    err = check_content_type(headers)
    if err is not None:
        return err
    limits = request.limits
    data = decode_body(headers, request.body, max_bytes=limits.max_request_bytes)
    if isinstance(data, RequestError):
        return data
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return RequestError(400, "malformed_json", f"the body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return RequestError(400, "invalid_envelope", 'send a JSON object: {"batch": [...]} or one message')
    if header_key is None and not key_matches(body.get("writeKey"), request.write_key):
        return UNAUTHORIZED
    if message_type is None:
        messages = body.get("batch")
        if not isinstance(messages, list):
            return RequestError(400, "invalid_envelope", '"batch" must be an array of messages')
        if not messages:
            return RequestError(400, "empty_batch", "the batch contains no messages")
        batch = batch_defaults(body, _aware(request.received_at))
    else:
        messages, batch = [body], NO_BATCH
    if len(messages) > limits.max_batch_events:
        msg = f"{len(messages)} messages in one request; the limit is {limits.max_batch_events}: split the batch"
        return RequestError(400, "too_many_events", msg)
    if len(data) > limits.max_event_bytes:  # a smaller body cannot hold an oversize message
        for index, message in enumerate(messages):
            size = len(orjson.dumps(message))
            if size > limits.max_event_bytes:
                text = f"message {index} is {size} bytes; at most {limits.max_event_bytes} per message"
                return RequestError(400, "message_too_large", text)
    mapped = Mapped()
    received_at = _aware(request.received_at)
    for message in messages:
        map_message(message, mapped, received_at=received_at, message_type=message_type, batch=batch)
    return mapped


def respond(stored: Stored) -> CollectorResponse:
    """Segment's answer, `{"success": true}`, with what was kept (events, bad rows, identity records)."""
    body = {
        "success": True,
        "accepted": len(stored.event_ids),
        "rejected": stored.rejected,
        "identities": stored.identities,
    }
    return CollectorResponse(200, body)


def reshape(error: CollectorResponse) -> CollectorResponse:
    """An error in Segment's shape: `{"success": false, "code", "message"}` (the SDKs read code and message).

    Size limits answer 400 as Segment does, not 413; a 503 keeps its Retry-After (the SDKs retry).
    """
    body = {"success": False, "code": error.body.get("error", "error"), **error.body}
    return CollectorResponse(400 if error.status == 413 else error.status, body, error.headers)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_BATCH_PATHS = ("/v1/batch", "/v1/import")  # /v1/import: the legacy name of the batch route
_SINGLE_PATHS = ("track", "page", "screen", "identify", "group", "alias")
ROUTES: Mapping[str, ProtocolRoute] = {
    **{PREFIX + path: ProtocolRoute(PROTOCOL, ("POST",), read, respond, reshape) for path in _BATCH_PATHS},
    **{
        f"{PREFIX}/v1/{kind}": ProtocolRoute(PROTOCOL, ("POST",), partial(read, message_type=kind), respond, reshape)
        for kind in _SINGLE_PATHS
    },
}
