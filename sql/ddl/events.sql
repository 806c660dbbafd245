-- Generated from clickstream/catalog.py by `python -m clickstream.sqlfiles`; do not edit.
-- Valid, deduplicated events (Parquet, zstd), partitioned by event-time dt/hour.
-- No partition projection: the compaction job registers each partition's current version in Glue.
CREATE EXTERNAL TABLE IF NOT EXISTS events (
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
  `http_status`    smallint,
  `product_id`     string,
  `order_id`       string,
  `currency`       string,
  `price`          double,
  `quantity`       int,
  `duration_ms`    bigint,
  `properties`     string,
  `received_at`    timestamp,
  `schema_version` tinyint
)
COMMENT 'Valid, deduplicated events (Parquet, zstd), partitioned by event-time dt/hour'
PARTITIONED BY (`dt` string, `hour` string)
STORED AS PARQUET
LOCATION 's3://{{ bucket }}/curated/events/'
TBLPROPERTIES (
  'classification' = 'parquet',
  'clickstream.versioned' = 'true'
)
