"""Sizing the AWS deployment for a traffic profile: numbers in, numbers out (pure, no I/O).

`estimate(Workload(...))` sizes what infra/cdk deploys for a traffic profile: Kinesis shards,
Lambda concurrency, DynamoDB write units and the hot-key risk of the pre-aggregated counters,
Firehose partitions and files, S3 volume, and a monthly cost per service. It models the
deployment defaults in `clickstream.deployment_defaults`, which the CDK app imports too, so the
estimate describes the system that `cdk deploy` creates.

The costs, and the prices they assume (never fetched: verify before budgeting), are
`clickstream.capacity.pricing`'s; every price is printed with the estimate. The values in and out
are `clickstream.capacity.model`'s.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from clickstream.capacity.model import (
    Batching,
    DynamoDbEstimate,
    Estimate,
    FirehoseEstimate,
    HotKey,
    KinesisEstimate,
    LambdaEstimate,
    S3Estimate,
    Workload,
)
from clickstream.capacity.pricing import DAYS_PER_MONTH, GIB, PRICES_NOTE, Prices, monthly_costs
from clickstream.constants import EVENT_TYPES, PUT_RECORDS_MAX
from clickstream.deployment_defaults import SpeedLayerDefaults
from clickstream.metrics.definitions import TOP_DIMENSIONS, TOP_RESOLUTIONS, UNIQUE_FIELDS, UNIQUE_RESOLUTIONS

# --- AWS limits -------------------------------------------------------------------------
KINESIS_SHARD_RECORDS_PER_S = 1_000  # Kinesis: 1 000 records/s written per shard
KINESIS_SHARD_BYTES_PER_S = 1024 * 1024  # Kinesis: 1 MB/s (1 MiB) written per shard, data + partition key
DYNAMODB_PARTITION_WCU_PER_S = 1_000  # DynamoDB: 1 000 write units/s per partition (so per item)
DYNAMODB_WRITE_UNIT_BYTES = 1024  # one write unit covers an item of up to 1 KB
THROTTLE_HEADROOM = 1.25  # the collector throttle should clear the peak by this much
LAMBDA_POLL_INTERVAL_S = 1.0  # without a batching window the event source mapping polls a shard ~once a second
FIREHOSE_ACTIVE_PARTITIONS_LIMIT = 500  # Firehose dynamic partitioning: active partitions per stream (default quota)
# Realtime items per counter key: minute, hour and day windows (docs/METRICS.md "Windows and lateness").
WINDOWS_PER_KEY = 3
# Besides counters, each batch merges these sketch items (uniques per h/d, top URLs/statuses per h)
# and writes one freshness item: all of them once per batch, like the `all` counters.
SKETCH_ITEMS_PER_BATCH = len(UNIQUE_FIELDS) * len(UNIQUE_RESOLUTIONS) + len(TOP_DIMENSIONS) * len(TOP_RESOLUTIONS)


def distinct_expected(cardinality: int, draws: float) -> float:
    """Expected distinct values among `draws` uniform picks from `cardinality` values."""
    if cardinality <= 0 or draws <= 0:
        return 0.0
    return cardinality * (1.0 - (1.0 - 1.0 / cardinality) ** draws)


def shards_needed(records_per_s: float, record_bytes: int) -> tuple[int, int, int]:
    """(shards, by records, by bytes): the larger of records/s ÷ 1 000 and bytes/s ÷ 1 MiB, at least 1."""
    by_records = math.ceil(records_per_s / KINESIS_SHARD_RECORDS_PER_S)
    by_bytes = math.ceil(records_per_s * record_bytes / KINESIS_SHARD_BYTES_PER_S)
    return max(1, by_records, by_bytes), by_records, by_bytes


def batching(events_per_s: float, shards: int, speed: SpeedLayerDefaults) -> Batching:
    """Invocations happen when a batch is full or the window (at least the ~1 s poll) has passed."""
    per_stream = events_per_s / (shards * speed.parallelization_factor)
    wait = max(float(speed.batching_window_s), LAMBDA_POLL_INTERVAL_S)
    interval = min(speed.batch_size / per_stream, wait) if per_stream > 0 else wait
    return Batching(per_stream * interval, interval, shards * speed.parallelization_factor / interval)


def counter_keys_per_batch(w: Workload, events: float) -> float:
    """Distinct realtime partition keys one batch touches: all, type#, url#, status#, product#."""
    return (
        1.0
        + distinct_expected(len(EVENT_TYPES), events)
        + distinct_expected(w.distinct_urls, events)
        + distinct_expected(w.distinct_statuses, events)
        + distinct_expected(w.distinct_products, events * w.product_share)
    )


