-- Funnel per day: page_view -> add_to_cart -> checkout -> purchase, per SESSION, ORDERED.
--
-- A session reaches step k when it has a step-k event at or after the moment it first reached
-- step k-1 (equal timestamps count as in order); a session that buys without viewing a page
-- first reaches no step. Sessions count on the day (dt) of their first event, with all their
-- events. Read from metric_sessions (sessions.sql, written earlier in the same run: the
-- sessionization and the ordered funnel run once per run), whose funnel_step is the last step
-- a session reached (0..4): it reached step k exactly when funnel_step >= k. step_<k>_rate = sessions reaching step k / sessions reaching step k-1
-- (view_rate = sessions reaching page_view / all sessions); NULL when the previous step has none.
WITH steps AS (
    SELECT dt,
           count(*) AS sessions,
           count(CASE WHEN funnel_step >= 1 THEN 1 END) AS page_view_sessions,
           count(CASE WHEN funnel_step >= 2 THEN 1 END) AS add_to_cart_sessions,
           count(CASE WHEN funnel_step >= 3 THEN 1 END) AS checkout_sessions,
           count(CASE WHEN funnel_step >= 4 THEN 1 END) AS purchase_sessions
    FROM metric_sessions
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
