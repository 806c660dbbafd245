"""The only modules that talk to AWS or Kafka. Each resource sits behind one adapter, grouped by service.

| subpackage | what |
| --- | --- |
| `streams/` | writing the event stream: Kinesis or Kafka behind one `StreamWriter` |
| `dynamodb/` | the realtime table (counters, sketches, live feed) and the batch table (batch view, runs) |
| `s3/` | the lake bucket's objects: raw NDJSON.gz, bad rows, identities, the compaction's objects |
| `glue/` | the lake's tables: Glue Data Catalog entries and the metric tables' Parquet partitions |
| `query/` | Athena SQL on Athena or on DuckDB, behind one `QueryEngine` |

Each subpackage's `__init__` exports what callers use; modules inside one import each other by
module path, never through that face. Shared by all: `_clients` (the one client factory),
`aws_errors` (one reading of AWS error codes); `cloudformation` deploys the local stack's
template, `inventory` reads what the stack holds. Adapters import only the pure core below them
(`clickstream.settings`, `catalog`, `metrics`, ...), never a service, job or stand-in above
(docs/adr/0006; `make lint` checks it).
"""
