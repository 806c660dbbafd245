"""The Snowplow tracker protocol: `POST /com.snowplowanalytics.snowplow/tp2` and the `GET /i` pixel. Pure.

A tracker whose collector endpoint is `http://<collector>` sends its events here unchanged.
Each event (a `payload_data` item or the pixel's query parameters) maps onto one of our raw
events (docs/SDKS.md has the table); validation, the stream write and bad rows are the
collector's usual path.

- Write key: trackers send none, so the tracker's app id carries it: `aid` must be the write
  key, or `<write key>:<app name>` (only the app name is stored). A request with the key in a
  header (X-Write-Key, bearer, Basic) needs no special app id. Anything else is 401.
- `eid` is the event id; the time is `ttm` if the app set it, else `dtm + (received - stm)`
  (the device clock's offset cancels out); `user_id` is `uid`, else `duid`, else the network id.
- `url` is stored as its path (the full URL stays in `properties._snowplow.url`); every other
  parameter except `ip` (anonymised into `ip_address`), `ua`, `aid` and the encoded payloads
  stays in `properties._snowplow`, contexts (`cx`/`co`) decoded.
- Page pings are `scroll` events worth one ping interval of engagement (`duration_ms`); a
  transaction's items are purchase lines, and its header (`tr`) is folded into the lines of
  the same request. Events with no clickstream type are kept as bad rows `unmapped_event`.
- Size limits (32 KB per event, 500 KB and 500 events per request) answer 400, which trackers
  do not retry; the answer to a pixel request is a 1x1 GIF.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from clickstream.collector.protocols import (
    Mapped,
    ProtocolRequest,
    ProtocolRoute,
    Stored,
    content_event_id,
    drop_empty,
    key_matches,
    line_event_id,
    parse_millis,
    unmapped,
)
from clickstream.collector.request import RequestError, check_content_type, decode_body, write_key_from_headers
from clickstream.collector.responses import CollectorResponse
from clickstream.events.fields import FieldError
from clickstream.events.normalise import canonical_event_type, is_absent
from clickstream.events.schema import INVALID_VALUE, NOT_AN_OBJECT
from clickstream.events.timestamps import format_timestamp

POST_PATH = "/com.snowplowanalytics.snowplow/tp2"
PIXEL_PATH = "/i"
PROTOCOL = "snowplow"
META_KEY = "_snowplow"
PAYLOAD_DATA_SCHEMA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
_PAYLOAD_DATA_PREFIX = PAYLOAD_DATA_SCHEMA.rsplit("/", 1)[0] + "/1-"  # any 1-x-y revision
# Trackers send a page ping every `heartbeatDelay` seconds of activity; the interval is not in
# the payload, so each ping counts as this much engaged time (the JS tracker's usual setting).
DEFAULT_PING_INTERVAL_MS = 10_000
APP_NAME_SEPARATOR = ":"  # aid = "<write key>:<app name>"
# A transparent 1x1 GIF: what a pixel request expects back.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)

_SNOWPLOW = "com.snowplowanalytics.snowplow"
_ECOMMERCE = "com.snowplowanalytics.snowplow.ecommerce"
# Self-describing events with an obvious clickstream type: (vendor, name) → ours.
SELF_DESCRIBING_EVENTS: Mapping[tuple[str, str], str] = {
    (_SNOWPLOW, "link_click"): "click",
    (_SNOWPLOW, "site_search"): "search",
    (_SNOWPLOW, "add_to_cart"): "add_to_cart",
    (_SNOWPLOW, "remove_from_cart"): "remove_from_cart",
    (_SNOWPLOW, "screen_view"): "page_view",
    ("com.snowplowanalytics.mobile", "screen_view"): "page_view",
}
# The e-commerce plugin's `snowplow_ecommerce_action` types; products and the transaction are entities (cx).
ECOMMERCE_ACTIONS: Mapping[str, str] = {
    "add_to_cart": "add_to_cart",
    "remove_from_cart": "remove_from_cart",
    "list_click": "click",
    "checkout_step": "checkout",
    "transaction": "purchase",
}
# Parameters not copied into properties._snowplow: mapped to our fields, decoded, or a credential.
_NOT_META = frozenset({"eid", "ip", "ua", "aid", "refr", "sid", "ue_px", "ue_pr", "cx", "co"})
_RESEND_KEYS = frozenset({"stm"})


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


def map_events(
    items: Sequence[object],
    out: Mapped,
    *,
    received_at: datetime,
    app_ids: Sequence[str | None],
    user_agent: str | None = None,
    ping_interval_ms: int = DEFAULT_PING_INTERVAL_MS,
) -> None:
    """Append what each tracker event becomes to `out` (`app_ids[i]`: the app name to store for item i).

    `user_agent` is the request's User-Agent, used when an event has no `ua` (as Snowplow does).
    Transaction headers (`tr`) are folded into the item lines (`ti`) of the same request; a
    header without items here is kept as a bad row `unmapped_event`.
    """
    orders = {
        item.get("tr_id"): (item, app_id)
        for item, app_id in zip(items, app_ids, strict=True)
        if isinstance(item, dict) and item.get("e") == "tr"
    }
    folded: set[object] = set()
    for item, app_id in zip(items, app_ids, strict=True):
        if not isinstance(item, dict):
            out.rejected.append((item, FieldError("", NOT_AN_OBJECT, "a Snowplow event must be a JSON object")))
            continue
        kind = item.get("e")
        if kind == "tr":
            continue
        event, meta = _base(item, received_at, app_id, user_agent)
        props: dict[str, Any] = {}
        if kind == "pv":
            event["event_type"] = "page_view"
            props["title"] = item.get("page")
        elif kind == "pp":
            event["event_type"] = "scroll"
            event["duration_ms"] = ping_interval_ms
            props.update(title=item.get("page"), depth_pct=scroll_depth(item))
        elif kind == "se":
            event["event_type"] = canonical_event_type(str(item.get("se_ac", "")))
            props.update(
                category=item.get("se_ca"),
                action=item.get("se_ac"),
                label=item.get("se_la"),
                property=item.get("se_pr"),
                value=item.get("se_va"),
            )
        elif kind == "ti":
            order = orders.get(item.get("ti_id"))
            if order is not None:
                folded.add(item.get("ti_id"))
                props["order"] = drop_empty({k: v for k, v in order[0].items() if k.startswith("tr_")})
            event.update(
                event_type="purchase",
                order_id=item.get("ti_id"),
                product_id=item.get("ti_sk"),
                price=item.get("ti_pr"),
                quantity=item.get("ti_qu"),
                currency=item.get("ti_cu"),
            )
            props.update(name=item.get("ti_nm"), category=item.get("ti_ca"))
        elif kind == "ue":
            _self_describing(item, event, props, meta, out, app_id)
            continue
        if event.get("event_type") is None:
            out.rejected.append(
                unmapped(_public(item, app_id), f"Snowplow event e={kind!r} has no clickstream type"[:200])
            )
            continue
        out.events.append(_finish(event, props, meta))
    for order_id, (header, app_id) in orders.items():
        if order_id not in folded:
            text = "Snowplow transaction (e=tr) without its items (e=ti) in the same request: revenue counts items"
            out.rejected.append(unmapped(_public(header, app_id), text))


def snowplow_timestamp(params: Mapping[str, Any], received_at: datetime) -> object:
    """`ttm` (a time the app set) as is, else `dtm + (received - stm)`, else `dtm`, else the receive time.

    Epoch milliseconds; a value that is not a number is passed on for validation to report.
    """
    for key in ("ttm", "dtm"):
        raw = params.get(key)
        if raw is None:
            continue
        millis = parse_millis(raw)
        if millis is None:
            return raw
        if key == "dtm":
            sent = parse_millis(params.get("stm"))
            if sent is not None:
                millis += _epoch_millis(received_at) - sent
        return millis
    return format_timestamp(received_at)


def url_path(url: object) -> object:
    """The path of a page URL ("https://shop.example/p/1?x=2" → "/p/1"); non-strings pass through."""
    if not isinstance(url, str) or is_absent(url):
        return url
    try:
        return urlsplit(url).path or "/"
    except ValueError:  # e.g. an unbalanced "[" in the host
        return url


def scroll_depth(params: Mapping[str, Any]) -> int | None:
    """How far down the page a ping reached, in % of the document height (pp_may + viewport ÷ document)."""
    max_y = parse_millis(params.get("pp_may"))
    viewport, document = _height(params.get("vp")), _height(params.get("ds"))
    if max_y is None or viewport is None or not document:
        return None
    return max(0, min(100, round((max_y + viewport) * 100 / document)))


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


def _base(
    item: dict[str, Any], received_at: datetime, app_id: str | None, user_agent: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    user = next((item[k] for k in ("uid", "duid", "tnuid", "nuid") if not is_absent(item.get(k))), None)
    eid = item.get("eid")
    if is_absent(eid):
        has_time = item.get("dtm") is not None or item.get("ttm") is not None
        eid = content_event_id(
            item, ignore=_RESEND_KEYS, received_text=None if has_time else format_timestamp(received_at)
        )
    ua = item.get("ua")
    event = {
        "event_id": eid,
        "event_type": None,
        "user_id": user,
        "session_id": item.get("sid"),
        "timestamp": snowplow_timestamp(item, received_at),
        "url": url_path(item.get("url")),
        "referrer": item.get("refr"),
        "user_agent": user_agent if is_absent(ua) else ua,
        "ip_address": item.get("ip"),
    }
    meta = {k: v for k, v in item.items() if k not in _NOT_META}
    if app_id is not None:
        meta["app_id"] = app_id
    contexts = _decode_json(item, "cx", "co")
    if isinstance(contexts, dict) and isinstance(contexts.get("data"), list):
        meta["contexts"] = contexts["data"]
    elif contexts is not None:
        meta["cx" if "cx" in item else "co"] = item.get("cx", item.get("co"))  # undecodable: kept as sent
    return event, meta


def _self_describing(
    item: dict[str, Any],
    event: dict[str, Any],
    props: dict[str, Any],
    meta: dict[str, Any],
    out: Mapped,
    app_id: str | None,
) -> None:
    envelope = _decode_json(item, "ue_px", "ue_pr")
    inner = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(inner, dict) or not isinstance(inner.get("schema"), str):
        message = "ue_px/ue_pr: not a self-describing event (base64url JSON with schema and data)"
        out.rejected.append((_public(item, app_id), FieldError("properties", INVALID_VALUE, message)))
        return
    schema, data = inner["schema"], inner.get("data")
    data = data if isinstance(data, dict) else {"data": data}
    meta["schema"] = schema
    props.update(data)
    vendor_name = _vendor_name(schema)
    kind = SELF_DESCRIBING_EVENTS.get(vendor_name)
    if kind is not None:
        event["event_type"] = kind
        if kind in ("add_to_cart", "remove_from_cart"):
            event.update(product_id=data.get("sku"), price=data.get("unitPrice"), quantity=data.get("quantity"))
            event["currency"] = data.get("currency")
        elif kind == "search" and isinstance(data.get("terms"), list):
            props.setdefault("query", " ".join(str(term) for term in data["terms"]))
        elif kind == "page_view" and event["url"] is None:
            event["url"] = data.get("name")
        out.events.append(_finish(event, props, meta))
        return
    action = data.get("type") if vendor_name == (_ECOMMERCE, "snowplow_ecommerce_action") else None
    kind = ECOMMERCE_ACTIONS.get(action) if isinstance(action, str) else None
    if kind is None:
        out.rejected.append(
            unmapped(_public(item, app_id), f"Snowplow self-describing event {schema[:120]} has no clickstream type")
        )
        return
    event["event_type"] = kind
    out.events.extend(_ecommerce_lines(event, props, meta))


def _ecommerce_lines(event: dict[str, Any], props: dict[str, Any], meta: dict[str, Any]) -> list[dict[str, Any]]:
    """An e-commerce plugin action as events: one per product entity (a transaction: purchase lines)."""
    entities = _entities(meta.get("contexts"))
    products = entities.get("product", [])
    transaction = next(iter(entities.get("transaction", [])), {})
    cart = next(iter(entities.get("cart", [])), {})
    kind = event["event_type"]
    if transaction:
        props["transaction"] = transaction
        event["order_id"] = transaction.get("transaction_id")
    if kind == "checkout":
        event.update(price=cart.get("total_value"), currency=cart.get("currency"))
        return [_finish(event, props, meta)]
    lines: list[dict[str, Any] | None] = list(products) or [None]
    out = []
    for line, product in enumerate(lines):
        row = dict(event)
        line_props = dict(props)
        if product is None:
            price = transaction.get("revenue") if kind == "purchase" else None
            row.update(price=price, currency=transaction.get("currency"))
        else:
            line_props["product"] = product
            row.update(product_id=product.get("id"), price=product.get("price"), quantity=product.get("quantity"))
            row["currency"] = product.get("currency") or transaction.get("currency")
        if len(lines) > 1:
            row["event_id"] = line_event_id(str(event["event_id"]), line)
        out.append(_finish(row, line_props, meta))
    return out


def _entities(contexts: object) -> dict[str, list[dict[str, Any]]]:
    """The e-commerce plugin's entities among the decoded contexts, by name (product, cart, transaction...)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for entity in contexts if isinstance(contexts, list) else ():
        if isinstance(entity, dict) and isinstance(entity.get("schema"), str) and isinstance(entity.get("data"), dict):
            vendor, name = _vendor_name(entity["schema"])
            if vendor == _ECOMMERCE:
                found.setdefault(name, []).append(entity["data"])
    return found


