-- Generated from clickstream/catalog.py by `python -m clickstream.sqlfiles`; do not edit.
-- Raw events as collected (NDJSON.gz), partitioned by arrival dt/hour.
CREATE EXTERNAL TABLE IF NOT EXISTS raw_events (
  `event_id`       string,
  `event_type`     string,
  `user_id`        string,
  `session_id`     string,
  `timestamp`      string,
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
  `received_at`    string,
  `schema_version` tinyint
)
COMMENT 'Raw events as collected (NDJSON.gz), partitioned by arrival dt/hour'
PARTITIONED BY (`dt` string, `hour` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://{{ bucket }}/raw/events/'
TBLPROPERTIES (
  'classification' = 'json',
  'compressionType' = 'gzip',
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2025-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = 's3://{{ bucket }}/raw/events/dt=${dt}/hour=${hour}/'
)
