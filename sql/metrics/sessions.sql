-- Sessions: one row per session, on the day (dt) of the session's FIRST event.
--
-- A session is the events of one session_id; events WITHOUT a session_id are sessionized per
-- user: ordered by event time, a gap of constants.SESSION_GAP_SECONDS or more starts a new
-- session (include/sessionize.sql, the one definition every session-based file includes).
-- Such sessions get the key `inferred#<user_id>#<n>` and session_source = 'inferred'.
--
-- Sessions across midnight: a session belongs to the day (and hour) of its first event and
-- keeps all its events, also those of the next day. So the query reads one day either side of
-- [start_dt, end_dt]: the day before finds sessions that started then (they belong to that
-- day, not to start_dt), the day after completes sessions that end after midnight. A day's
-- session rows are therefore final once the next day is compacted; a session longer than the
-- one-day look-back would be cut (the speed layer has no sessions, so nothing else relies on it).
--
-- Duration = last - first event time (ms). Bounce = exactly one page_view and no other event.
-- Funnel (ORDERED, per session): page_view -> add_to_cart -> checkout -> purchase; step k is
-- reached when the session has a step-k event at or after the time step k-1 was first reached
-- (funnel_step = the last step reached, 0..4). Revenue = Σ round(price * coalesce(quantity, 1), 6)
-- of the session's purchases as DECIMAL(38,6) (definitions.revenue_of).
WITH scoped AS (
    -- one day either side: sessions across midnight are seen whole (see the header)
    SELECT event_id, event_type, user_id, session_id, event_time, dt, hour, url, http_status,
           product_id, order_id, price, quantity, duration_ms
    FROM events
    WHERE dt BETWEEN date_format(date_add('day', -1, date '{{ start_dt }}'), '%Y-%m-%d')
                 AND date_format(date_add('day', 1, date '{{ end_dt }}'), '%Y-%m-%d')
),
{{> include/sessionize.sql }},
per_session AS (
    -- one pass: the session's figures, its first page view, and the times of its other funnel steps
    SELECT session_key,
           min(dt) AS dt,
           substr(min(concat(dt, hour)), 11, 2) AS start_hour,
           min(user_id) AS user_id,
           CASE WHEN min(session_id) IS NULL THEN 'inferred' ELSE 'session_id' END AS session_source,
           min(event_time) AS started_at,
           max(event_time) AS ended_at,
           date_diff('millisecond', min(event_time), max(event_time)) AS duration_ms,
           count(*) AS events,
           count(CASE WHEN event_type = 'page_view' THEN 1 END) AS page_views,
           count(CASE WHEN event_type = 'click' THEN 1 END) AS clicks,
           count(CASE WHEN event_type = 'add_to_cart' THEN 1 END) AS add_to_carts,
           count(CASE WHEN event_type = 'checkout' THEN 1 END) AS checkouts,
           count(CASE WHEN event_type = 'purchase' THEN 1 END) AS purchases,
           min(CASE WHEN event_type = 'page_view' THEN event_time END) AS t_view,
           array_agg(event_time) FILTER (WHERE event_type = 'add_to_cart') AS cart_times,
           array_agg(event_time) FILTER (WHERE event_type = 'checkout') AS checkout_times,
           array_agg(event_time) FILTER (WHERE event_type = 'purchase') AS purchase_times,
           cast(coalesce(sum(CASE WHEN event_type = 'purchase' AND price IS NOT NULL
                                  THEN round(cast(price AS DECIMAL(38, 12)) * coalesce(quantity, 1), 6) END), 0)
                AS DECIMAL(38, 6)) AS revenue
    FROM keyed
    GROUP BY session_key
),
funnel1 AS (
    -- step k: the first step-k event at or after the moment step k-1 was first reached
    SELECT *, array_min(filter(cart_times, t -> t >= t_view)) AS t_cart
    FROM per_session
),
funnel2 AS (
    SELECT *, array_min(filter(checkout_times, t -> t >= t_cart)) AS t_checkout
    FROM funnel1
),
sessions AS (
    SELECT *, array_min(filter(purchase_times, t -> t >= t_checkout)) AS t_purchase
    FROM funnel2
)
SELECT dt, start_hour, session_key, user_id, session_source, started_at, ended_at, duration_ms, events,
       page_views, clicks, add_to_carts, checkouts, purchases,
       (events = 1 AND page_views = 1) AS is_bounce,
       CASE WHEN t_purchase IS NOT NULL THEN 4
            WHEN t_checkout IS NOT NULL THEN 3
            WHEN t_cart IS NOT NULL THEN 2
            WHEN t_view IS NOT NULL THEN 1
            ELSE 0 END AS funnel_step,
       revenue
FROM sessions
WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
ORDER BY dt, session_key
