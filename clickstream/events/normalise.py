"""The shapes older clickstream tools send, mapped onto schema v1: envelopes, aliases, legacy fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clickstream.events.schema import ALIASES, EVENT_TYPES

ENVELOPE_KEYS: tuple[str, ...] = ("records", "events", "batch")
# Legacy trackers put the page and referrer in properties; they are lifted to the top level.
LEGACY_URL_KEYS: tuple[str, ...] = ("url", "page")
LEGACY_REFERRER_KEY = "referrer"

# "page_view", "PAGE-VIEW", "Page View" and "pageview" all name the same type.
_EVENT_TYPE_KEYS: dict[str, str] = {name.replace("_", ""): name for name in EVENT_TYPES}
_CANONICAL_EVENT_TYPES: frozenset[str] = frozenset(EVENT_TYPES)
_EVENT_TYPE_SEPARATORS = str.maketrans("", "", "_- .")


class EnvelopeError(ValueError):
    """The request body is not one of the accepted shapes (see `extract_events`)."""


def extract_events(body: object) -> list[object]:
    """The events inside one request body, unvalidated.

    Accepted shapes: a JSON array of events; an object with a `records`, `events` or `batch`
    array; a single event object (any other object, returned as a one-element list).
    Raises EnvelopeError for anything else (a string, a number, null, or an envelope key whose
    value is not an array).
    """
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ENVELOPE_KEYS:
            if key in body:
                inner = body[key]
                if isinstance(inner, list):
                    return inner
                raise EnvelopeError(f"{key!r} must be an array of events, got {json_type(inner)}; {_ACCEPTED}")
        return [body]
    raise EnvelopeError(f"request body is {json_type(body)}; {_ACCEPTED}")


_ACCEPTED = (
    'send a JSON array of events, {"records": [...]}, {"events": [...]}, {"batch": [...]} or a single event object'
)


def canonical_event_type(value: str) -> str | None:
    """The EVENT_TYPES name `value` spells, ignoring case and separators; None if unknown."""
    if value in _CANONICAL_EVENT_TYPES:  # fast path: already canonical
        return value
    return _EVENT_TYPE_KEYS.get(value.lower().translate(_EVENT_TYPE_SEPARATORS))


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def normalise_url(url: str | None) -> str | None:
    """A path sent without its leading slash (`products/1`, as some older tools send it) gets one.

    A URL with a scheme (`https://shop.example/x`, `about:blank`) or one that is already rooted
    (`/x`, `//cdn/x`, `?q=1`, `#top`) is kept as sent. The collector stores the result, so every
    layer (speed counters, curated table, metrics) reads the same URL."""
    if not url or url.startswith(("/", "?", "#")) or _SCHEME.match(url):
        return url
    return f"/{url}"


def is_absent(value: object) -> bool:
    """None and blank strings mean "not sent" (trackers send "" for an unknown referrer)."""
    return value is None or (isinstance(value, str) and (not value or value.isspace()))


def pick(raw: Mapping[Any, Any], field: str) -> tuple[object, str]:
    """The value of `field` or of its first alias that is not absent, and the key it came from.

    Returns (None, field) when neither is set.
    """
    value = raw.get(field)
    if value is not None and (value.__class__ is not str or (value and not value.isspace())):  # is_absent, inlined
        return value, field
    for alias in ALIASES.get(field, ()):
        value = raw.get(alias)
        if not is_absent(value):
            return value, alias
    return None, field


def lift_legacy_properties(
    properties: dict[str, Any], *, want_url: bool, want_referrer: bool
) -> dict[str, tuple[object, str]]:
    """Move a legacy `properties.url`/`properties.page` and `properties.referrer` to the top level.

    The caller asks only for the fields the event lacks at the top level (aliases included);
    a property is lifted only when it is a non-blank string, and is then removed from
    `properties` (a copy the caller owns), leaving the rest intact. Returns
    {field: (value, "properties.<key>")} for what was lifted.
    """
    lifted: dict[str, tuple[object, str]] = {}
    if want_url:
        for key in LEGACY_URL_KEYS:
            if isinstance(properties.get(key), str) and not is_absent(properties[key]):
                lifted["url"] = (properties.pop(key), f"properties.{key}")
                break
    if want_referrer:
        value = properties.get(LEGACY_REFERRER_KEY)
        if isinstance(value, str) and not is_absent(value):
            lifted["referrer"] = (properties.pop(LEGACY_REFERRER_KEY), f"properties.{LEGACY_REFERRER_KEY}")
    return lifted


def json_type(value: object) -> str:
    """How a value reads in an error message: "null", "a string", "an array", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
