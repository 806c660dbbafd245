-- Generated from clickstream/events/schema.py by `python -m clickstream.sqlfiles`; do not edit.
-- The compaction job's parse (clickstream/jobs/compact_parse.py): one batch of raw lines, as the
-- job numbers them ("_row": in the batch, "_obj": the raw object, "_rec": the line in it), → the
-- typed frame, with the rules of include/parse_event.sql. The job runs it on the local engine
-- over its lines as `raw_lines`; docs/adr/0011-compaction-as-sql.md says what comes next.
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
