-- Hourly traffic per event-time dt/hour: events, page views, distinct users, distinct
-- sessions active in the hour (session_id, else the user's inferred session), errors
-- (http_status >= 400), revenue (Σ round(price * coalesce(quantity, 1), 6) of purchases,
-- DECIMAL(38,6)), orders (distinct order_id of purchases).
--
-- users and sessions are the hour's `users` and `sessions_with_inferred` in metric_uniques
-- (uniques.sql, written earlier in the same run, over the same days): the distinct counts and the
-- sessionization behind them are computed once per run, not once per file.
WITH hours AS (
    SELECT dt,
           hour,
           count(*) AS events,
           count(CASE WHEN event_type = 'page_view' THEN 1 END) AS page_views,
           count(CASE WHEN coalesce(http_status, 200) >= 400 THEN 1 END) AS errors,
           cast(coalesce(sum(CASE WHEN event_type = 'purchase' AND price IS NOT NULL
                                  THEN round(cast(price AS DECIMAL(38, 12)) * coalesce(quantity, 1), 6) END), 0)
                AS DECIMAL(38, 6)) AS revenue,
           count(DISTINCT CASE WHEN event_type = 'purchase' THEN order_id END) AS orders
    FROM events
    WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
    GROUP BY dt, hour
)
SELECT h.dt, h.hour, h.events, h.page_views, u.users, u.sessions_with_inferred AS sessions, h.errors,
       h.revenue, h.orders
FROM hours AS h
JOIN metric_uniques AS u
  ON u.dt = h.dt AND u.sk = concat('h#', h.dt, 'T', h.hour, ':00:00Z')
WHERE u.dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
ORDER BY h.dt, h.hour
