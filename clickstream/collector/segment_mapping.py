"""Segment messages → our raw events and identity records (docs/SDKS.md has the table). Pure.

`map_message` takes one message of a request that `segment` has read and authorised, with
the batch envelope's defaults (`batch_defaults`).

- `messageId` is the event id (uuid5 of the message when absent). The time is Segment's
  skew-corrected `timestamp + (receivedAt - sentAt)`; `user_id` is `userId`, else `anonymousId`.
- `page`/`screen` are page views and the e-commerce spec's events map to ours; an order of N
  products is N purchase lines sharing the order id. Any other message is kept as a bad row
  with reason `unmapped_event`; identify/group/alias go to the identities store.
- Everything of a message that is not one of our fields stays in `properties._segment`, except
  the write key, `context.ip` (stored anonymised in `ip_address`) and `context.userAgent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from clickstream.collector.protocols import Mapped, content_event_id, line_event_id, parse_instant, unmapped
from clickstream.events.anonymise import anonymise_ip
from clickstream.events.badrow import json_safe
from clickstream.events.fields import FieldError
from clickstream.events.normalise import canonical_event_type, is_absent
from clickstream.events.schema import NOT_AN_OBJECT
from clickstream.events.timestamps import format_timestamp

PROTOCOL = "segment"
META_KEY = "_segment"  # properties key of everything else the message carried
IDENTITY_TYPES = frozenset({"identify", "group", "alias"})
PAGE_TYPES = frozenset({"page", "screen"})

# Segment's e-commerce spec (v2) → our event types; matched ignoring case, spaces, "_" and "-".
TRACK_EVENTS: Mapping[str, str] = {
    "Products Searched": "search",
    "Product Clicked": "click",
    "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Checkout Started": "checkout",
    "Order Completed": "purchase",
}
_SEPARATORS = str.maketrans("", "", " _-.")
_TRACK_KEYS = {name.lower().translate(_SEPARATORS): kind for name, kind in TRACK_EVENTS.items()}
_NOT_META = frozenset({"writeKey", "properties", "messageId", "context"})  # a credential, or mapped below
# ...and the id that became user_id (the other one stays in the meta).
_META_SKIP = {key: _NOT_META | {key} for key in ("userId", "anonymousId")}
_PRIVATE_CONTEXT = frozenset({"ip", "userAgent"})  # → ip_address (anonymised) and user_agent
# Keys left out of a message's content id: the SDK sets them anew on every resend.
_RESEND_KEYS = frozenset({"sentAt", "writeKey", "receivedAt"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ORDER_AMOUNT_KEYS = ("revenue", "total", "value")  # an order's amount when it lists no products
_CHECKOUT_AMOUNT_KEYS = ("revenue", "value", "total")


@dataclass(frozen=True, slots=True)
class BatchDefaults:
    """What a batch envelope gives all its messages; its sentAt is parsed once, not per message."""

    context: Mapping[str, Any] | None = None
    integrations: object = None
    sent_at: object = None
    skew: timedelta | None = None  # receivedAt - sentAt


NO_BATCH = BatchDefaults()


def batch_defaults(body: Mapping[str, Any], received_at: datetime) -> BatchDefaults:
    """The envelope's `sentAt`, `context` and `integrations`, which each message may override."""
    context, sent_at = body.get("context"), body.get("sentAt")
    return BatchDefaults(
        context if isinstance(context, dict) and context else None,
        body.get("integrations"),
        sent_at,
        clock_skew(sent_at, received_at),
    )


def clock_skew(sent_at: object, received_at: datetime) -> timedelta | None:
    """receivedAt - sentAt: how far the device clock is behind ours (plus the transit time)."""
    sent = parse_instant(sent_at)
    if sent is None:
        return None
    return received_at - sent