def estimate(w: Workload, prices: Prices | None = None) -> Estimate:
    """Size the deployment for `w` (peaks for limits, averages for cost)."""
    p = prices or Prices()
    peak = w.rps * w.peak_factor
    record_bytes = w.bytes_per_event + w.partition_key_bytes
    shards, by_records, by_bytes = shards_needed(peak, record_bytes)
    at_peak = batching(peak, shards, w.speed)
    on_average = batching(w.rps, shards, w.speed)
    items_peak = WINDOWS_PER_KEY * counter_keys_per_batch(w, at_peak.events_per_batch)
    items_avg = WINDOWS_PER_KEY * counter_keys_per_batch(w, on_average.events_per_batch)
    wcu_per_item = math.ceil(w.counter_item_bytes / DYNAMODB_WRITE_UNIT_BYTES)
    wcu_per_sketch = math.ceil(w.sketch_item_bytes / DYNAMODB_WRITE_UNIT_BYTES)
    # Per batch: the counter items, the sketch merges and the freshness item.
    fixed_wcu = SKETCH_ITEMS_PER_BATCH * wcu_per_sketch + wcu_per_item
    # The `all` counters, every sketch and the freshness item take one write per batch: the hottest
    # keys. The heaviest of them decides the risk.
    heaviest = max(wcu_per_item, wcu_per_sketch)
    hot_wcu = at_peak.batches_per_s * heaviest
    utilisation = hot_wcu / DYNAMODB_PARTITION_WCU_PER_S
    risk = "low" if utilisation < 0.5 else "medium" if utilisation < 1 else "high"
    dynamodb = DynamoDbEstimate(
        counter_keys_per_batch=round(items_peak / WINDOWS_PER_KEY, 2),
        item_updates_per_batch=round(items_peak + SKETCH_ITEMS_PER_BATCH + 1, 2),
        wcu_per_s_peak=round(at_peak.batches_per_s * (items_peak * wcu_per_item + fixed_wcu), 1),
        wcu_per_s_average=round(on_average.batches_per_s * (items_avg * wcu_per_item + fixed_wcu), 1),
        wcu_per_s_if_per_event=round(peak * WINDOWS_PER_KEY * 4 * wcu_per_item, 1),  # all, type, url, status
        hot_key=HotKey(
            "uniq#users (sketch)" if wcu_per_sketch > wcu_per_item else "all (counters)",
            round(at_peak.batches_per_s, 2),
            round(hot_wcu, 2),
            DYNAMODB_PARTITION_WCU_PER_S,
            round(utilisation, 4),
            risk,
        ),
    )
    requests_peak = peak / w.events_per_request
    rate_limit = w.collector_api.rate_limit_rps
    rate_needed = max(100, math.ceil(requests_peak * THROTTLE_HEADROOM / 100) * 100)
    lambdas = LambdaEstimate(
        stream_processor_concurrency=shards * w.speed.parallelization_factor,
        parallelization_factor=w.speed.parallelization_factor,
        events_per_batch=round(at_peak.events_per_batch, 1),
        batch_interval_s=round(at_peak.batch_interval_s, 3),
        batches_per_s=round(at_peak.batches_per_s, 2),
        collector_requests_per_s=round(requests_peak, 1),
        collector_concurrency=max(1, math.ceil(requests_peak * w.collector_ms_per_request / 1000)),
        collector_rate_limit_rps=rate_limit,
        collector_rate_limit_needed_rps=rate_needed,
    )
    warnings = []
    if requests_peak * THROTTLE_HEADROOM > rate_limit:
        warnings.append(
            f"the collector API throttles at {rate_limit:,} requests/s, and the peak is {requests_peak:,.0f} "
            f"requests/s ({peak:,.0f} events/s at {w.events_per_request} per request): clients would get 429s. "
            f"Deploy with -c apiRateLimit={rate_needed} -c apiBurstLimit={2 * rate_needed} (25 % headroom), "
            "and raise the account's API Gateway quota if it is lower"
        )
    firehose = _firehose(w)
    s3 = _s3(w)
    costs, alternative, kinesis = monthly_costs(w, p, shards, on_average, dynamodb.wcu_per_s_average, firehose, s3)
    kinesis_est = KinesisEstimate(
        shards=shards,
        shards_by_records=by_records,
        shards_by_bytes=by_bytes,
        peak_records_per_s=round(peak, 1),
        peak_mib_per_s=round(peak * record_bytes / KINESIS_SHARD_BYTES_PER_S, 3),
        put_records_calls_per_s=round(peak / PUT_RECORDS_MAX, 2),
        **kinesis,
    )
    return Estimate(
        workload={k: v for k, v in asdict(w).items()},
        kinesis=kinesis_est,
        lambdas=lambdas,
        dynamodb=dynamodb,
        firehose=firehose,
        s3=s3,
        monthly_cost_usd=costs,
        kinesis_alternative_usd=alternative,
        pricing_assumptions=[PRICES_NOTE, *p.listed()],
        assumptions=_assumptions(w),
        warnings=warnings,
    )


