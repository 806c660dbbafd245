-- Generated from clickstream/events/schema.py by `python -m clickstream.sqlfiles`; do not edit.
-- The parse of lines held in memory (clickstream/jobs/compact_parse.py, for the spikes and the
-- parse's unit tests): one batch of raw lines, numbered ("_row": in the batch, "_obj": the raw
-- object, "_rec": the line in it), → the typed frame, with the rules of include/parse_event.sql.
-- The compaction job includes the same rules in its stage over the lake's `raw_lines`
-- (clickstream/jobs/compact_sql.py, docs/adr/0011-compaction-as-sql.md).
WITH raw AS (
    SELECT "_row", "_obj", "_rec", line FROM raw_lines
),
{{> include/parse_event.sql }}
SELECT "_row",
       "event_id",
       "event_type",
       "user_id",
       "session_id",
       "event_time",
       "url",
       "referrer",
       "user_agent",
       "browser",
       "os",
       "device",
       "ip_address",
       "http_status",
       "product_id",
       "order_id",
       "currency",
       "price",
       "quantity",
       "duration_ms",
       "properties",
       "received_at",
       "schema_version",
       _invalid_types,
       "_obj",
       "_rec",
       is_object,
       bad_line
FROM parsed
