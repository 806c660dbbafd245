-- The batch view's engagement items (`engagement#all`), one row per hour window of the sessions'
-- first event, from metric_sessions (sessions.sql, written earlier in the same run). The job
-- fetches these rows (at most 24 per day) and sums each day's hours into its day item, instead of
-- fetching every session: a session counts in the hour and on the day of its first event.
SELECT dt,
       start_hour,
       count(*) AS sessions,
       count(CASE WHEN is_bounce THEN 1 END) AS bounces,
       cast(sum(duration_ms) AS bigint) AS session_duration_ms,
       cast(sum(page_views) AS bigint) AS page_views,
       cast(sum(clicks) AS bigint) AS clicks,
       count(CASE WHEN purchases > 0 THEN 1 END) AS converted_sessions,
       count(CASE WHEN add_to_carts > 0 THEN 1 END) AS cart_sessions,
       count(CASE WHEN add_to_carts > 0 AND purchases = 0 THEN 1 END) AS abandoned_sessions,
       cast(sum(revenue) AS DECIMAL(38, 6)) AS revenue,
       count(CASE WHEN funnel_step >= 1 THEN 1 END) AS funnel_page_view,
       count(CASE WHEN funnel_step >= 2 THEN 1 END) AS funnel_add_to_cart,
       count(CASE WHEN funnel_step >= 3 THEN 1 END) AS funnel_checkout,
       count(CASE WHEN funnel_step >= 4 THEN 1 END) AS funnel_purchase
FROM metric_sessions
WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
GROUP BY dt, start_hour
ORDER BY dt, start_hour
