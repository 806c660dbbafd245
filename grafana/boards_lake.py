"""The lake dashboards: Engagement, Commerce & funnel, from the batch metric tables `metric_<name>`
(sql/metrics/<name>.sql, written by the batch_metrics job) and the curated `events` table, plus the API's
merged series for the windows the batch layer closed.
"""

from __future__ import annotations

from clickstream.catalog import EVENT_TIME, EVENTS_TABLE
from grafana.panels import Board, athena, panel, stat, table, timeseries
from grafana.queries import DAY_TIME, DT_RANGE, HOURLY, api_metric, metric_table


def engagement() -> Board:
    eng = metric_table("engagement")
    b = Board(
        "clickstream-engagement",
        "clickstream / Engagement",
        "Sessions, bounces, session duration, CTR per day (batch layer, sql/metrics/engagement.sql) "
        "and the hourly traffic; a session counts on the day of its first event.",
        refresh="10s",
        time_from="now-7d",
        variables=[HOURLY],
    )
    b.row("Over the range")
    b.add(
        stat("Sessions", athena(f"SELECT sum(sessions) AS sessions FROM {eng} WHERE {DT_RANGE}"), w=6),
        stat(
            "Bounce rate",
            athena(
                f"SELECT cast(sum(bounces) AS double) / nullif(sum(sessions), 0) AS bounce_rate FROM {eng} "
                f"WHERE {DT_RANGE}"
            ),
            unit="percentunit",
            w=6,
        ),
        stat(
            "Avg session duration",
            athena(
                f"SELECT sum(session_duration_ms) / nullif(sum(sessions), 0) AS avg_session_duration_ms FROM {eng} "
                f"WHERE {DT_RANGE}"
            ),
            unit="ms",
            w=6,
        ),
        stat(
            "CTR",
            athena(
                f"SELECT cast(sum(clicks) AS double) / nullif(sum(page_views), 0) AS ctr FROM {eng} WHERE {DT_RANGE}"
            ),
            unit="percentunit",
            w=6,
        ),
    )
    b.row("Per day")
    b.add(
        timeseries(
            "Sessions and users",
            [
                athena(f"SELECT {DAY_TIME}, sessions FROM {eng} WHERE {DT_RANGE} ORDER BY 1", time_series=True),
                athena(
                    f"""
                SELECT {DAY_TIME}, users FROM {metric_table("uniques")}
                WHERE resolution = 'd' AND {DT_RANGE} ORDER BY 1""",
                    time_series=True,
                    ref="B",
                ),
            ],
            w=12,
        ),
        timeseries(
            "Bounce rate and CTR",
            [athena(f"SELECT {DAY_TIME}, bounce_rate, ctr FROM {eng} WHERE {DT_RANGE} ORDER BY 1", time_series=True)],
            unit="percentunit",
            w=12,
        ),
        timeseries(
            "Pages per session and session duration",
            [
                athena(
                    f"SELECT {DAY_TIME}, pages_per_session, avg_session_duration_ms / 1000 AS avg_session_seconds "
                    f"FROM {eng} WHERE {DT_RANGE} ORDER BY 1",
                    time_series=True,
                )
            ],
            w=12,
        ),
        timeseries(
            "Bounce and conversion, per $granularity (API, closed windows)",
            [
                api_metric("bounce_rate", label="bounce rate", granularity="$granularity"),
                api_metric("conversion_rate", label="conversion", granularity="$granularity", ref="B"),
            ],
            unit="percentunit",
            w=12,
        ),
    )
    b.row("Traffic")
    b.add(
        timeseries(
            "Hourly traffic",
            [
                athena(
                    f"""
            SELECT date_parse(concat(dt, ' ', hour), '%Y-%m-%d %H') AS time, events, page_views, users, sessions
            FROM {metric_table("hourly_traffic")}
            WHERE {DT_RANGE} ORDER BY 1""",
                    time_series=True,
                )
            ],
            w=14,
            h=9,
        ),
        table(
            "Top pages",
            athena(f"""
            SELECT substr(split_part(split_part(url, '?', 1), '#', 1), 1, 256) AS page,
                   count(*) AS page_views, count(DISTINCT user_id) AS users
            FROM {EVENTS_TABLE}
            WHERE {DT_RANGE} AND $__timeFilter({EVENT_TIME}) AND event_type = 'page_view'
            GROUP BY 1 ORDER BY page_views DESC LIMIT 20"""),
            w=10,
            h=9,
        ),
    )
    return b


