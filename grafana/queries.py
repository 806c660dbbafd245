"""What the dashboards share: the dashboard-range filters of Athena SQL, the variables, and checked names.

Every Athena query bounds the day partitions (`dt`, strings 'YYYY-MM-DD') as well as the time, so
Athena scans only the dashboard's days.
"""

from __future__ import annotations

from typing import Any, Final

from clickstream.api.serving import METRICS
from clickstream.catalog import METRIC_TABLE_PREFIX
from grafana.panels import api_series, custom_variable

# The dashboard's days, as the string partition values dt='YYYY-MM-DD' (Athena prunes on them).
DT_RANGE: Final = "dt BETWEEN date_format($__timeFrom(), '%Y-%m-%d') AND date_format($__timeTo(), '%Y-%m-%d')"
DAY_TIME: Final = "date_parse(dt, '%Y-%m-%d') AS time"
GRANULARITY: Final = custom_variable("granularity", "Granularity", ["minute", "hour", "day"], "minute")
HOURLY: Final = custom_variable("granularity", "Granularity", ["hour", "day"], "hour")


def metric_table(name: str) -> str:
    return f"{METRIC_TABLE_PREFIX}{name}"


def api_metric(metric: str, **kw: Any) -> dict[str, Any]:
    if metric not in METRICS:
        raise KeyError(f"the API has no metric {metric!r} (clickstream/api/serving.py METRICS)")
    return api_series(metric, **kw)


def stats_range() -> dict[str, str]:
    return {"from": "${__from:date:seconds}", "to": "${__to:date:seconds}"}
