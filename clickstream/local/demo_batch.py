"""The batch half of `make demo`: run the DAGs over the hours the traffic arrived in, then show
what the batch layer computed — curated rows, data quality, the batch metrics, the
reconciliation with the speed layer — and a few Athena queries with their results.

Everything shown is read back from where users read it: run records in the batch table, the
metric tables and the curated `events` table through the query engine (`clickstream query`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from clickstream.settings import Settings

Notify = Callable[[str], None]

# Example queries printed by the demo: what a user would type into `clickstream query` / Athena.
EXAMPLE_QUERIES: dict[str, str] = {
    "top pages": (
        "SELECT url, count(*) AS page_views, count(DISTINCT user_id) AS users FROM events "
        "WHERE event_type = 'page_view' GROUP BY url ORDER BY page_views DESC, url LIMIT 5"
    ),
    "the last hours (UTC)": (
        "SELECT dt, hour, count(*) AS events, count(DISTINCT session_id) AS sessions, "
        "sum(CASE WHEN http_status >= 400 THEN 1 ELSE 0 END) AS errors FROM events "
        "GROUP BY dt, hour ORDER BY dt DESC, hour DESC LIMIT 8"
    ),
    "funnel (sessions per step)": (
        "SELECT dt, sessions, page_view_sessions, add_to_cart_sessions, checkout_sessions, purchase_sessions "
        "FROM metric_funnel ORDER BY dt"
    ),
}
ENGAGEMENT_COLUMNS = ("dt", "sessions", "bounce_rate", "avg_session_duration_ms", "pages_per_session", "ctr")
COMMERCE_COLUMNS = ("dt", "conversion_rate", "cart_abandonment_rate", "revenue", "orders", "aov")


def run_batch(
    settings: Settings, start: datetime, end: datetime, notify: Notify, *, history: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run compact_raw_events for every arrival hour of [start, end), then batch_metrics and
    reconcile_speed_batch, through Airflow (`dag.test`, the code path of a real run).

    The curated counts are of the events received from `start` on (the live part), and of those
    received within the `history` window when there is one."""
    from clickstream.adapters.dynamodb import latest_run
    from clickstream.adapters.query import query_engine
    from clickstream.local.airflow import run_dags

    airflow = run_dags(settings, start, end, home=settings.home / "airflow-demo")
    engine = query_engine(settings)
    try:
        curated = _received(engine, start, None)
        history_curated = _received(engine, _utc(history["start"]), _utc(history["end"])) if history else None
        metrics = {
            "engagement": _rows(
                engine.execute(f"SELECT {', '.join(ENGAGEMENT_COLUMNS)} FROM metric_engagement ORDER BY dt")
            ),
            "commerce": _rows(engine.execute(f"SELECT {', '.join(COMMERCE_COLUMNS)} FROM metric_commerce ORDER BY dt")),
        }
        examples = {title: _table(engine.execute(sql)) | {"sql": sql} for title, sql in EXAMPLE_QUERIES.items()}
    finally:
        engine.close()
    return {
        "airflow": airflow,
        "curated": curated,
        **({"history_curated": history_curated} if history_curated is not None else {}),
        "quality": _quality(settings, start),
        "metrics": metrics,
        "reconciliation": latest_run(settings, "reconcile_speed_batch") or {},
        "examples": examples,
    }


def _received(engine: Any, since: datetime, until: datetime | None) -> dict[str, Any]:
    """Curated events (and distinct ids) received in [since, until)."""
    where = f"received_at >= TIMESTAMP '{since:%Y-%m-%d %H:%M:%S.%f}'"
    if until is not None:
        where += f" AND received_at < TIMESTAMP '{until:%Y-%m-%d %H:%M:%S.%f}'"
    sql = f"SELECT count(*) AS events, count(DISTINCT event_id) AS ids FROM events WHERE {where}"
    return dict(_rows(engine.execute(sql))[0])


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _quality(settings: Settings, since: datetime) -> dict[str, Any]:
    """Summed over this demo's compaction runs (the run records' history in the batch table)."""
    from clickstream.adapters.dynamodb import run_history

    runs = run_history(settings, "compact_raw_events", since=since.isoformat()[:19])
    total: dict[str, Any] = {"runs": len(runs), "failed_runs": sum(r.get("status") != "success" for r in runs)}
    for key in ("raw_rows", "valid", "quarantined", "duplicates", "published"):
        total[key] = int(sum(int(r.get(key) or 0) for r in runs))
    evaluated = total["valid"] + total["quarantined"]
    total["pass_rate"] = round(total["valid"] / evaluated, 4) if evaluated else 1.0
    return total


def _rows(table: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in table.to_pylist()]


def _table(table: Any) -> dict[str, Any]:
    return {"columns": list(table.column_names), "rows": [list(r.values()) for r in table.to_pylist()]}
