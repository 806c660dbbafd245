"""Snowplow tracker events → our raw events (docs/SDKS.md has the table). Pure.

`map_events` takes the events of one request (`payload_data` items, or a pixel's query
parameters) once `snowplow` has read the request and checked the write key.

- `eid` is the event id; the time is `ttm` if the app set it, else `dtm + (received - stm)`
  (the device clock's offset cancels out); `user_id` is `uid`, else `duid`, else the network id.
- `url` is stored as its path (the full URL stays in `properties._snowplow.url`); every other
  parameter except `ip` (anonymised into `ip_address`), `ua`, `aid` and the encoded payloads
  stays in `properties._snowplow`, contexts (`cx`/`co`) decoded.
- Page pings are `scroll` events worth one ping interval of engagement (`duration_ms`); a
  transaction's items are purchase lines, and its header (`tr`) is folded into the lines of
  the same request. Events with no clickstream type are kept as bad rows `unmapped_event`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from clickstream.collector.protocols import Mapped, content_event_id, drop_empty, line_event_id, parse_millis, unmapped
from clickstream.events.fields import FieldError
from clickstream.events.normalise import canonical_event_type, is_absent
from clickstream.events.schema import INVALID_VALUE, NOT_AN_OBJECT
from clickstream.events.timestamps import format_timestamp

META_KEY = "_snowplow"
# Trackers send a page ping every `heartbeatDelay` seconds of activity; the interval is not in
# the payload, so each ping counts as this much engaged time (the JS tracker's usual setting).
DEFAULT_PING_INTERVAL_MS = 10_000

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
