-- Generated from clickstream/catalog.py by `python -m clickstream.sqlfiles`; do not edit.
-- The parsed, checked batch of one compaction run (staging; dropped by the run).
-- No partition projection: the compaction job registers each partition's current version in Glue.
CREATE EXTERNAL TABLE IF NOT EXISTS compaction_batch (
  `event_id`       string,
  `event_type`     string,
  `user_id`        string,
  `session_id`     string,
  `event_time`     timestamp,
  `url`            string,
  `referrer`       string,
  `user_agent`     string,
  `browser`        string,
  `os`             string,
  `device`         string,
  `ip_address`     string,
  `http_status`    bigint,
  `product_id`     string,
  `order_id`       string,
  `currency`       string,
  `price`          double,
  `quantity`       bigint,
  `duration_ms`    bigint,
  `properties`     string,
  `received_at`    timestamp,
  `schema_version` bigint,
  `_invalid_types` string,
  `_source`        string,
  `_malformed`     boolean,
  `_failed`        string,
  `_raw`           string
)
COMMENT 'The parsed, checked batch of one compaction run (staging; dropped by the run)'
PARTITIONED BY (`run` string, `part` string)
STORED AS PARQUET
LOCATION 's3://{{ bucket }}/staging/compact_raw_events/'
TBLPROPERTIES (
  'classification' = 'parquet',
  'clickstream.versioned' = 'true'
)
