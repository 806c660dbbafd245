"""The live dashboards: Real-time, Errors, Pipeline health (Prometheus and the query API first, the lake second).

Names come from the code: Prometheus metrics from `clickstream.api.prometheus`, API metrics from
`clickstream.api.serving.METRICS` (checked by `api_metric`), tables from `clickstream.catalog`.
"""

from __future__ import annotations

from clickstream.api import prometheus as pm
from clickstream.catalog import EVENT_TIME, EVENTS_TABLE
from grafana.panels import Board, athena, infinity, panel, prom, stat, table, timeseries
from grafana.queries import DT_RANGE, GRANULARITY, api_metric, metric_table, stats_range


def realtime() -> Board:
    b = Board(
        "clickstream-realtime",
        "clickstream / Real-time",
        "Live counters (speed layer, merged with the batch view for closed windows) and recent events.",
        refresh="5s",
        time_from="now-1h",
        variables=[GRANULARITY],
    )
    b.row("Now")
    b.add(
        stat("Events today", prom(pm.EVENTS_ALL_TODAY, instant=True), unit="short"),
        stat("Events last minute", prom(pm.EVENTS_LAST_MINUTE, instant=True), unit="short"),
        stat(
            "Error rate, last minute",
            prom(f'{pm.ERROR_RATE}{{window="last_minute"}}', instant=True),
            unit="percentunit",
        ),
        stat("Revenue today", prom(pm.REVENUE_TODAY, instant=True), unit="currencyUSD"),
        stat(
            "Events on the range's days",
            infinity("/v1/stats", params=stats_range(), root="", columns=[("total_events", "events", "number")]),
        ),
        stat(
            "Freshness",
            prom(f"max({pm.FRESHNESS_SECONDS})", instant=True),
            unit="s",
            description="now - newest event time the speed layer applied",
        ),
    )
    b.row("Per $granularity (API: batch where closed, speed after)")
    b.add(
        timeseries("Events", [api_metric("events", label="events")], w=12),
        timeseries("Error rate", [api_metric("error_rate", label="error rate")], unit="percentunit", w=12),
        timeseries(
            "Funnel events",
            [
                api_metric("events", label=t, dimension=f"type:{t}", ref=ref)
                for ref, t in zip("ABCD", ("page_view", "add_to_cart", "checkout", "purchase"), strict=True)
            ],
            w=12,
        ),
        timeseries("Revenue", [api_metric("revenue", label="revenue")], unit="currencyUSD", w=12),
    )
    b.row("Today")
    b.add(
        panel(
            "piechart",
            "Events today by type",
            [prom(pm.EVENTS_TODAY, legend="{{event_type}}", instant=True)],
            options={
                "pieType": "donut",
                "legend": {"displayMode": "table", "placement": "right", "values": ["value"]},
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            },
            w=8,
            h=9,
        ),
        table(
            "Recent events",
            infinity(
                "/v1/stats",
                params={"limit": "20"},
                root="recent_events",
                columns=[
                    ("timestamp", "time", "timestamp"),
                    ("event_type", "type", "string"),
                    ("url", "url", "string"),
                    ("user_id", "user", "string"),
                ],
            ),
            w=16,
            h=9,
        ),
    )
    return b


