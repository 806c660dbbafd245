-- Funnel per day: page_view -> add_to_cart -> checkout -> purchase, per SESSION, ORDERED.
--
-- A session (sessionization: include/sessionize.sql) reaches step k when it has a step-k event at
-- or after the moment it first reached step k-1 (equal timestamps count as in order); a
-- session that buys without viewing a page first reaches no step. Sessions count on the day
-- (dt) of their first event, with all their events (one day either side is read; see
-- sessions.sql). step_<k>_rate = sessions reaching step k / sessions reaching step k-1
-- (view_rate = sessions reaching page_view / all sessions); NULL when the previous step has none.
WITH scoped AS (
    -- one day either side: sessions across midnight are seen whole (see the header)
    SELECT event_id, event_type, user_id, session_id, event_time, dt, hour, url, http_status,
           product_id, order_id, price, quantity, duration_ms
    FROM events
    WHERE dt BETWEEN date_format(date_add('day', -1, date '{{ start_dt }}'), '%Y-%m-%d')
                 AND date_format(date_add('day', 1, date '{{ end_dt }}'), '%Y-%m-%d')
),
{{> include/sessionize.sql }},
funnel1 AS (
    SELECT *, min(CASE WHEN event_type = 'page_view' THEN event_time END) OVER (PARTITION BY session_key) AS t_view
    FROM keyed
),
funnel2 AS (
    SELECT *, min(CASE WHEN event_type = 'add_to_cart' AND event_time >= t_view THEN event_time END)
                  OVER (PARTITION BY session_key) AS t_cart
    FROM funnel1
),
funnel3 AS (
    SELECT *, min(CASE WHEN event_type = 'checkout' AND event_time >= t_cart THEN event_time END)
                  OVER (PARTITION BY session_key) AS t_checkout
    FROM funnel2
),
funnel4 AS (
    SELECT *, min(CASE WHEN event_type = 'purchase' AND event_time >= t_checkout THEN event_time END)
                  OVER (PARTITION BY session_key) AS t_purchase
    FROM funnel3
),
sessions AS (
    SELECT session_key, min(dt) AS dt, max(t_view) AS t_view, max(t_cart) AS t_cart,
           max(t_checkout) AS t_checkout, max(t_purchase) AS t_purchase
    FROM funnel4
    GROUP BY session_key
),
steps AS (
    SELECT dt,
           count(*) AS sessions,
           count(t_view) AS page_view_sessions,
           count(t_cart) AS add_to_cart_sessions,
           count(t_checkout) AS checkout_sessions,
           count(t_purchase) AS purchase_sessions
    FROM sessions
    WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
    GROUP BY dt
)
SELECT dt, sessions, page_view_sessions, add_to_cart_sessions, checkout_sessions, purchase_sessions,
       cast(page_view_sessions AS double) / nullif(sessions, 0) AS view_rate,
       cast(add_to_cart_sessions AS double) / nullif(page_view_sessions, 0) AS add_to_cart_rate,
       cast(checkout_sessions AS double) / nullif(add_to_cart_sessions, 0) AS checkout_rate,
       cast(purchase_sessions AS double) / nullif(checkout_sessions, 0) AS purchase_rate,
       cast(purchase_sessions AS double) / nullif(page_view_sessions, 0) AS view_to_purchase_rate
FROM steps
ORDER BY dt
