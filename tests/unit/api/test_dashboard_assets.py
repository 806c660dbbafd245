"""The dashboard's script asks the stream for what the API gives: a constant in JavaScript, checked here."""

from __future__ import annotations

import re
from pathlib import Path

from clickstream.api.recent import MAX_RECENT

SCRIPT = Path(__file__).parents[3] / "clickstream" / "api" / "static" / "dashboard.js"


def constant(name: str) -> str:
    found = re.search(rf"const {name} = ([^;]+);", SCRIPT.read_text(encoding="utf-8"))
    assert found, f"{name} not found in {SCRIPT}"
    return found.group(1)


def test_the_page_asks_for_as_many_recent_events_as_the_stream_gives() -> None:
    # Fewer: a slow tick spans more new events than a message carries and some never show.
    # More: /v1/stream answers 422 and the page falls back to polling.
    assert int(constant("FEED_LIMIT")) == MAX_RECENT


def test_the_page_remembers_more_ids_than_it_shows_or_receives() -> None:
    assert int(constant("SEEN_MAX")) >= max(int(constant("FEED_MAX")), MAX_RECENT)