def _finish(event: dict[str, Any], props: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    properties = drop_empty(props)
    properties[META_KEY] = meta
    event["properties"] = properties
    return event


def _vendor_name(schema: str) -> tuple[str, str]:
    """("com.acme", "event") from "iglu:com.acme/event/jsonschema/1-0-0"."""
    parts = schema.removeprefix("iglu:").split("/")
    return (parts[0], parts[1]) if len(parts) >= 2 else (schema, "")


def _decode_json(item: Mapping[str, Any], b64_key: str, plain_key: str) -> object:
    """The JSON in `b64_key` (base64url, padding optional) or `plain_key`; the raw text if undecodable; None if absent."""
    raw = item.get(b64_key)
    if isinstance(raw, str) and raw:
        try:
            text: str | bytes = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            return raw
    else:
        raw = item.get(plain_key)
        if not isinstance(raw, str) or not raw:
            return None
        text = raw
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return raw


def _height(size: object) -> int | None:
    """The height of a "WIDTHxHEIGHT" parameter (vp, ds)."""
    if not isinstance(size, str):
        return None
    return parse_millis(size.partition("x")[2])


def _epoch_millis(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _public(item: dict[str, Any], app_id: str | None) -> dict[str, Any]:
    """The event as sent, its app id reduced to the app name (an `aid` may carry the write key)."""
    public = {k: v for k, v in item.items() if k != "aid"}
    if app_id is not None:
        public["aid"] = app_id
    return public


ROUTES: Mapping[str, ProtocolRoute] = {
    POST_PATH: ProtocolRoute(PROTOCOL, ("POST",), partial(read_post), respond, reshape),
    PIXEL_PATH: ProtocolRoute(PROTOCOL, ("GET",), partial(read_pixel), respond_pixel, reshape),
}
