-- Exact distinct users and sessions per hour and day window (event time): what the speed
-- layer estimates with HLL sketches in its `uniq#users` / `uniq#sessions` items.
--
-- users    = distinct user_id;
-- sessions = distinct non-NULL session_id: the speed layer's definition (it sketches
--            session_id and skips events without one), so reconciliation compares like with like;
-- sessions_with_inferred = distinct sessions when events without a session_id are sessionized
--            per user with the 30-minute gap (as in sessions.sql). No look-back is needed: the
--            events of [start_dt, end_dt] split into the same sessions whatever came before, so
--            each window counts the same distinct sessions.
-- sk = 'h#YYYY-MM-DDTHH:00:00Z' | 'd#YYYY-MM-DDT00:00:00Z'; dt = the window's day.
WITH scoped AS (
    SELECT event_id, user_id, session_id, event_time, dt, hour
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
windows AS (
    SELECT dt, 'h' AS resolution, concat('h#', dt, 'T', hour, ':00:00Z') AS sk,
           count(DISTINCT user_id) AS users, count(DISTINCT session_id) AS sessions,
           count(DISTINCT session_key) AS sessions_with_inferred
    FROM keyed
    GROUP BY dt, hour
    UNION ALL
    SELECT dt, 'd' AS resolution, concat('d#', dt, 'T00:00:00Z') AS sk,
           count(DISTINCT user_id) AS users, count(DISTINCT session_id) AS sessions,
           count(DISTINCT session_key) AS sessions_with_inferred
    FROM keyed
    GROUP BY dt
)
SELECT dt, resolution, sk, users, sessions, sessions_with_inferred
FROM windows
ORDER BY sk
