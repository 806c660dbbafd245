-- Engagement per day: sessions, bounces, bounce rate, average session duration, pages per
-- session, CTR. Every figure is SESSION-attributed: a session (sessionization as in
-- sessions.sql: session_id, else a 30-minute inactivity gap per user) counts on the day (dt)
-- of its first event with all its events, also those after midnight (so the query reads one
-- day either side of [start_dt, end_dt]; a day is final once the next day is compacted).
--
-- bounce: exactly one page_view and no other event.  bounce_rate = bounces / sessions.
-- avg_session_duration_ms = Σ (last - first event time) / sessions (one-event sessions last 0).
-- pages_per_session = page_views / sessions.  ctr = clicks / page_views (NULL without page views).
WITH scoped AS (
    -- one day either side: sessions across midnight are seen whole (see the header)
    SELECT event_id, event_type, user_id, session_id, event_time, dt, hour, url, http_status,
           product_id, order_id, price, quantity, duration_ms
    FROM events
    WHERE dt BETWEEN date_format(date_add('day', -1, date '{{ start_dt }}'), '%Y-%m-%d')
                 AND date_format(date_add('day', 1, date '{{ end_dt }}'), '%Y-%m-%d')
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
sessions AS (
    SELECT session_key,
           min(dt) AS dt,
           date_diff('millisecond', min(event_time), max(event_time)) AS duration_ms,
           count(*) AS events,
           count(CASE WHEN event_type = 'page_view' THEN 1 END) AS page_views,
           count(CASE WHEN event_type = 'click' THEN 1 END) AS clicks
    FROM keyed
    GROUP BY session_key
)
SELECT dt,
       count(*) AS sessions,
       count(CASE WHEN events = 1 AND page_views = 1 THEN 1 END) AS bounces,
       cast(count(CASE WHEN events = 1 AND page_views = 1 THEN 1 END) AS double) / count(*) AS bounce_rate,
       cast(sum(duration_ms) AS bigint) AS session_duration_ms,
       cast(sum(duration_ms) AS double) / count(*) AS avg_session_duration_ms,
       cast(sum(page_views) AS bigint) AS page_views,
       cast(sum(clicks) AS bigint) AS clicks,
       cast(sum(page_views) AS double) / count(*) AS pages_per_session,
       cast(sum(clicks) AS double) / nullif(sum(page_views), 0) AS ctr
FROM sessions
WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
GROUP BY dt
ORDER BY dt