def _firehose(w: Workload) -> FirehoseEstimate:
    bytes_per_s = w.rps * (w.bytes_per_event + 1)  # + the newline Firehose appends to each record
    fill_s = w.delivery.buffer_mib * 1024 * 1024 / bytes_per_s
    flush_every = min(float(w.delivery.buffer_interval_s), fill_s)
    per_partition = math.ceil(3600 / flush_every)
    return FirehoseEstimate(
        # Partitions are dt/hour of arrival: one is open, two while the closing hour's buffer drains.
        active_partitions_steady=1,
        active_partitions_at_hour_boundary=2,
        active_partitions_limit=FIREHOSE_ACTIVE_PARTITIONS_LIMIT,
        flush_every_s=round(flush_every, 1),
        files_per_partition=per_partition,
        files_per_day=24 * per_partition,
        avg_object_mib=round(bytes_per_s * 3600 * w.gzip_ratio / per_partition / 2**20, 3),
    )


def _s3(w: Workload) -> S3Estimate:
    raw_day = w.rps * w.bytes_per_event * 86400 / GIB
    stored_day = raw_day * w.gzip_ratio
    r, lc = w.retention_days, w.lifecycle
    days = {
        "STANDARD": min(r, lc.infrequent_access_after_days),
        "STANDARD_IA": max(0, min(r, lc.glacier_after_days) - lc.infrequent_access_after_days),
        lc.archive_storage_class: max(0, r - lc.glacier_after_days),
    }
    return S3Estimate(
        raw_gib_per_day=round(raw_day, 3),
        stored_gib_per_day=round(stored_day, 3),
        stored_gib_per_month=round(stored_day * DAYS_PER_MONTH, 2),
        steady_state_gib={cls: round(stored_day * n, 2) for cls, n in days.items()},
    )


def _assumptions(w: Workload) -> list[str]:
    s, d = w.speed, w.delivery
    return [
        f"peak = {w.peak_factor} x average; shards, concurrency and hot keys are sized at the peak, costs at the average",
        f"Kinesis record = event + {w.partition_key_bytes}-byte partition key (user_id), keys spread evenly over shards",
        f"speed layer: batch size {s.batch_size}, batching window {s.batching_window_s} s, "
        f"parallelization factor {s.parallelization_factor}, {s.memory_mb} MB, "
        f"{w.processor_ms_per_batch} ms + {w.processor_ms_per_event} ms/event per batch",
        f"realtime counters: one update per (key, window) per batch, {WINDOWS_PER_KEY} windows (m|h|d) per key; "
        f"keys: all, {len(EVENT_TYPES)} event types, {w.distinct_urls} URLs, {w.distinct_statuses} statuses, "
        f"{w.distinct_products} products on {w.product_share:.0%} of events (uniform draws)",
        f"counter item {w.counter_item_bytes} B, sketch item {w.sketch_item_bytes} B (1 write unit per started KB); "
        f"{SKETCH_ITEMS_PER_BATCH} sketch merges and 1 freshness write per batch",
        f"collector: {w.events_per_request} events per request, {w.collector_ms_per_request} ms, "
        f"{w.collector_memory_mb} MB per request",
        f"Firehose buffer {d.buffer_mib} MiB / {d.buffer_interval_s} s, partitions dt/hour of arrival, "
        f"gzip output at {w.gzip_ratio:.0%} of the raw size",
        f"lake lifecycle: Standard-IA after {w.lifecycle.infrequent_access_after_days} days, "
        f"{w.lifecycle.archive_storage_class} after {w.lifecycle.glacier_after_days} days (GETs stay instant; "
        f"reading it back costs $0.03/GB, not included), raw kept {w.retention_days} days",
        f"CloudWatch: {w.alarms} alarms and one dashboard; logs, X-Ray, data transfer and KMS not included",
    ]