def commerce() -> Board:
    com, fun = metric_table("commerce"), metric_table("funnel")
    b = Board(
        "clickstream-commerce",
        "clickstream / Commerce & funnel",
        "Revenue, orders, AOV, conversion and cart abandonment per day (sql/metrics/commerce.sql), the "
        "page_view -> add_to_cart -> checkout -> purchase funnel per session (funnel.sql), top products.",
        refresh="10s",
        time_from="now-7d",
        variables=[HOURLY],
    )
    b.row("Over the range")
    b.add(
        stat("Revenue", athena(f"SELECT sum(revenue) AS revenue FROM {com} WHERE {DT_RANGE}"), unit="currencyUSD", w=6),
        stat("Orders", athena(f"SELECT sum(orders) AS orders FROM {com} WHERE {DT_RANGE}"), w=6),
        stat(
            "AOV",
            athena(f"SELECT cast(sum(revenue) AS double) / nullif(sum(orders), 0) AS aov FROM {com} WHERE {DT_RANGE}"),
            unit="currencyUSD",
            w=6,
        ),
        stat(
            "Conversion",
            athena(
                f"SELECT cast(sum(converted_sessions) AS double) / nullif(sum(sessions), 0) AS conversion_rate "
                f"FROM {com} WHERE {DT_RANGE}"
            ),
            unit="percentunit",
            w=6,
        ),
    )
    b.row("Funnel")
    b.add(
        panel(
            "bargauge",
            "Funnel: sessions reaching each step",
            [
                athena(f"""
            SELECT sum(page_view_sessions) AS page_view, sum(add_to_cart_sessions) AS add_to_cart,
                   sum(checkout_sessions) AS checkout, sum(purchase_sessions) AS purchase
            FROM {fun} WHERE {DT_RANGE}""")
            ],
            options={
                "orientation": "horizontal",
                "displayMode": "gradient",
                "showUnfilled": True,
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            },
            w=12,
            h=8,
        ),
        timeseries(
            "Step conversion per day",
            [
                athena(
                    f"""
            SELECT {DAY_TIME}, add_to_cart_rate, checkout_rate, purchase_rate, view_to_purchase_rate
            FROM {fun} WHERE {DT_RANGE} ORDER BY 1""",
                    time_series=True,
                )
            ],
            unit="percentunit",
            w=12,
            h=8,
        ),
    )
    b.row("Per day")
    b.add(
        timeseries(
            "Revenue and orders",
            [
                athena(
                    f"SELECT {DAY_TIME}, cast(revenue AS double) AS revenue, orders FROM {com} WHERE {DT_RANGE} ORDER BY 1",
                    time_series=True,
                )
            ],
            w=12,
        ),
        timeseries(
            "Conversion and cart abandonment",
            [
                athena(
                    f"SELECT {DAY_TIME}, conversion_rate, cart_abandonment_rate FROM {com} WHERE {DT_RANGE} ORDER BY 1",
                    time_series=True,
                )
            ],
            unit="percentunit",
            w=12,
        ),
        timeseries(
            "Revenue per $granularity (API: batch where closed, speed after)",
            [
                api_metric("revenue", label="revenue", granularity="$granularity"),
            ],
            unit="currencyUSD",
            w=12,
        ),
        table(
            "Top products",
            athena(f"""
            SELECT product_id, sum(views) AS views, sum(add_to_carts) AS add_to_carts, sum(purchases) AS purchases,
                   sum(units) AS units, cast(sum(revenue) AS double) AS revenue
            FROM {metric_table("products")}
            WHERE {DT_RANGE}
            GROUP BY product_id ORDER BY revenue DESC LIMIT 20"""),
            w=12,
        ),
    )
    return b
