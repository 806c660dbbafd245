"""The parts the dashboards and alert rules are built from: datasource references, queries, panels, `Board`.

`grafana/boards_*.py` and `grafana/alerts.py` compose these; `grafana/build.py` renders them into the
files Grafana reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

ATHENA: Final = {"type": "grafana-athena-datasource", "uid": "clickstream-athena"}
API: Final = {"type": "yesoreyeram-infinity-datasource", "uid": "clickstream-api"}
PROMETHEUS: Final = {"type": "prometheus", "uid": "clickstream-prometheus"}
DATASOURCES: Final = (ATHENA, API, PROMETHEUS)
FOLDER: Final = "clickstream"
TAGS: Final = ["clickstream"]
SCHEMA_VERSION: Final = 39
PANEL_TYPES: Final = frozenset({"timeseries", "stat", "table", "piechart", "bargauge", "barchart", "gauge", "row"})
ATHENA_REUSE_MINUTES: Final = 5  # Athena query result reuse: refreshes within 5 min cost no scan


# --- queries ---------------------------------------------------------------------------------------


def athena(sql: str, *, time_series: bool = False, ref: str = "A") -> dict[str, Any]:
    """An Athena query (plugin query model: rawSQL, format 0 = time series, 1 = table)."""
    return {
        "refId": ref,
        "datasource": dict(ATHENA),
        "format": 0 if time_series else 1,
        "rawSQL": _dedent(sql),
        "connectionArgs": {
            "region": "__default",
            "catalog": "__default",
            "database": "__default",
            "resultReuseEnabled": True,
            "resultReuseMaxAgeInMinutes": ATHENA_REUSE_MINUTES,
        },
    }


def api_series(
    metric: str, *, label: str, dimension: str = "all", granularity: str = "$granularity", ref: str = "A"
) -> dict[str, Any]:
    """GET /v1/metrics/{metric} over the dashboard's range: one row per window (start, value)."""
    return infinity(
        f"/v1/metrics/{metric}",
        params={
            "dimension": dimension,
            "granularity": granularity,
            "from": "${__from:date:seconds}",
            "to": "${__to:date:seconds}",
        },
        root="points",
        columns=[("start", "time", "timestamp"), ("value", label, "number")],
        time_series=True,
        ref=ref,
    )


def infinity(
    path: str,
    *,
    params: Mapping[str, str],
    root: str,
    columns: Sequence[tuple[str, str, str]],
    time_series: bool = False,
    ref: str = "A",
) -> dict[str, Any]:
    """An Infinity JSON query against the query API (base URL and read-key header come from the datasource)."""
    return {
        "refId": ref,
        "datasource": dict(API),
        "type": "json",
        "source": "url",
        "parser": "backend",  # server-side parsing: needed for alerting and recorded queries
        "format": "timeseries" if time_series else "table",
        "url": path,
        "url_options": {"method": "GET", "params": [{"key": k, "value": v} for k, v in params.items()]},
        "root_selector": root,
        "columns": [{"selector": s, "text": t, "type": kind} for s, t, kind in columns],
    }


def prom(expr: str, *, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": dict(PROMETHEUS),
        "expr": _dedent(expr),
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }


def _dedent(text: str) -> str:
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(x[indent:] for x in lines)


# --- panels and dashboards ---------------------------------------------------------------------------


def panel(
    kind: str,
    title: str,
    targets: Sequence[dict[str, Any]],
    *,
    description: str = "",
    unit: str = "",
    options: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    w: int = 8,
    h: int = 8,
) -> dict[str, Any]:
    if kind not in PANEL_TYPES:
        raise ValueError(f"panel type {kind!r}: add it to PANEL_TYPES once the tests know it")
    field_defaults: dict[str, Any] = {**(defaults or {})}
    if unit:
        field_defaults["unit"] = unit
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": dict(targets[0]["datasource"]) if targets else None,
        "targets": list(targets),
        "fieldConfig": {"defaults": field_defaults, "overrides": []},
        "options": dict(options or {}),
        "gridPos": {"x": 0, "y": 0, "w": w, "h": h},
    }


def stat(title: str, target: dict[str, Any], **kw: Any) -> dict[str, Any]:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "value",
        "graphMode": "area",
        "textMode": "auto",
    }
    return panel("stat", title, [target], options=options, w=kw.pop("w", 4), h=kw.pop("h", 4), **kw)


def timeseries(title: str, targets: Sequence[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    options = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    defaults = {"custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "spanNulls": True}}
    return panel("timeseries", title, targets, options=options, defaults=defaults, **kw)


def table(title: str, target: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return panel("table", title, [target], options={"showHeader": True, "cellHeight": "sm"}, **kw)


@dataclass
class Board:
    """A dashboard: panels are laid out left to right in rows of 24 grid units, in the order added."""

    uid: str
    title: str
    description: str
    refresh: str = "10s"
    time_from: str = "now-24h"
    variables: list[dict[str, Any]] = field(default_factory=list)
    panels: list[dict[str, Any]] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_h: int = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"x": 0, "y": self._y, "w": 24, "h": 1},
            }
        )
        self._y += 1

    def add(self, *panels: dict[str, Any]) -> None:
        for p in panels:
            pos = p["gridPos"]
            if self._x + pos["w"] > 24:
                self._newline()
            pos["x"], pos["y"] = self._x, self._y
            self._x += pos["w"]
            self._row_h = max(self._row_h, pos["h"])
            self.panels.append(p)

    def _newline(self) -> None:
        self._y += self._row_h
        self._x, self._row_h = 0, 0

    def render(self) -> dict[str, Any]:
        panels = [{**p, "id": i} for i, p in enumerate(self.panels, start=1)]
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": TAGS,
            "timezone": "utc",
            "editable": False,
            "graphTooltip": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m"]},
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "templating": {"list": self.variables},
            "annotations": {"list": []},
            "links": [{"title": "clickstream", "type": "dashboards", "tags": TAGS, "asDropdown": True}],
            "panels": panels,
        }


def custom_variable(name: str, label: str, values: Sequence[str], default: str) -> dict[str, Any]:
    return {
        "type": "custom",
        "name": name,
        "label": label,
        "query": ",".join(values),
        "current": {"text": default, "value": default},
        "options": [{"text": v, "value": v, "selected": v == default} for v in values],
        "hide": 0,
    }
