"""The Snowplow tracker protocol: `POST /com.snowplowanalytics.snowplow/tp2` and the `GET /i` pixel. Pure.

A tracker whose collector endpoint is `http://<collector>` sends its events here unchanged.
This module reads the requests and shapes the answers; what each event becomes is
`snowplow_mapping`'s job, and validation, the stream write and bad rows are the collector's
usual path.

- Write key: trackers send none, so the tracker's app id carries it: `aid` must be the write
  key, or `<write key>:<app name>` (only the app name is stored). A request with the key in a
  header (X-Write-Key, bearer, Basic) needs no special app id. Anything else is 401.
- Size limits (32 KB per event, 500 KB and 500 events per request) answer 400, which trackers
  do not retry; the answer to a pixel request is a 1x1 GIF.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from functools import partial
from urllib.parse import parse_qsl

import orjson

from clickstream.collector.protocols import Mapped, ProtocolRequest, ProtocolRoute, Stored, key_matches
from clickstream.collector.request import RequestError, check_content_type, decode_body, write_key_from_headers
from clickstream.collector.responses import CollectorResponse
from clickstream.collector.snowplow_mapping import DEFAULT_PING_INTERVAL_MS, map_events

POST_PATH = "/com.snowplowanalytics.snowplow/tp2"
PIXEL_PATH = "/i"
PROTOCOL = "snowplow"
PAYLOAD_DATA_SCHEMA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
_PAYLOAD_DATA_PREFIX = PAYLOAD_DATA_SCHEMA.rsplit("/", 1)[0] + "/1-"  # any 1-x-y revision
APP_NAME_SEPARATOR = ":"  # aid = "<write key>:<app name>"
# A transparent 1x1 GIF: what a pixel request expects back.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@dataclass(frozen=True, slots=True)
class PixelResponse(CollectorResponse):
    """The pixel's answer: a GIF, not JSON."""

    def json(self) -> bytes:
        """The response body the front ends send (here the GIF; the name is CollectorResponse's)."""
        return PIXEL_GIF


def read_post(request: ProtocolRequest, *, ping_interval_ms: int = DEFAULT_PING_INTERVAL_MS) -> Mapped | RequestError:
    """A `payload_data` POST as events and bad rows."""
    header_key = _header_key(request)
    if isinstance(header_key, RequestError):
        return header_key
    err = check_content_type(request.headers)
    if err is not None:
        return err
    limits = request.limits
    data = decode_body(request.headers, request.body, max_bytes=limits.max_request_bytes)
    if isinstance(data, RequestError):
        return data
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return RequestError(400, "malformed_json", f"the body is not valid JSON: {exc}")
    items = body.get("data") if isinstance(body, dict) else None
    schema = body.get("schema") if isinstance(body, dict) else None
    if not isinstance(items, list) or not (isinstance(schema, str) and schema.startswith(_PAYLOAD_DATA_PREFIX)):
        return RequestError(400, "invalid_envelope", f'send {{"schema": "{PAYLOAD_DATA_SCHEMA}", "data": [...]}}')
    if not items:
        return RequestError(400, "empty_batch", "the payload contains no events")
    if len(items) > limits.max_batch_events:
        msg = f"{len(items)} events in one request; the limit is {limits.max_batch_events}: split the batch"
        return RequestError(400, "too_many_events", msg)
    if len(data) > limits.max_event_bytes:  # a smaller body cannot hold an oversize event
        for index, item in enumerate(items):
            size = len(orjson.dumps(item))
            if size > limits.max_event_bytes:
                text = f"event {index} is {size} bytes; at most {limits.max_event_bytes}"
                return RequestError(413, "event_too_large", text)
    return _map_request(items, request, header_key, ping_interval_ms)


def read_pixel(request: ProtocolRequest, *, ping_interval_ms: int = DEFAULT_PING_INTERVAL_MS) -> Mapped | RequestError:
    """A `GET /i?e=pv&...` pixel request: one event in the query string."""
    header_key = _header_key(request)
    if isinstance(header_key, RequestError):
        return header_key
    if len(request.query) > request.limits.max_event_bytes:
        return RequestError(413, "event_too_large", f"the query string exceeds {request.limits.max_event_bytes} bytes")
    params = {k: v for k, v in parse_qsl(request.query, keep_blank_values=False)}
    if not params:
        return RequestError(400, "empty_batch", "the pixel request carries no event parameters")
    return _map_request([params], request, header_key, ping_interval_ms)


def respond(stored: Stored) -> CollectorResponse:
    """200 once everything is stored (bad rows included): a tracker resends on anything else."""
    return CollectorResponse(200, {"status": "ok", "accepted": len(stored.event_ids), "rejected": stored.rejected})


def respond_pixel(stored: Stored) -> CollectorResponse:
    return PixelResponse(200, {}, {"content-type": "image/gif", "cache-control": "no-cache, no-store, must-revalidate"})


def reshape(error: CollectorResponse) -> CollectorResponse:
    """Errors keep the collector's JSON shape (trackers read only the status); size limits answer 400.

    Trackers retry every status but 400, 401, 403, 410 and 422, and none splits a batch, so a
    413 would be resent forever; 400 makes them give up (as Segment's API does).
    """
    if error.status == 413:
        return CollectorResponse(400, error.body, error.headers)
    return error


def _map_request(
    items: Sequence[object], request: ProtocolRequest, header_key: str | None, ping_interval_ms: int
) -> Mapped | RequestError:
    app_ids: list[str | None] = []
    for item in items:  # without a header key, every event must carry it in `aid` (a non-object cannot)
        aid = item.get("aid") if isinstance(item, dict) else None
        if header_key is not None:
            app_ids.append(aid if isinstance(aid, str) else None)
            continue
        authorised, app = app_name(aid, request.write_key)
        if not authorised:
            return _unauthorized()
        app_ids.append(app)
    mapped = Mapped()
    received_at = request.received_at if request.received_at.tzinfo else request.received_at.replace(tzinfo=UTC)
    ua = request.headers.get("user-agent")
    map_events(
        items, mapped, received_at=received_at, app_ids=app_ids, user_agent=ua, ping_interval_ms=ping_interval_ms
    )
    return mapped


def app_name(aid: object, write_key: str) -> tuple[bool, str | None]:
    """(whether `aid` carries the write key, the app name after it: None for the bare key)."""
    if not isinstance(aid, str):
        return False, None
    if key_matches(aid, write_key):
        return True, None
    key, sep, name = aid.partition(APP_NAME_SEPARATOR)
    if sep and key_matches(key, write_key):
        return True, name or None
    return False, None


def _header_key(request: ProtocolRequest) -> str | RequestError | None:
    key = write_key_from_headers(request.headers)
    if key is not None and not key_matches(key, request.write_key):
        return _unauthorized()
    return key


def _unauthorized() -> RequestError:
    return RequestError(
        401,
        "unauthorized",
        "missing or invalid write key: set the tracker's app id to the write key (or `<write key>:<app name>`), "
        "or send the key in the X-Write-Key header",
    )


ROUTES: Mapping[str, ProtocolRoute] = {
    POST_PATH: ProtocolRoute(PROTOCOL, ("POST",), partial(read_post), respond, reshape),
    PIXEL_PATH: ProtocolRoute(PROTOCOL, ("GET",), partial(read_pixel), respond_pixel, reshape),
}
