-- The speed layer's counters, exact: one row per (window, item) for hour and day windows, with
-- the realtime table's keys (clickstream/metrics/definitions.py, windows.py) so the batch view
-- and reconciliation compare item by item.
--
-- pk:  'all' | 'type#<event_type>' | 'url#<path>' | 'status#<http_status>' | 'product#<product_id>'
--      url path = substr(split_part(split_part(url, '?', 1), '#', 1), 1, 256) (definitions.url_dimension);
--      product_id cut to 256 characters; events without a url / product_id have no such item;
--      a missing http_status is 200 (the contract's default).
-- sk:  'h#YYYY-MM-DDTHH:00:00Z' | 'd#YYYY-MM-DDT00:00:00Z' from the event-time partitions dt/hour.
-- events; errors (http_status >= 400); revenue = Σ round(price * coalesce(quantity, 1), 6) of
-- purchases with a price, DECIMAL(38,6) (definitions.revenue_of); duration_ms = Σ duration_ms,
-- timed_events = events with a duration_ms; orders = distinct order_id of purchases in the
-- window, on pk 'all' only (0 elsewhere), as the speed layer counts them.
-- dt = the window's day. Zero counters stay in the rows (the job leaves them out of DynamoDB).
WITH scoped AS (
    SELECT dt, hour, event_type, order_id, duration_ms,
           substr(split_part(split_part(url, '?', 1), '#', 1), 1, 256) AS url_path,
           cast(coalesce(http_status, 200) AS varchar) AS status,
           substr(product_id, 1, 256) AS product,
           CASE WHEN coalesce(http_status, 200) >= 400 THEN 1 ELSE 0 END AS is_error,
           CASE WHEN event_type = 'purchase' AND price IS NOT NULL
                THEN round(cast(price AS DECIMAL(38, 12)) * coalesce(quantity, 1), 6) END AS revenue
    FROM events
    WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
),
-- one cell table per dimension: crossed in one GROUP BY, url and product made a cell of nearly
-- every event (2.3 M cells of 6.7 M events), and the rows to re-add grew fivefold
cells AS (
    SELECT dt, hour, event_type, status,
           count(*) AS events,
           count(CASE WHEN is_error = 1 THEN 1 END) AS errors,
           sum(revenue) AS revenue,
           sum(duration_ms) AS duration_ms,
           count(duration_ms) AS timed_events
    FROM scoped
    GROUP BY dt, hour, event_type, status
),
url_cells AS (
    SELECT dt, hour, url_path,
           count(*) AS events,
           count(CASE WHEN is_error = 1 THEN 1 END) AS errors,
           sum(revenue) AS revenue,
           sum(duration_ms) AS duration_ms,
           count(duration_ms) AS timed_events
    FROM scoped WHERE url_path IS NOT NULL
    GROUP BY dt, hour, url_path
),
product_cells AS (
    SELECT dt, hour, product,
           count(*) AS events,
           count(CASE WHEN is_error = 1 THEN 1 END) AS errors,
           sum(revenue) AS revenue,
           sum(duration_ms) AS duration_ms,
           count(duration_ms) AS timed_events
    FROM scoped WHERE product IS NOT NULL
    GROUP BY dt, hour, product
),
items AS (
    SELECT dt, hour, 'all' AS pk, events, errors, revenue, duration_ms, timed_events FROM cells
    UNION ALL
    SELECT dt, hour, concat('type#', event_type), events, errors, revenue, duration_ms, timed_events FROM cells
    UNION ALL
    SELECT dt, hour, concat('url#', url_path), events, errors, revenue, duration_ms, timed_events FROM url_cells
    UNION ALL
    SELECT dt, hour, concat('status#', status), events, errors, revenue, duration_ms, timed_events FROM cells
    UNION ALL
    SELECT dt, hour, concat('product#', product), events, errors, revenue, duration_ms, timed_events FROM product_cells
),
hours AS (
    SELECT dt, 'h' AS resolution, concat('h#', dt, 'T', hour, ':00:00Z') AS sk, pk,
           sum(events) AS events, sum(errors) AS errors, sum(revenue) AS revenue,
           sum(duration_ms) AS duration_ms, sum(timed_events) AS timed_events
    FROM items
    GROUP BY dt, hour, pk
),
days AS (
    -- a day's counters are the sums of its hours' (orders, a distinct count, are counted apart)
    SELECT dt, 'd' AS resolution, concat('d#', dt, 'T00:00:00Z') AS sk, pk,
           sum(events) AS events, sum(errors) AS errors, sum(revenue) AS revenue,
           sum(duration_ms) AS duration_ms, sum(timed_events) AS timed_events
    FROM hours
    GROUP BY dt, pk
),
orders AS (
    SELECT concat('h#', dt, 'T', hour, ':00:00Z') AS sk, count(DISTINCT order_id) AS orders
    FROM scoped WHERE event_type = 'purchase' AND order_id IS NOT NULL
    GROUP BY dt, hour
    UNION ALL
    SELECT concat('d#', dt, 'T00:00:00Z') AS sk, count(DISTINCT order_id) AS orders
    FROM scoped WHERE event_type = 'purchase' AND order_id IS NOT NULL
    GROUP BY dt
),
windows AS (
    SELECT * FROM hours
    UNION ALL
    SELECT * FROM days
)
SELECT w.dt, w.resolution, w.sk, w.pk,
       cast(w.events AS bigint) AS events,
       cast(w.errors AS bigint) AS errors,
       cast(coalesce(w.revenue, 0) AS DECIMAL(38, 6)) AS revenue,
       coalesce(o.orders, 0) AS orders,
       cast(coalesce(w.duration_ms, 0) AS bigint) AS duration_ms,
       cast(w.timed_events AS bigint) AS timed_events
FROM windows AS w
LEFT JOIN orders AS o ON w.pk = 'all' AND o.sk = w.sk
ORDER BY w.sk, w.pk
