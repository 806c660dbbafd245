"""HTTP errors in a session: a 404 on a dead product page, a 500 on search or checkout. Pure.

An error page view is slipped in between two events of a session, in the context of what the
shopper does next: about to search, the search page fails; about to check out or pay, the
checkout fails (and the shopper retries: the next event is the successful attempt); otherwise
they followed an old link to a discontinued product.
"""

from __future__ import annotations

import random
from typing import Any

from clickstream.simulate.catalog import CHECKOUT_URL, SEARCH_URL, SITE_URL, Catalog
from clickstream.simulate.ids import uuid4

Event = dict[str, Any]


def inject_errors(events: list[Event], rng: random.Random, catalog: Catalog, *, error_rate: float) -> list[Event]:
    """`events` with error page views added so that about `error_rate` of the result are errors."""
    # One error after each event with probability p gives errors / all events = p / (1 + p).
    p = error_rate / (1.0 - error_rate)
    out: list[Event] = []
    for i, event in enumerate(events):
        out.append(event)
        if rng.random() < p:
            out.append(error_view(event, events[i + 1] if i + 1 < len(events) else None, rng, catalog))
    return out


def error_view(before: Event, after: Event | None, rng: random.Random, catalog: Catalog) -> Event:
    """A failed page load between `before` and `after` (None: the session's last event)."""
    t0 = before["timestamp"]
    if after is None:
        at, duration = t0 + rng.uniform(1.0, 8.0), rng.uniform(1.0, 6.0)
    else:
        at = t0 + (after["timestamp"] - t0) * rng.uniform(0.2, 0.8)
        duration = after["timestamp"] - at
    next_url = after["url"] if after is not None else ""
    next_type = after["event_type"] if after is not None else ""
    properties: dict[str, Any] = {"page_type": "error"}
    product_id = None
    if next_url == CHECKOUT_URL or next_type in ("checkout", "purchase"):
        url, status = CHECKOUT_URL, 500
    elif next_url == SEARCH_URL or next_type == "search":
        url, status = SEARCH_URL, 500
        if after is not None and "query" in after.get("properties", {}):
            properties["query"] = after["properties"]["query"]
    else:
        dead = catalog.dead_product(rng)
        url, status, product_id = dead.url, 404, dead.product_id
    event: Event = {
        "event_id": uuid4(rng),
        "event_type": "page_view",
        "user_id": before["user_id"],
        "session_id": before["session_id"],
        "timestamp": at,
        "url": url,
        "referrer": SITE_URL + before["url"],
        "user_agent": before["user_agent"],
        "ip_address": before["ip_address"],
        "http_status": status,
    }
    if product_id is not None:
        event["product_id"] = product_id
    event["duration_ms"] = int(duration * 1000)
    event["properties"] = properties
    return event
