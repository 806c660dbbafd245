"""The live feed's data: each shard's newest accepted events, kept by the speed layer (pure).

Why the speed layer keeps it: the dashboard's feed must show an event within a couple of seconds
of its sending, and the raw archive only has it after a buffer flush (60 s with Firehose, 10 s
locally). So each batch the speed layer applied also refreshes one small item per shard
(`definitions.RECENT_PK`, sk = shard) holding that shard's newest `PER_SHARD` events, reduced to
`FIELDS` (no IP address or user agent: the dashboard is not a log viewer) plus `applied_at`, when
the speed layer applied it. Lists are ordered newest applied first, and readers merge shards the
same way: shards are applied with different lags, so by `received_at` alone an event of a
lagging shard would rank below events the other shard applied earlier, and a reader taking the
N newest would never see it.

The feed is a view, not a count: an event shown twice or missed after a crash costs nothing,
so the write is a plain conditional put (newer batch positions win), not an exactly-once update.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

PER_SHARD: Final = 50  # events kept per shard (an item stays ~15 KB: one write unit per KB)
FIELDS: Final = (
    "event_id",
    "event_type",
    "user_id",
    "session_id",
    "timestamp",
    "received_at",
    "url",
    "http_status",
    "product_id",
    "price",
    "quantity",
    "browser",
    "device",
)


def project(event: Mapping[str, Any]) -> dict[str, Any]:
    """What the feed shows of an event."""
    return {k: event.get(k) for k in FIELDS}


def _newest_first(event: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(event.get("applied_at") or ""), str(event.get("received_at") or ""), str(event.get("timestamp") or ""))


def merge(
    previous: Sequence[Mapping[str, Any]],
    batch: Iterable[Mapping[str, Any]],
    *,
    applied_at: str,
    limit: int = PER_SHARD,
) -> list[dict[str, Any]]:
    """A shard's list after a batch applied at `applied_at` (ISO 8601 UTC): the batch's events
    ahead of the previous list, newest received first among them, each event id once, at most
    `limit`."""
    # Later in the stream = received later; a stable sort keeps stream order among equal times.
    stamped = ({**project(e), "applied_at": applied_at} for e in reversed(list(batch)))
    ordered = sorted(stamped, key=_newest_first, reverse=True)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for event in [*ordered, *previous]:
        event_id = str(event.get("event_id"))
        if event_id in seen:
            continue
        seen.add(event_id)
        out.append(dict(event))
        if len(out) >= limit:
            break
    return out


def newest(lists: Iterable[Sequence[Mapping[str, Any]]], n: int) -> list[dict[str, Any]]:
    """The `n` most recently applied events over several shards' lists (each event id once)."""
    merged = sorted((e for events in lists for e in events), key=_newest_first, reverse=True)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for event in merged:
        event_id = str(event.get("event_id"))
        if event_id not in seen:
            seen.add(event_id)
            out.append(dict(event))
        if len(out) >= n:
            break
    return out
