"""DynamoDB: the realtime table (the speed layer's counters, sketches and live feed) and the batch
table (the batch view, drift, job runs), plus the call helpers and housekeeping they share.

`tables` holds the helpers (`call`, `query_partition`, `TableAdmin`); `pool` the thread pool and
retries the counters table writes through; `counters`, `recent_feed`, `batch_view` and `runs` one
item family each.
"""

from clickstream.adapters.dynamodb.batch_view import ENGAGEMENT_PK, UNIQUE_COUNT, BatchView, drift_pk
from clickstream.adapters.dynamodb.counters import (
    Claim,
    CountersTable,
    NullCounters,
    SketchUpdate,
    WriteStats,
    encode_position,
)
from clickstream.adapters.dynamodb.recent_feed import RecentFeed
from clickstream.adapters.dynamodb.runs import latest_run, record_run, run_history, run_pk
from clickstream.adapters.dynamodb.tables import TableAdmin, call, query_partition

__all__ = [
    "ENGAGEMENT_PK",
    "UNIQUE_COUNT",
    "BatchView",
    "Claim",
    "CountersTable",
    "NullCounters",
    "RecentFeed",
    "SketchUpdate",
    "TableAdmin",
    "WriteStats",
    "call",
    "drift_pk",
    "encode_position",
    "latest_run",
    "query_partition",
    "record_run",
    "run_history",
    "run_pk",
]