def map_message(
    message: object,
    out: Mapped,
    *,
    received_at: datetime,
    message_type: str | None = None,
    batch: BatchDefaults = NO_BATCH,
) -> None:
    """Append what one Segment message becomes to `out` (`batch`: the envelope's defaults)."""
    if not isinstance(message, dict):
        out.rejected.append((message, FieldError("", NOT_AN_OBJECT, "a Segment message must be a JSON object")))
        return
    kind = message_type or message.get("type")
    own = message.get("context")
    context: dict[str, Any] = own if isinstance(own, dict) else {}
    if batch.context:
        context = {**batch.context, **context}
    sent_at = message.get("sentAt")
    if sent_at is None:
        sent_at, skew = batch.sent_at, batch.skew
    else:
        skew = clock_skew(sent_at, received_at)
    timestamp = corrected_timestamp(message, skew, received_at)
    if kind in IDENTITY_TYPES:
        out.identities.append(_identity(message, kind, context, timestamp, received_at))
        return
    if kind in PAGE_TYPES:
        event_type: str | None = "page_view"
    elif kind == "track":
        event_type = track_event_type(message.get("event"))
        if event_type is None:
            name = f"{message.get('event')!r}"[:120]
            out.rejected.append(unmapped(_public(message), f"Segment track event {name} has no clickstream type"))
            return
    else:
        text = f"Segment message type {kind!r} is not one of track, page, screen, identify, group, alias"
        out.rejected.append(unmapped(_public(message), text[:200]))
        return

    user = message.get("userId")
    user_key = "anonymousId" if is_absent(user) else "userId"
    skip = _META_SKIP[user_key]
    meta = {k: v for k, v in message.items() if k not in skip and v is not None}
    if "ip" in context or "userAgent" in context:
        public = {k: v for k, v in context.items() if k not in _PRIVATE_CONTEXT}
    else:
        public = context
    if public:
        meta["context"] = public
    if sent_at is not None:
        meta["sentAt"] = sent_at
    raw_props = message.get("properties")
    props: dict[str, Any] = dict(raw_props) if isinstance(raw_props, dict) else {}
    if raw_props is not None and not isinstance(raw_props, dict):
        meta["properties"] = raw_props  # not an object: kept as sent
    page = context.get("page")
    page = page if isinstance(page, dict) else {}
    event: dict[str, Any] = {
        "event_id": _message_id(message, received_at),
        "event_type": event_type,
        "user_id": message.get(user_key),
        "session_id": session_id(context, message.get("integrations", batch.integrations)),
        "timestamp": timestamp,
        "referrer": _first(props, "referrer") if kind == "page" else None,
        "user_agent": context.get("userAgent"),
        "ip_address": context.get("ip"),
    }
    if event["referrer"] is None:
        event["referrer"] = page.get("referrer")
    if kind in PAGE_TYPES:
        event["url"] = _first(props, "path") or page.get("path") or _screen_name(kind, message) or _first(props, "url")
        event["url"] = event["url"] or page.get("url")
    else:
        event["url"] = page.get("path")
    if event_type == "purchase":
        out.events.extend(order_lines(event, props, meta))
        return
    if kind == "track":
        _commerce(event, props, event_type)
    props[META_KEY] = meta
    event["properties"] = props
    out.events.append(event)


def track_event_type(name: object) -> str | None:
    """Our type of a track event: the e-commerce spec's names, or one of our own type names."""
    if not isinstance(name, str):
        return None
    kind = _TRACK_KEYS.get(name.lower().translate(_SEPARATORS))
    return kind if kind is not None else canonical_event_type(name)


def corrected_timestamp(message: Mapping[str, Any], skew: timedelta | None, received_at: datetime) -> object:
    """Segment's event time: `timestamp + (receivedAt - sentAt)` (`skew`), cancelling the device clock's offset.

    Epoch milliseconds (validation formats them; cheaper than formatting here and parsing there).
    No timestamp means the receive time; no (parseable) sentAt means the timestamp as sent; a
    timestamp that is not ISO 8601 is passed on unchanged for validation to report.
    """
    raw = message.get("timestamp")
    if raw is None:
        raw = message.get("originalTimestamp")
    if raw is None:
        return epoch_millis(received_at)
    moment = parse_instant(raw)
    if moment is None:
        return raw
    try:
        return epoch_millis(moment if skew is None else moment + skew)
    except OverflowError:
        return raw


