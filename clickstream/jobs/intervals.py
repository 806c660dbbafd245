"""Which interval a batch run covers: pure helpers the DAGs share (kept out of the DAG files)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


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
