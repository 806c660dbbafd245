-- Sessionization, the one definition (docs/METRICS.md "Sessions"). Not a query on its own: each
-- session-based file in sql/metrics/ includes it in its WITH list, after a `scoped` CTE of events
-- (event_id, user_id, session_id, event_time, ...); clickstream.sqlfiles.render splices it in
-- (sql/README.md "Includes").
--
-- A session is the events of one session_id; events without a session_id are sessionized per
-- user: ordered by event time (then event_id), a gap of session_gap_ms or more starts a new
-- session (constants.SESSION_GAP_SECONDS * 1000, filled in by render).
--   gaps:  the events without a session_id + new_session (1 when the event starts an inferred
--          session, else 0)
--   keyed: every event of scoped + new_session (0 with a session_id) + session_key = the
--          session_id, else 'inferred#<user_id>#<n>'
gaps AS (
    -- only the events without a session_id are ordered per user: the window functions sort a
    -- fifth of the events, not all of them (an event with a session_id is keyed by it)
    SELECT *,
           -- the gap test adds the gap to the previous event's time: as exact as date_diff, which
           -- DuckDB computes through calendar parts (0.4 s more per 2 M events)
           CASE WHEN lag(event_time) OVER (PARTITION BY user_id ORDER BY event_time, event_id) IS NULL THEN 1
                WHEN event_time >= date_add('millisecond', {{ session_gap_ms }},
                                            lag(event_time) OVER (PARTITION BY user_id ORDER BY event_time, event_id))
                THEN 1
                ELSE 0 END AS new_session
    FROM scoped
    WHERE session_id IS NULL
),
keyed AS (
    SELECT *, 0 AS new_session, session_id AS session_key
    FROM scoped
    WHERE session_id IS NOT NULL
    UNION ALL
    SELECT *,
           concat('inferred#', user_id, '#', cast(
               sum(new_session) OVER (PARTITION BY user_id ORDER BY event_time, event_id
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS varchar)) AS session_key
    FROM gaps
)
