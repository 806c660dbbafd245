"""Event-time windows (UTC): minute, hour and day, and their sort keys `<m|h|d>#<window start>`.

Timestamps arrive in the stored form of the event contract, "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC,
fixed width), so a window start is a prefix of the text: no parsing on the hot path, and text
order is time order. Sort keys read "m#2026-11-22T14:03:00Z", "h#2026-11-22T14:00:00Z",
"d#2026-11-22T00:00:00Z"; a Query with a prefix of one ("m#2026-11-22T14") lists a range.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final

MINUTE: Final = "m"
HOUR: Final = "h"
DAY: Final = "d"
RESOLUTIONS: Final[tuple[str, ...]] = (MINUTE, HOUR, DAY)
LENGTH_SECONDS: Final[dict[str, int]] = {MINUTE: 60, HOUR: 3600, DAY: 86400}
# How long a window's items live after the window starts (DynamoDB TTL); day windows stay.
TTL_SECONDS: Final[dict[str, int | None]] = {MINUTE: 7 * 86400, HOUR: 90 * 86400, DAY: None}

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def window_sks(timestamp: str) -> tuple[str, str, str]:
    """The minute, hour and day sort keys of a stored-form timestamp.

    >>> window_sks("2026-11-22T14:03:59.999Z")
    ('m#2026-11-22T14:03:00Z', 'h#2026-11-22T14:00:00Z', 'd#2026-11-22T00:00:00Z')
    """
    return _sks_of_minute(timestamp[:16])


@lru_cache(maxsize=4096)
def _sks_of_minute(minute: str) -> tuple[str, str, str]:
    return f"m#{minute}:00Z", f"h#{minute[:13]}:00:00Z", f"d#{minute[:10]}T00:00:00Z"


def minute_sks(minute: str) -> tuple[str, str, str]:
    """`window_sks` of a timestamp's first 16 characters ("YYYY-MM-DDTHH:MM"); cached."""
    return _sks_of_minute(minute)


def sk_of(resolution: str, moment: datetime) -> str:
    """The sort key of the `resolution` window holding `moment` (naive = UTC)."""
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    return _sks_of_minute(text)[RESOLUTIONS.index(resolution)]


def resolution_of(sk: str) -> str:
    return sk[0]


@lru_cache(maxsize=4096)
def window_start(sk: str) -> int:
    """Epoch seconds of the window's start."""
    moment = datetime.strptime(sk[2:], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(seconds=1)


def window_end(sk: str) -> int:
    """Epoch seconds of the window's end (exclusive)."""
    return window_start(sk) + LENGTH_SECONDS[resolution_of(sk)]


def expires_at(sk: str) -> int | None:
    """The DynamoDB TTL (epoch seconds) of a window's items: minute 7 days, hour 90 days, day never."""
    ttl = TTL_SECONDS[resolution_of(sk)]
    return None if ttl is None else window_start(sk) + ttl
