"""How one validated event travels on the stream and sits in the raw archive: one JSON object.

Stream records and NDJSON lines use the same bytes, so the archiver writes what it reads.
"""

from __future__ import annotations

from typing import Any

import orjson


def encode_event(event: dict[str, Any]) -> bytes:
    """Compact JSON bytes for one normalised event (no trailing newline)."""
    return orjson.dumps(event)


def decode_event(data: bytes | str) -> dict[str, Any]:
    """Inverse of `encode_event`; raises ValueError (orjson.JSONDecodeError) on bad bytes."""
    value = orjson.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value
