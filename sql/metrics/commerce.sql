-- Commerce per day.
--
-- Session-attributed, from metric_sessions (sessions.sql, written earlier in the same run: the
-- sessionization runs once per run; a session counts on the day of its first event, with all
-- its events):
--   conversion_rate       = sessions with a purchase / sessions
--   cart_abandonment_rate = sessions with an add_to_cart and no purchase / sessions with an add_to_cart
-- Event-day (the purchase's own day, like the speed layer's day windows):
--   revenue = Σ round(price * coalesce(quantity, 1), 6) of purchases with a price, DECIMAL(38,6)
--             (definitions.revenue_of);  orders = distinct order_id of purchases;
--   aov     = revenue / orders (NULL without orders; a purchase without order_id adds revenue
--             but no order, as in the speed layer).
WITH by_session AS (
    SELECT dt,
           count(*) AS sessions,
           count(CASE WHEN purchases > 0 THEN 1 END) AS converted_sessions,
           count(CASE WHEN add_to_carts > 0 THEN 1 END) AS cart_sessions,
           count(CASE WHEN add_to_carts > 0 AND purchases = 0 THEN 1 END) AS abandoned_sessions
    FROM metric_sessions
    WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
    GROUP BY dt
),
by_purchase AS (
    SELECT dt,
           count(*) AS purchases,
           cast(coalesce(sum(CASE WHEN price IS NOT NULL
                                  THEN round(cast(price AS DECIMAL(38, 12)) * coalesce(quantity, 1), 6) END), 0)
                AS DECIMAL(38, 6)) AS revenue,
           count(DISTINCT order_id) AS orders
    FROM events
    WHERE event_type = 'purchase' AND dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
    GROUP BY dt
)
SELECT coalesce(s.dt, p.dt) AS dt,
       coalesce(s.sessions, 0) AS sessions,
       coalesce(s.converted_sessions, 0) AS converted_sessions,
       cast(s.converted_sessions AS double) / nullif(s.sessions, 0) AS conversion_rate,
       coalesce(s.cart_sessions, 0) AS cart_sessions,
       coalesce(s.abandoned_sessions, 0) AS abandoned_sessions,
       cast(s.abandoned_sessions AS double) / nullif(s.cart_sessions, 0) AS cart_abandonment_rate,
       coalesce(p.purchases, 0) AS purchases,
       coalesce(p.revenue, cast(0 AS DECIMAL(38, 6))) AS revenue,
       coalesce(p.orders, 0) AS orders,
       cast(p.revenue AS double) / nullif(p.orders, 0) AS aov
FROM by_session AS s
FULL OUTER JOIN by_purchase AS p ON s.dt = p.dt
ORDER BY 1
