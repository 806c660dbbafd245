-- Engagement per day: sessions, bounces, bounce rate, average session duration, pages per
-- session, CTR. Every figure is SESSION-attributed, from metric_sessions (sessions.sql, written
-- earlier in the same run: the sessionization runs once per run): a session (session_id, else
-- per user the session gap of inactivity) counts on the day (dt) of its first event with all
-- its events, also those after midnight (a day is final once the next day is compacted).
--
-- bounce: exactly one page_view and no other event.  bounce_rate = bounces / sessions.
-- avg_session_duration_ms = Σ (last - first event time) / sessions (one-event sessions last 0).
-- pages_per_session = page_views / sessions.  ctr = clicks / page_views (NULL without page views).
SELECT dt,
       count(*) AS sessions,
       count(CASE WHEN is_bounce THEN 1 END) AS bounces,
       cast(count(CASE WHEN is_bounce THEN 1 END) AS double) / count(*) AS bounce_rate,
       cast(sum(duration_ms) AS bigint) AS session_duration_ms,
       cast(sum(duration_ms) AS double) / count(*) AS avg_session_duration_ms,
       cast(sum(page_views) AS bigint) AS page_views,
       cast(sum(clicks) AS bigint) AS clicks,
       cast(sum(page_views) AS double) / count(*) AS pages_per_session,
       cast(sum(clicks) AS double) / nullif(sum(page_views), 0) AS ctr
FROM metric_sessions
WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
GROUP BY dt
ORDER BY dt
