"""What infra/cdk deploys for the speed layer, the raw archive and the lake's lifecycle. Pure.

The CDK app configures the event source mapping, the collector API's throttle, Firehose
buffering and the S3 transitions from these values, and `clickstream.capacity` sizes and
prices the same ones, so the capacity estimate describes the system that `cdk deploy` creates.
"""

from __future__ import annotations

from dataclasses import dataclass

FIREHOSE_DP_MIN_BUFFER_MIB = 64  # dynamic partitioning requires a buffer of at least 64 MiB


@dataclass(frozen=True)
class SpeedLayerDefaults:
    """The stream-processor event source mapping as infra/cdk configures it."""

    # Bigger batches mean fewer pre-aggregated DynamoDB updates per event (see `clickstream.capacity.estimate`);
    # Lambda still caps a batch at 6 MB of payload.
    batch_size: int = 1000
    batching_window_s: int = 2
    # 1: the speed layer's per-shard watermark (docs/ARCHITECTURE.md "Delivery guarantees") assumes one
    # batch of a shard at a time; a higher factor needs per-partition-key watermarks.
    parallelization_factor: int = 1
    retry_attempts: int = 3
    max_record_age_s: int = 3600  # older records are left to the batch layer, which reads the raw archive
    memory_mb: int = 1024


@dataclass(frozen=True)
class CollectorApiDefaults:
    """The collector HTTP API's stage throttle (`-c apiRateLimit=` / `-c apiBurstLimit=`)."""

    rate_limit_rps: int = 1000  # requests/s, steady; API Gateway answers 429 above it
    burst_limit: int = 2000


@dataclass(frozen=True)
class RawDeliveryDefaults:
    """Firehose buffering for raw/events/ (the AWS counterpart of the local archiver)."""

    buffer_interval_s: int = 300
    buffer_mib: int = FIREHOSE_DP_MIN_BUFFER_MIB


@dataclass(frozen=True)
class LakeLifecycleDefaults:
    """S3 lifecycle of raw/: Standard, then Standard-IA, then Glacier Instant Retrieval.

    Instant Retrieval, not Flexible Retrieval: a backfill (compaction of old arrival hours) and
    the export's raw tail GET raw objects directly, and a Flexible Retrieval object answers
    InvalidObjectState until someone restores it, which takes hours. Instant Retrieval keeps
    millisecond GETs for $0.004 per GB-month (Flexible: $0.0036) plus $0.03 per GB read back.
    """

    infrequent_access_after_days: int = 30  # Standard-IA's minimum storage duration
    glacier_after_days: int = 90
    archive_storage_class: str = "GLACIER_IR"  # S3's name; the CDK app's transition uses it
    athena_results_expire_days: int = 7


SPEED = SpeedLayerDefaults()
COLLECTOR_API = CollectorApiDefaults()
RAW_DELIVERY = RawDeliveryDefaults()
LIFECYCLE = LakeLifecycleDefaults()
