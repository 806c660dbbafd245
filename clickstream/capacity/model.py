"""The capacity model's values: the traffic profile in, the sized deployment out (pure).

`clickstream.capacity.sizing` computes an `Estimate` from a `Workload`; `clickstream.capacity.pricing`
bills it. Both import these types from here, so neither imports the other's module to name them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from clickstream.deployment_defaults import (
    CollectorApiDefaults,
    LakeLifecycleDefaults,
    RawDeliveryDefaults,
    SpeedLayerDefaults,
)


@dataclass(frozen=True)
class Workload:
    """A traffic profile. `rps` is the average event rate; the peak is `rps * peak_factor`."""

    rps: float
    bytes_per_event: int
    retention_days: int
    peak_factor: float = 2.0
    events_per_request: int = 20  # collector batching by the browser SDK
    partition_key_bytes: int = 36  # a UUID user_id: Kinesis counts it against the shard's bytes
    distinct_urls: int = 200
    distinct_products: int = 100
    distinct_statuses: int = 8
    product_share: float = 0.25  # share of events that carry a product_id
    # A shard's window item holds one cell per (dimension, value) of the window: about 10-11 bytes per
    # cell compressed (benchmarks.speed_layer window_item_sizes, BENCHMARKS.md), plus what the rest
    # of the item holds: about 135 bytes counted from its attributes (the names, a pk, an sk with a
    # 20-character Kinesis shard id, the 56-digit wm, the TTL), rounded up to 160 for longer shard
    # names. DynamoDB bills a write per started KB of the item.
    bytes_per_cell: float = 11.0
    window_item_overhead_bytes: int = 160
    sketch_item_bytes: int = 2700  # an HLL_4 lg_k=12 sketch serialises to ~2.6 KB (clickstream.metrics.sketch)
    gzip_ratio: float = 0.2  # compressed / raw size of NDJSON clickstream events (assumption)
    collector_ms_per_request: float = 15.0
    collector_memory_mb: int = 512
    processor_ms_per_batch: float = 40.0
    processor_ms_per_event: float = 0.05
    dynamodb_ms_per_request: float = 10.0  # one DynamoDB round trip from Lambda (single-digit ms typical)
    alarms: int = 13  # tests/infra checks this equals the alarms the Observability stack defines
    speed: SpeedLayerDefaults = field(default_factory=SpeedLayerDefaults)
    collector_api: CollectorApiDefaults = field(default_factory=CollectorApiDefaults)
    delivery: RawDeliveryDefaults = field(default_factory=RawDeliveryDefaults)
    lifecycle: LakeLifecycleDefaults = field(default_factory=LakeLifecycleDefaults)

    def __post_init__(self) -> None:
        if self.rps <= 0 or self.bytes_per_event <= 0 or self.retention_days <= 0:
            raise ValueError("rps, bytes-per-event and retention-days must be positive")
        if self.peak_factor < 1:
            raise ValueError("peak-factor must be at least 1 (peak = average x factor)")
        if self.events_per_request < 1 or self.speed.parallelization_factor not in range(1, 11):
            raise ValueError("events-per-request must be >= 1 and the parallelization factor 1..10")


@dataclass(frozen=True)
class Batching:
    """How the event source mapping cuts one shard's records into invocations."""

    events_per_batch: float
    batch_interval_s: float
    batches_per_s: float


@dataclass(frozen=True)
class KinesisEstimate:
    shards: int
    shards_by_records: int
    shards_by_bytes: int
    peak_records_per_s: float
    peak_mib_per_s: float
    put_records_calls_per_s: float  # at least: the collector sends <= 500 records per PutRecords
    recommended_mode: str
    cdk_context: str
    hint: str


@dataclass(frozen=True)
class LambdaEstimate:
    stream_processor_concurrency: int  # shards x parallelization factor
    parallelization_factor: int
    events_per_batch: float
    batch_interval_s: float
    batches_per_s: float
    collector_requests_per_s: float
    collector_concurrency: int
    collector_rate_limit_rps: int  # the API stage's throttle this estimate assumes
    collector_rate_limit_needed_rps: int  # the peak requests/s with 25 % headroom, rounded up to 100


@dataclass(frozen=True)
class HotKey:
    item: str
    updates_per_s: float
    wcu_per_s: float
    partition_limit_wcu_per_s: int
    utilisation: float
    risk: str


@dataclass(frozen=True)
class DynamoDbEstimate:
    counter_keys_per_batch: float  # logical (dimension, value) keys one batch touches
    item_updates_per_batch: float  # write requests per batch: window items, sketch sub-items, freshness
    writes_per_event: float
    window_item_bytes: dict[str, int]  # a shard's minute / hour / day item, at the end of the window
    wcu_per_s_peak: float
    wcu_per_s_average: float
    wcu_per_s_if_per_event: float  # what one update per event per key would cost
    hot_key: HotKey  # the hottest item: written by one shard, once per batch
    hot_partition_key: HotKey  # the hottest partition key: a resolution's group of shards
    key_groups: int
    batch_ms_with_dynamodb: float  # one batch's processing, DynamoDB round trips included
    shard_events_per_s_capacity: float  # what one shard's invocations sustain at that time per batch


@dataclass(frozen=True)
class FirehoseEstimate:
    active_partitions_steady: int
    active_partitions_at_hour_boundary: int
    active_partitions_limit: int
    flush_every_s: float
    files_per_partition: int  # one partition = one dt/hour
    files_per_day: int
    avg_object_mib: float


@dataclass(frozen=True)
class S3Estimate:
    raw_gib_per_day: float  # uncompressed
    stored_gib_per_day: float  # gzip
    stored_gib_per_month: float
    steady_state_gib: dict[str, float]  # by storage class, after `retention_days`


@dataclass(frozen=True)
class Estimate:
    workload: dict[str, Any]
    kinesis: KinesisEstimate
    lambdas: LambdaEstimate
    dynamodb: DynamoDbEstimate
    firehose: FirehoseEstimate
    s3: S3Estimate
    monthly_cost_usd: dict[str, float]
    kinesis_alternative_usd: dict[str, float]
    pricing_assumptions: list[str]
    assumptions: list[str]
    warnings: list[str] = field(default_factory=list)  # limits the deployment would hit at this workload

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
