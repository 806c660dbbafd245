-- Products per day (event time): views, add_to_carts, checkouts, purchases, units, revenue,
-- orders, per product_id (cut to 256 characters like the speed layer's `product#` items:
-- definitions.dimension_value). Events without a product_id are not in this table.
--
-- views = page_view events of the product; units = Σ coalesce(quantity, 1) of its purchases;
-- revenue = Σ round(price * coalesce(quantity, 1), 6) of its purchases with a price, DECIMAL(38,6);
-- orders = distinct order_id of its purchases; view_to_purchase_rate = purchases / views.
WITH scoped AS (
    SELECT substr(product_id, 1, 256) AS product_id, event_type, order_id, price, quantity, dt
    FROM events
    WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
      AND product_id IS NOT NULL
)
SELECT dt,
       product_id,
       count(CASE WHEN event_type = 'page_view' THEN 1 END) AS views,
       count(CASE WHEN event_type = 'add_to_cart' THEN 1 END) AS add_to_carts,
       count(CASE WHEN event_type = 'checkout' THEN 1 END) AS checkouts,
       count(CASE WHEN event_type = 'purchase' THEN 1 END) AS purchases,
       cast(coalesce(sum(CASE WHEN event_type = 'purchase' THEN coalesce(quantity, 1) END), 0) AS bigint) AS units,
       cast(coalesce(sum(CASE WHEN event_type = 'purchase' AND price IS NOT NULL
                              THEN round(cast(price AS DECIMAL(38, 12)) * coalesce(quantity, 1), 6) END), 0)
            AS DECIMAL(38, 6)) AS revenue,
       count(DISTINCT CASE WHEN event_type = 'purchase' THEN order_id END) AS orders,
       cast(count(CASE WHEN event_type = 'purchase' THEN 1 END) AS double)
           / nullif(count(CASE WHEN event_type = 'page_view' THEN 1 END), 0) AS view_to_purchase_rate
FROM scoped
GROUP BY dt, product_id
ORDER BY dt, product_id
