"""Names and limits that every layer shares. No I/O here.

Environment-variable names live here so the CDK app, the local stack, the Lambdas and the
CLI all spell them the same way: a rename breaks the build, not production.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "click",
    "scroll",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
)

# --- Collector limits (same as the Segment/Snowplow collectors) -------------------------
MAX_EVENT_BYTES = 32 * 1024  # one event, serialised
MAX_REQUEST_BYTES = 500 * 1024  # one HTTP request body (after decompression)
MAX_BATCH_EVENTS = 500  # events in one request
MAX_PROPERTIES_BYTES = 16 * 1024  # the free-form `properties` object, serialised

# --- AWS service limits -----------------------------------------------------------------
PUT_RECORDS_MAX = 500  # Kinesis: 500 records / 5 MiB per PutRecords call
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024
# Back-pressure (clickstream.collector.admission): a request waits at most this long for one of
# the collector's write slots, then its write (retries included) gets this long before the answer
# is 503 + Retry-After. Together well under the 30 s a client usually waits, so an overloaded
# stream shows as 503s, not as client timeouts.
COLLECTOR_WRITE_SLOTS = 4  # stream writes at once per collector process
COLLECTOR_SLOT_WAIT_SECONDS = 2.0
STREAM_WRITE_DEADLINE_SECONDS = 5.0
# The collector Lambda's timeout (infra/cdk). Its AWS calls end RESPONSE_MARGIN_SECONDS before it
# (`clickstream.deadline`, `_clients.RequestBoundClient`), so a stalled stream is answered 503.
COLLECTOR_LAMBDA_TIMEOUT_SECONDS = 10
KINESIS_RECORD_MAX_BYTES = 1024 * 1024  # Kinesis: 1 MiB per record (data + partition key)

# --- Defaults ---------------------------------------------------------------------------
DEFAULT_STAGE = "local"
DEFAULT_REGION = "us-east-1"
LOCAL_AWS_HOST = "127.0.0.1"
LOCAL_AWS_PORT = 4566  # LocalStack's edge port, so awslocal/localstack-client work against either
DEFAULT_COLLECTOR_PORT = 8000
DEFAULT_API_PORT = 8001  # the query API and live dashboard (read key), apart from ingest
DEFAULT_SIMULATE_RATE = 20.0  # events/s of `make up`'s simulator (`clickstream local up --simulate`)
DEFAULT_API_CACHE_MS = 1000  # identical API reads within this window share one DynamoDB request
DEFAULT_AIRFLOW_PORT = 8080
DEFAULT_PROMETHEUS_PORT = 9090
DEFAULT_SHARD_COUNT = 2
DEFAULT_LATENESS_SECONDS = 24 * 3600
DEFAULT_CLOCK_SKEW_SECONDS = 300
LOCAL_WRITE_KEY = "local-write-key"  # only ever the default for stage=local
LOCAL_READ_KEY = "local-read-key"  # the query API's key; never the write key (stage=local default)
SESSION_GAP_SECONDS = 30 * 60  # docs/METRICS.md "Sessions": a user's events with gaps < 30 min form one session

# --- Environment variable names (shared with infra/cdk) ---------------------------------
ENV_STAGE = "CLICKSTREAM_STAGE"
ENV_REGION = "AWS_REGION"
ENV_ENDPOINT = "AWS_ENDPOINT_URL"
ENV_TRANSPORT = "CLICKSTREAM_TRANSPORT"
ENV_KAFKA_BOOTSTRAP = "CLICKSTREAM_KAFKA_BOOTSTRAP"
ENV_WRITE_KEY = "CLICKSTREAM_WRITE_KEY"
ENV_HOME = "CLICKSTREAM_HOME"
ENV_BUCKET = "CLICKSTREAM_BUCKET"
ENV_STREAM = "CLICKSTREAM_STREAM"
ENV_TOPIC = "CLICKSTREAM_TOPIC"
ENV_SHARDS = "CLICKSTREAM_SHARDS"
ENV_COLLECTOR_PORT = "CLICKSTREAM_COLLECTOR_PORT"
ENV_LATENESS = "CLICKSTREAM_LATENESS_SECONDS"
ENV_CLOCK_SKEW = "CLICKSTREAM_CLOCK_SKEW_SECONDS"
ENV_READ_KEY = "CLICKSTREAM_READ_KEY"
ENV_API_PORT = "CLICKSTREAM_API_PORT"
ENV_API_CACHE_MS = "CLICKSTREAM_API_CACHE_MS"  # how long identical API reads are shared (0: off)
ENV_QUERY_ENGINE = "CLICKSTREAM_QUERY_ENGINE"  # "athena" (AWS) or "local" (DuckDB over the lake)
ENV_BATCH_TABLE = "CLICKSTREAM_BATCH_TABLE"
ENV_AIRFLOW_PORT = "CLICKSTREAM_AIRFLOW_PORT"
ENV_PROMETHEUS_PORT = "CLICKSTREAM_PROMETHEUS_PORT"
ENV_BATCH_START = "CLICKSTREAM_BATCH_START"  # first hour compact_raw_events catches up from (ISO 8601)
ENV_ARCHIVE_SETTLE = "CLICKSTREAM_ARCHIVE_SETTLE_SECONDS"  # how long after an hour its raw objects keep landing

# --- Lambda telemetry (Powertools: lambdas/observability.py; infra/cdk sets the same names) ---
METRICS_NAMESPACE = "clickstream"  # CloudWatch namespace of the Lambdas' EMF metrics
SERVICE_COLLECTOR = "collector"  # Powertools service: the `service` key of each log line and metric dimension
SERVICE_STREAM_PROCESSOR = "stream-processor"
SERVICE_API = "api"
# Metric names (Count; dimensions service and stage), one datapoint per invocation
METRIC_EVENTS_ACCEPTED = "EventsAccepted"  # collector: events written to the stream
METRIC_EVENTS_REJECTED = "EventsRejected"  # collector: records stored as bad rows
METRIC_UNAVAILABLE = "Unavailable"  # collector: 1 when it answered 503 (stream or bad-rows store not durable)
METRIC_RECORDS = "Records"  # stream processor: records delivered
METRIC_BATCHES = "Batches"  # stream processor: shard (or Kafka partition) batches delivered
METRIC_FAILED_BATCHES = "FailedBatches"  # stream processor: batches reported in batchItemFailures
METRIC_BAD_ROWS = "BadRows"  # stream processor: records kept as bad rows (invalid, too late, out of range)
METRIC_DUPLICATES = "Duplicates"  # stream processor: producer duplicates dropped (an event_id seen before)
METRIC_SERVER_ERRORS = "ServerErrors"  # query API: 1 when the app answered 5xx

# --- S3 layout (docs/ARCHITECTURE.md "Storage layout") ----------------------------------
RAW_EVENTS_PREFIX = "raw/events"
RAW_BAD_PREFIX = "raw/bad"
RAW_IDENTITIES_PREFIX = "raw/identities"  # Segment identify/group/alias: kept, not counted
CURATED_EVENTS_PREFIX = "curated/events"
CURATED_METRICS_PREFIX = "curated/metrics"
QUARANTINE_PREFIX = "quarantine"
COMPACTION_JOB = "compact_raw_events"  # the compaction's job and DAG id; names its manifests
BATCH_METRICS_JOB = "batch_metrics"  # the batch metrics job; names its manifests (retired versions)
MANIFESTS_PREFIX = "manifests"  # compaction's record of the raw objects each arrival hour had
STREAM_RETENTION_HOURS = 24  # the Kinesis stream keeps records this long (resources.StreamSpec)
# How far back each compaction run looks for raw objects that landed after their arrival hour was
# compacted: Firehose retries a failed S3 delivery until its source stream's retention ends.
LATE_OBJECT_LOOKBACK_HOURS = STREAM_RETENTION_HOURS
QUALITY_PREFIX = "quality"  # Great Expectations results per run (JSON + Data Docs HTML)
# A batch job's intermediate results (the compaction's parsed and checked batch, its publish before
# the copies): written by the engine, deleted by the run, expired by a lifecycle rule after a crash.
STAGING_PREFIX = "staging"
STAGING_EXPIRY_DAYS = 2
ATHENA_RESULTS_PREFIX = "athena-results"
# Export jobs (POST /v1/exports): the engine's files and the job's record, under exports/<id>/,
# downloaded through links that expire; a lifecycle rule deletes them after this many days.
EXPORTS_PREFIX = "exports"
EXPORTS_EXPIRY_DAYS = 7

# The realtime table's window items are spread over this many partition keys per resolution
# (`win#<m|h|d>#<group>`, group = CRC-32 of the shard mod this; docs/adr/0010): at 200 shards about
# 13 shards share one. A partition key takes at most 1,000 WCU/s. Raising it later keeps old items
# readable (readers ask every group a shard maps to); lowering it does not.
REALTIME_KEY_GROUPS = 16

# --- Athena's limits (AWS docs: Athena "Service Quotas", "CTAS and INSERT INTO limitations") -----
# What the batch layer and the query engine must respect in AWS, named once.
ATHENA_MAX_PARTITIONS_PER_WRITE = 100  # one CTAS, INSERT INTO or UNLOAD writes at most 100 partitions
ATHENA_DML_TIMEOUT_DEFAULT_S = 30 * 60  # a DML query is cancelled after 30 min by default ...
ATHENA_DML_TIMEOUT_MAX_S = 240 * 60  # ... and after at most 240 min with a quota increase
ATHENA_RESULT_PAGE_ROWS = 1000  # GetQueryResults returns at most 1,000 rows per call
ATHENA_QUERY_MAX_BYTES = 262_144  # a query string is at most 256 KiB (UTF-8)
ATHENA_SCAN_CUTOFF_GB = 100  # the workgroup's per-query scan cutoff (CDK context athenaScanLimitGb)
