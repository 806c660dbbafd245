"""Constants and factories shared by the event-contract tests (imported by name: no packages here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

RECEIVED = datetime(2025, 1, 15, 10, 31, tzinfo=UTC)
RECEIVED_TEXT = "2025-01-15T10:31:00.000Z"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
DROP = object()  # an override value meaning "remove this key"


def base_event() -> dict[str, Any]:
    """A valid page_view as a modern tracker sends it."""
    return {
        "event_id": "0b5f3c9e-3f4c-4c1a-9d39-5c1e8f1b2a77",
        "event_type": "page_view",
        "user_id": "user_123",
        "session_id": "session_abc",
        "timestamp": "2025-01-15T10:30:00.000Z",
        "url": "/products",
        "user_agent": CHROME_UA,
        "ip_address": "203.0.113.77",
    }


def make_event(**overrides: Any) -> dict[str, Any]:
    """The base event with `overrides` set (or removed, for DROP)."""
    event = base_event()
    for key, value in overrides.items():
        if value is DROP:
            event.pop(key, None)
        else:
            event[key] = value
    return event
