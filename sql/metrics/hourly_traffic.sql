-- Hourly traffic per event-time dt/hour: events, page views, distinct users, distinct
-- sessions active in the hour (session_id, else the user's inferred session:
-- include/sessionize.sql; no look-back needed: an hour counts the same distinct sessions
-- either way), errors (http_status >= 400), revenue (Σ round(price * coalesce(quantity, 1), 6)
-- of purchases, DECIMAL(38,6)), orders (distinct order_id of purchases).
WITH scoped AS (
    SELECT event_id, event_type, user_id, session_id, event_time, dt, hour, http_status,
           order_id, price, quantity
    FROM events
    WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
),
{{> include/sessionize.sql }},
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