def epoch_millis(moment: datetime) -> int:
    """An aware datetime as whole epoch milliseconds, truncated like the stored form (…SS.mmmZ)."""
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def session_id(context: Mapping[str, Any], integrations: object) -> object:
    """`context.sessionId`, else a `session_id` an integration carries (Amplitude's); else None."""
    for key in ("sessionId", "session_id"):
        value = context.get(key)
        if not is_absent(value):
            return value
    if isinstance(integrations, dict):
        for options in integrations.values():
            if isinstance(options, dict):
                value = options.get("session_id", options.get("sessionId"))
                if not is_absent(value):
                    return value
    return None


def order_lines(event: dict[str, Any], props: dict[str, Any], meta: dict[str, Any]) -> list[dict[str, Any]]:
    """An `Order Completed` as purchase events: one per product (its price and quantity), sharing the order id.

    An order without products is one line whose price is the order's revenue (else total, else
    value). Order-level properties (revenue, tax, shipping...) are kept on every line.
    """
    products = props.get("products")
    base = {k: v for k, v in props.items() if k != "products"}
    lines: list[object] = list(products) if isinstance(products, list) and products else [None]
    if products is not None and not isinstance(products, list):
        base["products"] = products  # not a list: kept as sent
    order_id, currency, message_id = props.get("order_id"), props.get("currency"), event["event_id"]
    out: list[dict[str, Any]] = []
    for line, product in enumerate(lines):
        line_props = dict(base)
        line_meta = meta
        item: Mapping[str, Any] = {}
        if product is None:
            price: object = _first(props, *_ORDER_AMOUNT_KEYS)
        else:
            line_props["product"] = product
            line_meta = {**meta, "line": line, "lines": len(lines)}
            item = product if isinstance(product, dict) else {}
            price = item.get("price")
        line_props[META_KEY] = line_meta
        out.append(
            {
                **event,
                "event_id": message_id if len(lines) == 1 else line_event_id(str(message_id), line),
                "product_id": _first(item, "product_id", "id", "sku"),
                "order_id": order_id,
                "currency": item.get("currency") or currency,
                "price": price,
                "quantity": item.get("quantity"),
                "properties": line_props,
            }
        )
    return out


def _message_id(message: Mapping[str, Any], received_at: datetime) -> object:
    value = message.get("messageId")
    if not is_absent(value):
        return value
    has_time = message.get("timestamp") is not None or message.get("originalTimestamp") is not None
    return content_event_id(
        message, ignore=_RESEND_KEYS, received_text=None if has_time else format_timestamp(received_at)
    )


def _commerce(event: dict[str, Any], props: Mapping[str, Any], event_type: str | None) -> None:
    event["product_id"] = _first(props, "product_id", "id", "sku")
    event["order_id"] = props.get("order_id")
    event["currency"] = props.get("currency")
    event["quantity"] = props.get("quantity")
    price = props.get("price")
    if price is None and event_type == "checkout":
        price = _first(props, *_CHECKOUT_AMOUNT_KEYS)
    event["price"] = price


def _identity(
    message: dict[str, Any], kind: str, context: dict[str, Any], timestamp: object, received_at: datetime
) -> dict[str, Any]:
    payload = _public(message)
    if "ip" in context:
        payload["context"] = {**context, "ip": _anonymised(context["ip"])}
    return {
        "protocol": PROTOCOL,
        "type": kind,
        "message_id": json_safe(_message_id(message, received_at)),  # the dedup key of a resent request
        "user_id": json_safe(message.get("userId")),
        "anonymous_id": json_safe(message.get("anonymousId")),
        "group_id": json_safe(message.get("groupId")),
        "previous_id": json_safe(message.get("previousId")),
        "timestamp": format_timestamp(_EPOCH + timedelta(milliseconds=timestamp))
        if isinstance(timestamp, int)
        else json_safe(timestamp),
        "received_at": format_timestamp(received_at),
        "payload": json_safe(payload),
    }


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """The message without its write key (a credential is never stored)."""
    return {k: v for k, v in message.items() if k != "writeKey"}


def _anonymised(ip: object) -> object:
    try:
        return anonymise_ip(ip) if isinstance(ip, str) else None
    except ValueError:
        return None


def _first(values: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = values.get(key)
        if not is_absent(value):
            return value
    return None


def _screen_name(kind: str, message: Mapping[str, Any]) -> Any:
    return message.get("name") if kind == "screen" else None