def errors() -> Board:
    err = metric_table("errors")
    b = Board(
        "clickstream-errors",
        "clickstream / Errors",
        "Error rate (events with http_status >= 400 / events) live and per day, by status and URL.",
        refresh="5s",
        time_from="now-24h",
        variables=[GRANULARITY],
    )
    b.row("Live")
    b.add(
        stat(
            "Error rate, last minute",
            prom(f'{pm.ERROR_RATE}{{window="last_minute"}}', instant=True),
            unit="percentunit",
            w=6,
        ),
        stat("Error rate, this hour", prom(f'{pm.ERROR_RATE}{{window="hour"}}', instant=True), unit="percentunit", w=6),
        stat("Error rate, today", prom(f'{pm.ERROR_RATE}{{window="day"}}', instant=True), unit="percentunit", w=6),
        stat("Errors today", prom(f"sum({pm.ERRORS_TODAY})", instant=True), w=6),
        timeseries(
            "Error rate per $granularity (API)",
            [api_metric("error_rate", label="error rate")],
            unit="percentunit",
            w=12,
        ),
        timeseries("Errors today by status", [prom(pm.ERRORS_TODAY, legend="{{status}}")], w=12),
    )
    b.row("From the lake")
    b.add(
        timeseries(
            "Errors per hour by status class",
            [
                athena(
                    f"""
            SELECT $__timeGroup({EVENT_TIME}, '1h') AS time,
                   count(CASE WHEN http_status BETWEEN 400 AND 499 THEN 1 END) AS client_errors,
                   count(CASE WHEN http_status >= 500 THEN 1 END) AS server_errors
            FROM {EVENTS_TABLE}
            WHERE {DT_RANGE} AND $__timeFilter({EVENT_TIME})
            GROUP BY 1 ORDER BY 1""",
                    time_series=True,
                )
            ],
            w=12,
        ),
        table(
            "Error rate by status",
            athena(f"""
            SELECT value AS status, sum(errors) AS errors, sum(events) AS events
            FROM {err} WHERE dimension = 'status' AND {DT_RANGE}
            GROUP BY value HAVING sum(errors) > 0 ORDER BY errors DESC"""),
            w=12,
        ),
        table(
            "URLs with the most errors",
            athena(f"""
            SELECT value AS url, sum(errors) AS errors, sum(events) AS events,
                   cast(sum(errors) AS double) / sum(events) AS error_rate
            FROM {err} WHERE dimension = 'url' AND {DT_RANGE}
            GROUP BY value HAVING sum(errors) > 0 ORDER BY errors DESC LIMIT 20"""),
            defaults={"custom": {"align": "auto"}},
            w=24,
        ),
    )
    return b


def pipeline() -> Board:
    b = Board(
        "clickstream-pipeline",
        "clickstream / Pipeline health",
        "Speed layer lag and freshness, bad rows, batch job runs, data quality and reconciliation drift.",
        refresh="10s",
        time_from="now-6h",
    )
    b.row("Speed layer")
    b.add(
        stat(
            "Consumer lag (max shard)",
            prom(f"max({pm.CONSUMER_LAG_SECONDS})", instant=True),
            unit="s",
            description="now - arrival time of the newest record applied; grows when the stream is idle too",
        ),
        stat("Freshness", prom(pm.FRESHNESS_SECONDS, instant=True), unit="s"),
        stat("Bad-row rate today", prom(pm.BAD_ROW_RATE, instant=True), unit="percentunit"),
        stat("Duplicates dropped today", prom(pm.DUPLICATES_TODAY, instant=True)),
        stat(
            "Scrape errors",
            prom(f"sum({pm.SCRAPE_ERRORS})", instant=True),
            description="sources /metrics could not read at the last scrape (0 = all read)",
        ),
        stat("Events last minute", prom(pm.EVENTS_LAST_MINUTE, instant=True)),
        timeseries("Consumer lag by shard", [prom(pm.CONSUMER_LAG_SECONDS, legend="{{shard}}")], unit="s", w=12),
        timeseries("Bad rows today by reason", [prom(f"{pm.BAD_ROWS_TODAY} > 0", legend="{{reason}}")], w=12),
    )
    b.row("Batch layer")
    b.add(
        stat(
            "Data-quality pass rate",
            prom(pm.DATA_QUALITY_PASS_RATE, instant=True),
            unit="percentunit",
            description="Great Expectations pass rate of the latest compaction",
            w=6,
        ),
        stat(
            "Reconciliation drift",
            prom(pm.RECONCILIATION_MAX_ABS_DRIFT, instant=True),
            description="largest |speed - batch| of the latest reconciliation",
            w=6,
        ),
        stat("Latest run succeeded", prom(pm.JOB_LAST_RUN_SUCCESS, legend="{{job}}", instant=True), w=12),
        timeseries(
            "Time since last success",
            [
                prom(f"time() - {pm.JOB_LAST_SUCCESS}", legend="{{job}}"),
            ],
            unit="s",
            w=12,
        ),
        timeseries(
            "Compacted events per hour (curated lake)",
            [
                athena(
                    f"""
            SELECT date_parse(concat(dt, ' ', hour), '%Y-%m-%d %H') AS time, count(*) AS events
            FROM {EVENTS_TABLE}
            WHERE {DT_RANGE}
            GROUP BY dt, hour ORDER BY 1""",
                    time_series=True,
                )
            ],
            w=12,
        ),
    )
    return b
