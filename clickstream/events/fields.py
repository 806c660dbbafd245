"""Coercion of single field values, for `validate.py`.

Each coercer takes the raw value, the canonical field name and the key the client used (an
alias or the field itself), and returns the normalised value, or None after appending a
FieldError to `errors`. The good path raises and catches nothing: validation runs per event
on the collector's hot path, and a try/except that fires costs more than the whole check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clickstream.events.normalise import json_type
from clickstream.events.schema import (
    INVALID_TYPE,
    INVALID_VALUE,
    MISSING,
    OUT_OF_RANGE,
    TOO_LARGE,
)

_MAX_ID_BITS = 512  # an int this wide is already > 150 digits: longer than any id limit
_SHOW_CHARS = 80


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem of one event: the field, a stable reason code (schema.REASONS) and a human message."""

    field: str  # canonical field name; "" for the whole event
    reason: str
    message: str


def fail(errors: list[FieldError], field: str, key: str, reason: str, text: str) -> None:
    """Record an error; the message names the key the client sent when it was an alias."""
    label = field or "event"
    if key != field:
        label = f"{field} (sent as {key!r})"
    errors.append(FieldError(field, reason, f"{label}: {text}"))


def show(value: object) -> str:
    """A short, safe repr of a scalar for messages (bad rows keep the full value anyway)."""
    if isinstance(value, str):
        return repr(value[:_SHOW_CHARS]) + ("..." if len(value) > _SHOW_CHARS else "")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _MAX_ID_BITS:
        return f"<an integer of {value.bit_length()} bits>"
    if isinstance(value, int | float):
        return repr(value)
    return json_type(value)


def text(
    value: object,
    field: str,
    key: str,
    errors: list[FieldError],
    *,
    max_chars: int,
    required: bool = False,
    numbers: bool = False,
) -> str | None:
    """A string of at most `max_chars`; blank means absent; with `numbers`, 42 becomes "42"."""
    if isinstance(value, str):
        if not value or value.isspace():
            if required:
                fail(errors, field, key, INVALID_VALUE, "must not be empty")
            return None
        if len(value) > max_chars:
            fail(errors, field, key, TOO_LARGE, f"{len(value)} characters; at most {max_chars} allowed")
            return None
        return value
    if value is None:
        if required:
            fail(errors, field, key, MISSING, "missing; this field is required")
        return None
    if numbers and not isinstance(value, bool):
        if isinstance(value, int):
            if value.bit_length() <= _MAX_ID_BITS:
                return text(str(value), field, key, errors, max_chars=max_chars, required=required)
            fail(errors, field, key, TOO_LARGE, f"{show(value)} is longer than {max_chars} characters")
            return None
        if isinstance(value, float):
            if not math.isfinite(value):
                fail(errors, field, key, INVALID_VALUE, f"{show(value)} is not a valid identifier")
                return None
            as_text = str(int(value)) if value.is_integer() else repr(value)
            return text(as_text, field, key, errors, max_chars=max_chars, required=required)
    kind = "a string or a number" if numbers else "a string"
    fail(errors, field, key, INVALID_TYPE, f"must be {kind}, got {json_type(value)}")
    return None


def integer(value: object, field: str, key: str, errors: list[FieldError], *, lo: int, hi: int) -> int | None:
    """An int in [lo, hi]; integral floats (404.0) and decimal strings ("404") are accepted."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            number = int(value)
    elif isinstance(value, str):
        number = _decimal_int(value)
    else:
        fail(errors, field, key, INVALID_TYPE, f"must be an integer, got {json_type(value)}")
        return None
    if number is None:
        fail(errors, field, key, INVALID_VALUE, f"{show(value)} is not an integer")
        return None
    if not lo <= number <= hi:
        fail(errors, field, key, OUT_OF_RANGE, f"{show(value)} is outside {lo}..{hi}")
        return None
    return number


def number(value: object, field: str, key: str, errors: list[FieldError], *, lo: float) -> float | None:
    """A finite float ≥ lo; ints and numeric strings ("19.99") are accepted."""
    if isinstance(value, float):
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 1023:  # float() would overflow
            fail(errors, field, key, OUT_OF_RANGE, f"{show(value)} is too large")
            return None
        result = float(value)
    elif isinstance(value, str):
        parsed = decimal_float(value)
        if parsed is None:
            fail(errors, field, key, INVALID_VALUE, f"{show(value)} is not a number")
            return None
        result = parsed
    else:
        fail(errors, field, key, INVALID_TYPE, f"must be a number, got {json_type(value)}")
        return None
    if not math.isfinite(result):
        fail(errors, field, key, INVALID_VALUE, f"{show(value)} is not a finite number")
        return None
    if result < lo:
        fail(errors, field, key, OUT_OF_RANGE, f"{show(value)} is below {lo:g}")
        return None
    return result


def _decimal_int(raw: str) -> int | None:
    stripped = raw.strip()
    digits = stripped[1:] if stripped[:1] in ("-", "+") else stripped
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 20:
        return None
    return int(stripped)


def decimal_float(raw: str) -> float | None:
    """float(raw) for plain decimal strings; None for anything else (float() also takes "1_0")."""
    if "_" in raw or len(raw) > 64:
        return None
    try:
        return float(raw)
    except ValueError:
        return None
