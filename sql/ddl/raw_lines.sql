-- Generated from clickstream/catalog.py by `python -m clickstream.sqlfiles`; do not edit.
-- Raw archive lines as they came (NDJSON.gz, one line a row), by arrival dt/hour.
CREATE EXTERNAL TABLE IF NOT EXISTS raw_lines (
  `line` string
)
COMMENT 'Raw archive lines as they came (NDJSON.gz, one line a row), by arrival dt/hour'
PARTITIONED BY (`dt` string, `hour` string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'
WITH SERDEPROPERTIES ('serialization.format' = '1')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://{{ bucket }}/raw/events/'
TBLPROPERTIES (
  'classification' = 'text',
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
