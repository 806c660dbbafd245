-- Generated from clickstream/events/schema.py by `python -m clickstream.sqlfiles`; do not edit.
-- The event parse: raw NDJSON lines → the contract's typed columns, with its JSON-type rules
-- (clickstream/jobs/compact_parse.py). Not a query on its own: a statement defines a `raw` CTE
-- with a `line` column, then includes this (sql/README.md "Includes"). It defines
--   json_values: raw + event_json (the parsed line; NULL unless the line is a JSON object)
--   json_fields: + v_<field> (each field's JSON value), json_texts: + t_<field> (its JSON text)
--   json_typed:  + each typed column (NULL unless its JSON type is allowed) + h_<field> (a value
--                is present: not missing, not JSON null)
--   parsed:      + _invalid_types (the columns present with a type not allowed),
--                is_object, bad_line (the line, when it is not a JSON object)
-- A JSON value's text starts with `"` for a string, `{` for an object; integers must be JSON
-- integers, doubles any JSON number; a timestamp is an ISO 8601 string.
json_values AS (
    SELECT *,
           CASE WHEN regexp_like(line, '^[ \t\r\n]*[{]') THEN try(json_parse(line)) END AS event_json
    FROM raw
),
json_fields AS (
    SELECT *,
           json_extract(event_json, '$.event_id') AS "v_event_id",
           json_extract(event_json, '$.event_type') AS "v_event_type",
           json_extract(event_json, '$.user_id') AS "v_user_id",
           json_extract(event_json, '$.session_id') AS "v_session_id",
           json_extract(event_json, '$.timestamp') AS "v_timestamp",
           json_extract(event_json, '$.url') AS "v_url",
           json_extract(event_json, '$.referrer') AS "v_referrer",
           json_extract(event_json, '$.user_agent') AS "v_user_agent",
           json_extract(event_json, '$.browser') AS "v_browser",
           json_extract(event_json, '$.os') AS "v_os",
           json_extract(event_json, '$.device') AS "v_device",
           json_extract(event_json, '$.ip_address') AS "v_ip_address",
           json_extract(event_json, '$.http_status') AS "v_http_status",
           json_extract(event_json, '$.product_id') AS "v_product_id",
           json_extract(event_json, '$.order_id') AS "v_order_id",
           json_extract(event_json, '$.currency') AS "v_currency",
           json_extract(event_json, '$.price') AS "v_price",
           json_extract(event_json, '$.quantity') AS "v_quantity",
           json_extract(event_json, '$.duration_ms') AS "v_duration_ms",
           json_extract(event_json, '$.properties') AS "v_properties",
           json_extract(event_json, '$.received_at') AS "v_received_at",
           json_extract(event_json, '$.schema_version') AS "v_schema_version"
    FROM json_values
),
json_texts AS (
    SELECT *,
           json_format("v_event_id") AS "t_event_id",
           json_format("v_event_type") AS "t_event_type",
           json_format("v_user_id") AS "t_user_id",
           json_format("v_session_id") AS "t_session_id",
           json_format("v_timestamp") AS "t_timestamp",
           json_format("v_url") AS "t_url",
           json_format("v_referrer") AS "t_referrer",
           json_format("v_user_agent") AS "t_user_agent",
           json_format("v_browser") AS "t_browser",
           json_format("v_os") AS "t_os",
           json_format("v_device") AS "t_device",
           json_format("v_ip_address") AS "t_ip_address",
           json_format("v_http_status") AS "t_http_status",
           json_format("v_product_id") AS "t_product_id",
           json_format("v_order_id") AS "t_order_id",
           json_format("v_currency") AS "t_currency",
           json_format("v_price") AS "t_price",
           json_format("v_quantity") AS "t_quantity",
           json_format("v_duration_ms") AS "t_duration_ms",
           json_format("v_properties") AS "t_properties",
           json_format("v_received_at") AS "t_received_at",
           json_format("v_schema_version") AS "t_schema_version"
    FROM json_fields
),
json_typed AS (
    SELECT *,
           CASE WHEN substr("t_event_id", 1, 1) = '"' THEN json_extract_scalar("v_event_id", '$') END AS "event_id",
           coalesce("t_event_id" <> 'null', false) AS "h_event_id",
           CASE WHEN substr("t_event_type", 1, 1) = '"' THEN json_extract_scalar("v_event_type", '$') END AS "event_type",
           coalesce("t_event_type" <> 'null', false) AS "h_event_type",
           CASE WHEN substr("t_user_id", 1, 1) = '"' THEN json_extract_scalar("v_user_id", '$') END AS "user_id",
           coalesce("t_user_id" <> 'null', false) AS "h_user_id",
           CASE WHEN substr("t_session_id", 1, 1) = '"' THEN json_extract_scalar("v_session_id", '$') END AS "session_id",
           coalesce("t_session_id" <> 'null', false) AS "h_session_id",
           try(from_iso8601_timestamp(CASE WHEN substr("t_timestamp", 1, 1) = '"' THEN json_extract_scalar("v_timestamp", '$') END)) AS "event_time",
           coalesce("t_timestamp" <> 'null', false) AS "h_timestamp",
           CASE WHEN substr("t_url", 1, 1) = '"' THEN json_extract_scalar("v_url", '$') END AS "url",
           coalesce("t_url" <> 'null', false) AS "h_url",
           CASE WHEN substr("t_referrer", 1, 1) = '"' THEN json_extract_scalar("v_referrer", '$') END AS "referrer",
           coalesce("t_referrer" <> 'null', false) AS "h_referrer",
           CASE WHEN substr("t_user_agent", 1, 1) = '"' THEN json_extract_scalar("v_user_agent", '$') END AS "user_agent",
           coalesce("t_user_agent" <> 'null', false) AS "h_user_agent",
           CASE WHEN substr("t_browser", 1, 1) = '"' THEN json_extract_scalar("v_browser", '$') END AS "browser",
           coalesce("t_browser" <> 'null', false) AS "h_browser",
           CASE WHEN substr("t_os", 1, 1) = '"' THEN json_extract_scalar("v_os", '$') END AS "os",
           coalesce("t_os" <> 'null', false) AS "h_os",
           CASE WHEN substr("t_device", 1, 1) = '"' THEN json_extract_scalar("v_device", '$') END AS "device",
           coalesce("t_device" <> 'null', false) AS "h_device",
           CASE WHEN substr("t_ip_address", 1, 1) = '"' THEN json_extract_scalar("v_ip_address", '$') END AS "ip_address",
           coalesce("t_ip_address" <> 'null', false) AS "h_ip_address",
           CASE WHEN regexp_like("t_http_status", '^-?[0-9]+$') THEN try_cast("t_http_status" AS bigint) END AS "http_status",
           coalesce("t_http_status" <> 'null', false) AS "h_http_status",
           CASE WHEN substr("t_product_id", 1, 1) = '"' THEN json_extract_scalar("v_product_id", '$') END AS "product_id",
           coalesce("t_product_id" <> 'null', false) AS "h_product_id",
           CASE WHEN substr("t_order_id", 1, 1) = '"' THEN json_extract_scalar("v_order_id", '$') END AS "order_id",
           coalesce("t_order_id" <> 'null', false) AS "h_order_id",
           CASE WHEN substr("t_currency", 1, 1) = '"' THEN json_extract_scalar("v_currency", '$') END AS "currency",
           coalesce("t_currency" <> 'null', false) AS "h_currency",
           CASE WHEN regexp_like("t_price", '^-?[0-9]') THEN try_cast("t_price" AS double) END AS "price",
           coalesce("t_price" <> 'null', false) AS "h_price",
           CASE WHEN regexp_like("t_quantity", '^-?[0-9]+$') THEN try_cast("t_quantity" AS bigint) END AS "quantity",
           coalesce("t_quantity" <> 'null', false) AS "h_quantity",
           CASE WHEN regexp_like("t_duration_ms", '^-?[0-9]+$') THEN try_cast("t_duration_ms" AS bigint) END AS "duration_ms",
           coalesce("t_duration_ms" <> 'null', false) AS "h_duration_ms",
           CASE WHEN substr("t_properties", 1, 1) = '{' THEN "t_properties" END AS "properties",
           coalesce("t_properties" <> 'null', false) AS "h_properties",
           try(from_iso8601_timestamp(CASE WHEN substr("t_received_at", 1, 1) = '"' THEN json_extract_scalar("v_received_at", '$') END)) AS "received_at",
           coalesce("t_received_at" <> 'null', false) AS "h_received_at",
           CASE WHEN regexp_like("t_schema_version", '^-?[0-9]+$') THEN try_cast("t_schema_version" AS bigint) END AS "schema_version",
           coalesce("t_schema_version" <> 'null', false) AS "h_schema_version"
    FROM json_texts
),
parsed AS (
    SELECT *,
           nullif(array_join(filter(ARRAY[CASE WHEN "h_event_id" AND "event_id" IS NULL THEN 'event_id' END, CASE WHEN "h_event_type" AND "event_type" IS NULL THEN 'event_type' END, CASE WHEN "h_user_id" AND "user_id" IS NULL THEN 'user_id' END, CASE WHEN "h_session_id" AND "session_id" IS NULL THEN 'session_id' END, CASE WHEN "h_timestamp" AND "event_time" IS NULL THEN 'event_time' END, CASE WHEN "h_url" AND "url" IS NULL THEN 'url' END, CASE WHEN "h_referrer" AND "referrer" IS NULL THEN 'referrer' END, CASE WHEN "h_user_agent" AND "user_agent" IS NULL THEN 'user_agent' END, CASE WHEN "h_browser" AND "browser" IS NULL THEN 'browser' END, CASE WHEN "h_os" AND "os" IS NULL THEN 'os' END, CASE WHEN "h_device" AND "device" IS NULL THEN 'device' END, CASE WHEN "h_ip_address" AND "ip_address" IS NULL THEN 'ip_address' END, CASE WHEN "h_http_status" AND "http_status" IS NULL THEN 'http_status' END, CASE WHEN "h_product_id" AND "product_id" IS NULL THEN 'product_id' END, CASE WHEN "h_order_id" AND "order_id" IS NULL THEN 'order_id' END, CASE WHEN "h_currency" AND "currency" IS NULL THEN 'currency' END, CASE WHEN "h_price" AND "price" IS NULL THEN 'price' END, CASE WHEN "h_quantity" AND "quantity" IS NULL THEN 'quantity' END, CASE WHEN "h_duration_ms" AND "duration_ms" IS NULL THEN 'duration_ms' END, CASE WHEN "h_properties" AND "properties" IS NULL THEN 'properties' END, CASE WHEN "h_received_at" AND "received_at" IS NULL THEN 'received_at' END, CASE WHEN "h_schema_version" AND "schema_version" IS NULL THEN 'schema_version' END], x -> x IS NOT NULL), ','), '')
               AS _invalid_types,
           event_json IS NOT NULL AS is_object,
           CASE WHEN event_json IS NULL THEN line END AS bad_line
    FROM json_typed
)
