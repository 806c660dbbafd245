"""Capacity and cost model of the AWS deployment: numbers in, numbers out (pure, no I/O).

`estimate(Workload(...))` sizes what infra/cdk deploys for a traffic profile and prices it per
month. `model` holds the values in and out, `sizing` the AWS limits and the sizing, `pricing`
the assumed prices and AWS's billing rules (`clickstream capacity` prints them all).
"""

from clickstream.capacity.model import Estimate, Workload
from clickstream.capacity.pricing import Prices
from clickstream.capacity.sizing import (
    DYNAMODB_PARTITION_WCU_PER_S,
    KINESIS_SHARD_BYTES_PER_S,
    KINESIS_SHARD_RECORDS_PER_S,
    SKETCH_ITEMS_PER_BATCH,
    distinct_expected,
    estimate,
    shards_needed,
)

__all__ = [
    "DYNAMODB_PARTITION_WCU_PER_S",
    "KINESIS_SHARD_BYTES_PER_S",
    "KINESIS_SHARD_RECORDS_PER_S",
    "SKETCH_ITEMS_PER_BATCH",
    "Estimate",
    "Prices",
    "Workload",
    "distinct_expected",
    "estimate",
    "shards_needed",
]
