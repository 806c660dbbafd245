"""Event time: parsing (RFC 3339 or epoch seconds/milliseconds) and the stored UTC text form.

Events are stored as "2025-01-15T10:30:00.123Z" (UTC, milliseconds). Formatting goes through
integer microseconds and a per-second cache of the "YYYY-MM-DDTHH:MM:SS" prefix: `isoformat`
costs ~1 µs, a noticeable share of the per-event budget, and events arrive roughly in order.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from clickstream.events.fields import FieldError, decimal_float, fail, show
from clickstream.events.normalise import json_type
from clickstream.events.schema import (
    EPOCH_MS_THRESHOLD,
    IN_FUTURE,
    INVALID_TYPE,
    INVALID_VALUE,
    MIN_TIMESTAMP,
    OUT_OF_RANGE,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MIN_EPOCH_SECONDS = int(MIN_TIMESTAMP.timestamp())
_MIN_TEXT = MIN_TIMESTAMP.date().isoformat()


class Clock(NamedTuple):
    """What the timestamp rules need to know about one arrival time, computed once per batch."""

    received: datetime  # aware
    received_text: str
    not_after: datetime  # received + allowed clock skew
    not_after_epoch: float


def clock(received_at: datetime, clock_skew_seconds: int) -> Clock:
    """The Clock of `received_at` (naive = UTC) with the allowed skew; cached for the last call."""
    global _last_clock
    last = _last_clock
    if last is not None and last[0] is received_at and last[1] == clock_skew_seconds:
        return last[2]
    received = received_at if received_at.utcoffset() is not None else received_at.replace(tzinfo=UTC)
    not_after = received + timedelta(seconds=clock_skew_seconds)
    result = Clock(received, format_timestamp(received), not_after, not_after.timestamp())
    _last_clock = (received_at, clock_skew_seconds, result)  # one atomic assignment: thread-safe
    return result


_last_clock: tuple[datetime, int, Clock] | None = None


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. "2025-01-15T10:30:00.000Z" (naive = UTC)."""
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return _format_micros((moment - _EPOCH) // _MICROSECOND)


def parse_timestamp(value: object, field: str, key: str, errors: list[FieldError], *, now: Clock) -> str | None:
    """The stored text of an event time, or None after recording why it is unusable.

    Accepts RFC 3339 / ISO 8601 strings (a naive one is UTC), epoch seconds, and epoch
    milliseconds: numbers above EPOCH_MS_THRESHOLD (1e11, the year 5138 in seconds but 1973
    in milliseconds) are milliseconds; numeric strings count as numbers. The instant must be
    ≥ 2000-01-01 (else out_of_range) and ≤ received_at + clock skew (else in_future).
    """
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            epoch = decimal_float(value)
            if epoch is None:
                fail(errors, field, key, INVALID_VALUE, f"{show(value)} is not RFC 3339 or epoch seconds")
                return None
            return _from_epoch(epoch, value, field, key, errors, now)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        if not _in_range(parsed, value, field, key, errors, now):
            return None
        # Already in the stored form (what JavaScript's toISOString() sends): keep the text.
        if len(value) == 24 and value[23] == "Z" and value[19] == "." and value[10] == "T" and value[13] == ":":
            return value
        return format_timestamp(parsed)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value, value, field, key, errors, now)
    if isinstance(value, datetime):  # Python callers (the simulator) may pass datetimes
        moment = value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
        return format_timestamp(moment) if _in_range(moment, value, field, key, errors, now) else None
    fail(errors, field, key, INVALID_TYPE, f"must be an RFC 3339 string or epoch seconds, got {json_type(value)}")
    return None


def _from_epoch(epoch: float, shown: object, field: str, key: str, errors: list[FieldError], now: Clock) -> str | None:
    if isinstance(epoch, float) and not math.isfinite(epoch):
        fail(errors, field, key, INVALID_VALUE, f"{show(shown)} is not a finite number")
        return None
    millis = epoch > EPOCH_MS_THRESHOLD
    # Compared as numbers, never converted first: a huge value would overflow float/datetime.
    if epoch > (now.not_after_epoch * 1000 if millis else now.not_after_epoch):
        fail(errors, field, key, IN_FUTURE, f"{show(shown)} is {_future(now)}")
        return None
    seconds = epoch / 1000 if millis else epoch
    if seconds < _MIN_EPOCH_SECONDS:
        fail(errors, field, key, OUT_OF_RANGE, f"{show(shown)} is before {_MIN_TEXT}")
        return None
    if isinstance(epoch, int):
        return _format_micros(epoch * 1000 if millis else epoch * 1_000_000)
    return _format_micros(round(epoch * 1000) if millis else round(epoch * 1_000_000))


def _in_range(moment: datetime, shown: object, field: str, key: str, errors: list[FieldError], now: Clock) -> bool:
    if moment < MIN_TIMESTAMP:
        fail(errors, field, key, OUT_OF_RANGE, f"{show(shown)} is before {_MIN_TEXT}")
        return False
    if moment > now.not_after:
        fail(errors, field, key, IN_FUTURE, f"{show(shown)} is {_future(now)}")
        return False
    return True


def _future(now: Clock) -> str:
    return f"later than received_at ({now.received_text}) plus the allowed clock skew"


def _format_micros(micros: int) -> str:
    seconds, rest = divmod(micros, 1_000_000)
    return f"{_second_prefix(seconds)}.{rest // 1000:03d}Z"


@lru_cache(maxsize=8192)
def _second_prefix(seconds: int) -> str:
    return (_EPOCH + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat()
