-- Engagement per day: sessions, bounces, bounce rate, average session duration, pages per
-- session, CTR. Every figure is SESSION-attributed: a session (include/sessionize.sql:
-- session_id, else per user the session gap of inactivity) counts on the day (dt) of its
-- first event with all its events, also those after midnight (so the query reads one day
-- either side of [start_dt, end_dt]; a day is final once the next day is compacted).
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
{{> include/sessionize.sql }},
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
