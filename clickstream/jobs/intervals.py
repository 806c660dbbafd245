"""Which hours and days a batch run covers: pure helpers the DAGs call (kept out of the DAG files)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from clickstream.constants import ENV_ARCHIVE_SETTLE, ENV_BATCH_START

DEFAULT_ARCHIVE_SETTLE_SECONDS = 120  # the local archiver's flush age, with margin


def batch_start(env: Mapping[str, str] = os.environ, *, today: datetime | None = None) -> datetime:
    """compact_raw_events' start_date: $CLICKSTREAM_BATCH_START, else 00:00 UTC yesterday (stable all day)."""
    raw = env.get(ENV_BATCH_START, "").strip()
    if raw:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"{ENV_BATCH_START}={raw!r}: expected an ISO date such as 2026-11-20") from exc
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    now = today or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def archive_settle_seconds(env: Mapping[str, str] = os.environ) -> int:
    """How long after an hour ends its raw objects keep landing: $CLICKSTREAM_ARCHIVE_SETTLE_SECONDS."""
    raw = env.get(ENV_ARCHIVE_SETTLE, "").strip()
    try:
        return int(raw) if raw else DEFAULT_ARCHIVE_SETTLE_SECONDS
    except ValueError as exc:
        raise ValueError(f"{ENV_ARCHIVE_SETTLE}={raw!r}: expected whole seconds, such as 120") from exc


def run_interval(
    start: datetime | None, end: datetime | None, conf: Mapping[str, Any] | None
) -> tuple[datetime, datetime]:
    """The run's data interval, or the one a manual run names in its conf
    ({"interval_start": ISO, "interval_end": ISO}): how `clickstream airflow run` (and an operator
    re-compacting one hour from the UI's "Trigger DAG w/ config") compacts an hour that has not
    closed yet — a scheduled run's logical date would lie in the future."""
    if not conf or "interval_start" not in conf:
        if start is None or end is None:
            raise ValueError(
                "this run has no data interval: trigger it with a logical date, or with the conf "
                '{"interval_start": "<ISO>", "interval_end": "<ISO>"}'
            )
        return start, end
    try:
        named = [
            datetime.fromisoformat(str(conf[k]).replace("Z", "+00:00")) for k in ("interval_start", "interval_end")
        ]
    except (KeyError, ValueError) as exc:
        raise ValueError(f"conf {dict(conf)!r}: expected ISO interval_start and interval_end") from exc
    return named[0].astimezone(UTC), named[1].astimezone(UTC)


def touched_days(extras: Iterable[Mapping[str, Any]]) -> list[date]:
    """Sorted distinct days of the (dt, hour) partitions listed in compaction asset-event extras."""
    return sorted({date.fromisoformat(str(p[0])) for extra in extras for p in extra.get("partitions") or ()})


def day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Runs of consecutive days as inclusive (first, last) pairs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def requested_days(params: Mapping[str, Any], extras: Iterable[Mapping[str, Any]]) -> list[date]:
    """The manual trigger's [start_date, end_date] when given, else the days the events touched."""
    start, end = params.get("start_date"), params.get("end_date")
    if start:
        first, last = date.fromisoformat(start), date.fromisoformat(end or start)
        if last < first:
            raise ValueError(f"end_date {last} is before start_date {first}")
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return touched_days(extras)


def reconcile_range(params: Mapping[str, Any], extras: Iterable[Mapping[str, Any]]) -> tuple[date, date] | None:
    """(first, last) day to reconcile: the manual trigger's dates, else the span of the events' days."""
    if params.get("start_date"):
        first = date.fromisoformat(params["start_date"])
        return first, date.fromisoformat(params.get("end_date") or params["start_date"])
    days = sorted({date.fromisoformat(str(d)) for extra in extras for d in extra.get("days") or ()})
    return (days[0], days[-1]) if days else None
