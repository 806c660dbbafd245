-- Exact distinct users and sessions per hour and day window (event time): what the speed
-- layer estimates with HLL sketches in its `uniq#users` / `uniq#sessions` items.
--
-- users    = distinct user_id;
-- sessions = distinct non-NULL session_id: the speed layer's definition (it sketches
--            session_id and skips events without one), so reconciliation compares like with like;
-- sessions_with_inferred = distinct sessions when events without a session_id are sessionized
--            per user with the session gap (include/sessionize.sql). No look-back is needed: the
--            events of [start_dt, end_dt] split into the same sessions whatever came before, so
--            each window counts the same distinct sessions.
-- sk = 'h#YYYY-MM-DDTHH:00:00Z' | 'd#YYYY-MM-DDT00:00:00Z'; dt = the window's day.
WITH scoped AS (
    SELECT event_id, user_id, session_id, event_time, dt, hour
    FROM events
    WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
),
{{> include/sessionize.sql }},
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
