"""The same simulator events as native batches and as Segment batches, 100 per request. Pure.

Each event becomes the Segment message an SDK would send for it (`page` for a page view, the
e-commerce spec's `track` names for commerce, our type name for the rest), so both routes
receive the same events, one message per event, and every message maps to a valid event.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from clickstream.collector.segment_mapping import TRACK_EVENTS

BATCH_SIZE = 100  # the SDKs' default flush size (upload_size=100)
_TRACK_NAMES = {kind: name for name, kind in TRACK_EVENTS.items()}
_COMMERCE_FIELDS = ("product_id", "price", "quantity", "currency", "order_id")
_EXTRA_FIELDS = ("http_status", "duration_ms")


def segment_message(event: dict[str, Any]) -> dict[str, Any]:
    """The Segment message for one of our raw events (messageId = event_id)."""
    kind = event["event_type"]
    context: dict[str, Any] = {"ip": event.get("ip_address"), "userAgent": event.get("user_agent")}
    context["sessionId"] = event.get("session_id")
    props = dict(event.get("properties") or {})
    props.update({k: event[k] for k in _EXTRA_FIELDS if event.get(k) is not None})
    message: dict[str, Any] = {
        "messageId": event["event_id"],
        "userId": event["user_id"],
        "timestamp": event["timestamp"],
    }
    if kind == "page_view":
        props.update(path=event.get("url"), referrer=event.get("referrer"))
        return {"type": "page", **message, "properties": props, "context": context}
    context["page"] = {"path": event.get("url")}
    commerce = {k: event[k] for k in _COMMERCE_FIELDS if event.get(k) is not None}
    if kind == "purchase":
        line = {k: commerce.pop(k) for k in ("product_id", "price", "quantity") if k in commerce}
        props.update(commerce, products=[line])
    else:
        props.update(commerce)
    name = _TRACK_NAMES.get(kind, kind)  # scroll: our own type name, which the mapping accepts
    return {"type": "track", "event": name, **message, "properties": props, "context": context}


def native_batches(events: Sequence[dict[str, Any]]) -> list[bytes]:
    """`{"events": [...]}` bodies of BATCH_SIZE events for /v1/events."""
    return [orjson.dumps({"events": list(events[i : i + BATCH_SIZE])}) for i in range(0, len(events), BATCH_SIZE)]


def segment_batches(events: Sequence[dict[str, Any]], *, sent_at: str) -> list[bytes]:
    """`{"batch": [...], "sentAt": ...}` bodies of BATCH_SIZE messages for /segment/v1/batch."""
    messages = [segment_message(e) for e in events]
    return [
        orjson.dumps({"batch": messages[i : i + BATCH_SIZE], "sentAt": sent_at})
        for i in range(0, len(messages), BATCH_SIZE)
    ]


def save(bodies: Sequence[bytes], sizes: Sequence[int], path: Path) -> None:
    """The load generator's fixture file (benchmarks.ingest.loadgen reads `batches`/`batch_sizes`)."""
    data = {"batches": list(bodies), "batch_sizes": list(sizes), "singles": [], "records": []}
    path.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
