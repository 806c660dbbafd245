-- Errors per day (event time): events, errors (http_status >= 400: definitions.is_error) and
-- error rate = errors / events, for dimension 'all' (value 'all'), per 'status' (the HTTP
-- status; a missing status is 200, the contract's default) and per 'url' (the URL path without
-- query string or fragment, at most 256 characters: definitions.url_dimension; events without
-- a url have no url row). Same keys as the speed layer's all / status# / url# items.
WITH scoped AS (
    SELECT dt,
           cast(coalesce(http_status, 200) AS varchar) AS status,
           substr(split_part(split_part(url, '?', 1), '#', 1), 1, 256) AS url_path,
           CASE WHEN coalesce(http_status, 200) >= 400 THEN 1 ELSE 0 END AS is_error
    FROM events
    WHERE dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'
),
cells AS (
    SELECT dt, status, url_path, count(*) AS events, count(CASE WHEN is_error = 1 THEN 1 END) AS errors
    FROM scoped
    GROUP BY dt, status, url_path
),
dims AS (
    SELECT dt, 'all' AS dimension, 'all' AS value, events, errors FROM cells
    UNION ALL
    SELECT dt, 'status' AS dimension, status AS value, events, errors FROM cells
    UNION ALL
    SELECT dt, 'url' AS dimension, url_path AS value, events, errors FROM cells WHERE url_path IS NOT NULL
)
SELECT dt, dimension, value,
       cast(sum(events) AS bigint) AS events,
       cast(sum(errors) AS bigint) AS errors,
       cast(sum(errors) AS double) / sum(events) AS error_rate
FROM dims
GROUP BY dt, dimension, value
ORDER BY dt, dimension, value
