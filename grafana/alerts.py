"""Alert rules (Grafana-managed, file-provisioned): error rate, consumer lag, data quality, reconciliation drift,
failed batch jobs. All on the Prometheus datasource: cheap to evaluate every minute, unlike Athena.

Each rule is the usual three steps: A = the PromQL query, B = reduce A to its last value per series,
C = the threshold on B (the rule's condition). No `$` in the text: Grafana expands environment variables
in provisioning files, so a template like `{{ $value }}` would be eaten; the summary states the threshold.
"""

from __future__ import annotations

from typing import Any, Final

from clickstream.api import prometheus as pm
from grafana.panels import FOLDER, PROMETHEUS

EXPRESSIONS_UID: Final = "__expr__"  # Grafana's server-side expressions (reduce, threshold)
ERROR_RATE_MAX: Final = 0.05  # > 5 % of events with http_status >= 400, sustained
CONSUMER_LAG_MAX_S: Final = 300  # the speed layer is 5 minutes behind the stream
PASS_RATE_MIN: Final = 0.95  # compaction quarantines > 5 % (its default max_failure_rate fails the run)
DRIFT_MAX: Final = 0  # counters are exact on both sides: reconciliation's tolerance is 0, any drift is real


def _rule(
    uid: str,
    title: str,
    expr: str,
    op: str,
    threshold: float,
    *,
    for_: str,
    summary: str,
    severity: str,
    window_s: int = 600,
    no_data: str = "OK",
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": window_s, "to": 0},
                "datasourceUid": PROMETHEUS["uid"],
                "model": {"refId": "A", "expr": expr, "instant": True, "range": False, "intervalMs": 15000},
            },
            {
                "refId": "B",
                "datasourceUid": EXPRESSIONS_UID,
                "model": {
                    "refId": "B",
                    "type": "reduce",
                    "expression": "A",
                    "reducer": "last",
                    "settings": {"mode": "dropNN"},
                },
            },
            {
                "refId": "C",
                "datasourceUid": EXPRESSIONS_UID,
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "B",
                    "conditions": [{"evaluator": {"type": op, "params": [threshold]}}],
                },
            },
        ],
        "noDataState": no_data,
        "execErrState": "Error",
        "for": for_,
        "annotations": {"summary": summary},
        "labels": {"team": "clickstream", "severity": severity},
        "isPaused": False,
    }


def alert_rules() -> dict[str, Any]:
    rules = [
        _rule(
            "clickstream-error-rate",
            "Error rate above 5 %",
            f'avg_over_time({pm.ERROR_RATE}{{window="last_minute"}}[5m])',
            "gt",
            ERROR_RATE_MAX,
            for_="5m",
            summary="More than 5 % of events had http_status >= 400 over the last 5 minutes.",
            severity="warning",
        ),
        _rule(
            "clickstream-consumer-lag",
            "Speed layer lagging",
            f"max({pm.CONSUMER_LAG_SECONDS})",
            "gt",
            CONSUMER_LAG_MAX_S,
            for_="5m",
            summary="The newest record the speed layer applied arrived more than 5 minutes ago "
            "(consumers down, throttled, or the stream idle).",
            severity="critical",
        ),
        _rule(
            "clickstream-data-quality",
            "Data-quality pass rate below 95 %",
            pm.DATA_QUALITY_PASS_RATE,
            "lt",
            PASS_RATE_MIN,
            for_="0s",
            window_s=3600,
            summary="The latest compaction quarantined more than 5 % of the rows (see quality/ in the lake).",
            severity="critical",
        ),
        _rule(
            "clickstream-reconciliation-drift",
            "Speed and batch layers disagree",
            pm.RECONCILIATION_MAX_ABS_DRIFT,
            "gt",
            DRIFT_MAX,
            for_="0s",
            window_s=3600,
            summary="The latest reconciliation found an exact counter (events, errors, revenue, ...) that differs "
            "between speed and batch in some window: a missed duplicate, a too-late event, a lost write "
            "(see curated/metrics/reconciliation/).",
            severity="warning",
        ),
        _rule(
            "clickstream-job-failed",
            "Batch job failed",
            pm.JOB_LAST_RUN_SUCCESS,
            "lt",
            1,
            for_="0s",
            window_s=3600,
            summary="The latest run of a batch job (compaction, metrics, reconciliation) failed; see Airflow.",
            severity="critical",
        ),
    ]
    return {
        "apiVersion": 1,
        "groups": [{"orgId": 1, "name": "clickstream", "folder": FOLDER, "interval": "1m", "rules": rules}],
    }
