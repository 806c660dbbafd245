-- Hourly traffic per event-time dt/hour: events, page views, distinct users, distinct
-- sessions active in the hour (session_id, else the user's 30-minute-gap session as in
-- sessions.sql; no look-back needed: an hour counts the same distinct sessions either way),
-- errors (http_status >= 400), revenue (Σ round(price * coalesce(quantity, 1), 6) of purchases,
-- DECIMAL(38,6)), orders (distinct order_id of purchases).
WITH scoped AS (
    SELECT event_id, event_type, user_id, session_id, event_time, dt, hour, http_status,
           order_id, price, quantity
    FROM events
    WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
),
-- BEGIN sessionize: a session_id, else per user a new session after >= 30 min without events
-- (identical in every session-based file: tests/unit/jobs/test_metrics_sql_files.py)
gaps AS (
    SELECT *,
           CASE WHEN session_id IS NOT NULL THEN 0
                WHEN lag(event_time) OVER (PARTITION BY user_id, session_id ORDER BY event_time, event_id) IS NULL THEN 1
                WHEN date_diff('millisecond',
                               lag(event_time) OVER (PARTITION BY user_id, session_id ORDER BY event_time, event_id),
                               event_time) >= 1800000 THEN 1
                ELSE 0 END AS new_session
    FROM scoped
),
keyed AS (
    SELECT *,
           coalesce(session_id, concat('inferred#', user_id, '#', cast(
               sum(new_session) OVER (PARTITION BY user_id, session_id ORDER BY event_time, event_id
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS varchar))) AS session_key
    FROM gaps
),
-- END sessionize
hours AS (
    SELECT dt,
           hour,
           count(*) AS events,
           count(CASE WHEN event_type = 'page_view' THEN 1 END) AS page_views,
           count(DISTINCT user_id) AS users,
           count(DISTINCT session_key) AS sessions,
           count(CASE WHEN coalesce(http_status, 200) >= 400 THEN 1 END) AS errors,
           cast(coalesce(sum(CASE WHEN event_type = 'purchase' AND price IS NOT NULL
                                  THEN round(cast(price AS DECIMAL(38, 12)) * coalesce(quantity, 1), 6) END), 0)
                AS DECIMAL(38, 6)) AS revenue,
           count(DISTINCT CASE WHEN event_type = 'purchase' THEN order_id END) AS orders
    FROM keyed
    GROUP BY dt, hour
)
SELECT * FROM hours
ORDER BY dt, hour
