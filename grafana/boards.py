"""The five dashboards, by file name under grafana/dashboards/: Real-time, Engagement, Commerce & funnel,
Errors, Pipeline health (panels in boards_live.py and boards_lake.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from grafana.boards_lake import commerce, engagement
from grafana.boards_live import errors, pipeline, realtime
from grafana.panels import Board

BOARDS: Final[dict[str, Callable[[], Board]]] = {
    "realtime": realtime,
    "engagement": engagement,
    "commerce": commerce,
    "errors": errors,
    "pipeline": pipeline,
}
