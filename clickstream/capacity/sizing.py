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
from clickstream.constants import REALTIME_KEY_GROUPS as KEY_GROUPS
from clickstream.deployment_defaults import SpeedLayerDefaults
from clickstream.metrics.definitions import TOP_DIMENSIONS, TOP_RESOLUTIONS, UNIQUE_FIELDS, UNIQUE_RESOLUTIONS

# --- AWS limits -------------------------------------------------------------------------
KINESIS_SHARD_RECORDS_PER_S = 1_000  # Kinesis: 1 000 records/s written per shard
KINESIS_SHARD_BYTES_PER_S = 1024 * 1024  # Kinesis: 1 MB/s (1 MiB) written per shard, data + partition key
DYNAMODB_PARTITION_WCU_PER_S = 1_000  # DynamoDB: 1 000 write units/s per partition (so per item)
DYNAMODB_WRITE_UNIT_BYTES = 1024  # one write unit covers an item of up to 1 KB
DYNAMODB_ITEM_MAX_BYTES = 400 * 1024  # DynamoDB: an item is at most 400 KB, names and values included
HOT_WARNING = 0.5  # warn when an item or a partition key takes half of its 1 000 WCU/s
THROTTLE_HEADROOM = 1.25  # the collector throttle should clear the peak by this much
LAMBDA_POLL_INTERVAL_S = 1.0  # without a batching window the event source mapping polls a shard ~once a second
FIREHOSE_ACTIVE_PARTITIONS_LIMIT = 500  # Firehose dynamic partitioning: active partitions per stream (default quota)
# Window items a batch writes per shard: minute, hour and day (docs/METRICS.md "Windows and lateness").
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
    dynamodb, dynamodb_warnings = _dynamodb(w, shards, peak, at_peak, on_average)
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
    warnings = list(dynamodb_warnings)
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


def window_cells(w: Workload, events: float) -> float:
    """Expected cells in one shard's window item after `events` events: all, event types, statuses,
    URLs and products seen (uniform draws)."""
    return counter_keys_per_batch(w, events)


def window_item_bytes(w: Workload, events: float) -> int:
    return math.ceil(w.window_item_overhead_bytes + w.bytes_per_cell * window_cells(w, events))


def write_units(item_bytes: int) -> int:
    return max(1, math.ceil(item_bytes / DYNAMODB_WRITE_UNIT_BYTES))


def _dynamodb(
    w: Workload, shards: int, peak: float, at_peak: Batching, on_average: Batching
) -> tuple[DynamoDbEstimate, list[str]]:
    """The realtime table (docs/adr/0010-packed-window-counters.md): a batch writes its shard's
    minute, hour and day items once each, the sketch sub-items and the freshness item."""
    per_shard_peak = peak / shards
    per_shard_avg = w.rps / shards
    sizes = {  # the items at the end of their window; minute and hour at the peak rate, day on average
        "minute": window_item_bytes(w, per_shard_peak * 60),
        "hour": window_item_bytes(w, per_shard_peak * 3600),
        "day": window_item_bytes(w, per_shard_avg * 86400),
    }
    wcu_sketch = write_units(w.sketch_item_bytes)
    fixed_wcu = SKETCH_ITEMS_PER_BATCH * wcu_sketch + 1  # the sketch sub-items and the freshness item
    window_wcu = sum(write_units(b) for b in sizes.values())
    writes_per_batch = WINDOWS_PER_KEY + SKETCH_ITEMS_PER_BATCH + 1
    # One writer per item: an item takes one write per batch of its own shard.
    shard_batches_per_s = at_peak.batches_per_s / shards
    heaviest_window = max(sizes, key=lambda k: sizes[k])
    hot_wcu_item = write_units(sizes[heaviest_window])
    hot_item, hot_item_wcu = (
        (f"a shard's {heaviest_window} item (win#)", hot_wcu_item)
        if hot_wcu_item >= wcu_sketch
        else ("a shard's uniq#users sub-item (sketch)", wcu_sketch)
    )
    hot = _hot(hot_item, shard_batches_per_s, shard_batches_per_s * hot_item_wcu)
    # A partition key `win#<res>#<group>` holds the items of about shards / KEY_GROUPS shards.
    shards_per_key = math.ceil(shards / KEY_GROUPS)
    hot_key = _hot(
        f"win#{heaviest_window[0]}#<group> ({shards_per_key} shards of {shards} share one of {KEY_GROUPS} groups)",
        shards_per_key * shard_batches_per_s,
        shards_per_key * shard_batches_per_s * hot_wcu_item,
    )
    # DynamoDB round trips of one batch, in order: claims, window items, sketch reads, sketch
    # writes, two freshness writes, the live feed; each phase fans out on 8 threads.
    round_trips = 1 + 1 + 2 + 2 + 1
    batch_ms = (
        w.processor_ms_per_batch
        + w.processor_ms_per_event * at_peak.events_per_batch
        + round_trips * w.dynamodb_ms_per_request
    )
    capacity = w.speed.batch_size / (batch_ms / 1000)
    estimate_ = DynamoDbEstimate(
        counter_keys_per_batch=round(counter_keys_per_batch(w, at_peak.events_per_batch), 2),
        item_updates_per_batch=writes_per_batch,
        writes_per_event=round(writes_per_batch / at_peak.events_per_batch, 4) if at_peak.events_per_batch else 0.0,
        window_item_bytes=sizes,
        wcu_per_s_peak=round(at_peak.batches_per_s * (window_wcu + fixed_wcu), 1),
        wcu_per_s_average=round(on_average.batches_per_s * (window_wcu + fixed_wcu), 1),
        wcu_per_s_if_per_event=round(peak * WINDOWS_PER_KEY * 4 * 1, 1),  # all, type, url, status; 1 KB items
        hot_key=hot,
        hot_partition_key=hot_key,
        key_groups=KEY_GROUPS,
        batch_ms_with_dynamodb=round(batch_ms, 1),
        shard_events_per_s_capacity=round(capacity, 1),
    )
    warnings = []
    if sizes["day"] > DYNAMODB_ITEM_MAX_BYTES:
        warnings.append(
            f"a shard's day item would hold about {sizes['day']:,} bytes, over DynamoDB's 400 KB item limit: "
            "its batches would fail. Deploy more shards (fewer distinct values per shard) or drop the day "
            "resolution for URLs and products (docs/adr/0010-packed-window-counters.md)"
        )
    if hot.utilisation >= HOT_WARNING:
        warnings.append(
            f"{hot.item} takes {hot.wcu_per_s:g} WCU/s, {hot.utilisation:.0%} of the 1,000 one item can take: "
            "fewer distinct URLs or products per shard (more shards) keep it smaller"
        )
    if hot_key.utilisation >= HOT_WARNING:
        warnings.append(
            f"{hot_key.item} takes {hot_key.wcu_per_s:g} WCU/s, {hot_key.utilisation:.0%} of a partition's 1,000: "
            f"raise KEY_GROUPS (clickstream/adapters/dynamodb/packed.py, now {KEY_GROUPS}) before it reaches 1,000"
        )
    if capacity < per_shard_peak:
        warnings.append(
            f"one shard's invocations sustain about {capacity:,.0f} events/s with {w.dynamodb_ms_per_request:g} ms per "
            f"DynamoDB round trip, below the {per_shard_peak:,.0f} events/s a shard receives at the peak: the "
            "iterator age would grow. Deploy more shards"
        )
    return estimate_, warnings


def _hot(item: str, updates_per_s: float, wcu_per_s: float) -> HotKey:
    utilisation = wcu_per_s / DYNAMODB_PARTITION_WCU_PER_S
    risk = "low" if utilisation < HOT_WARNING else "medium" if utilisation < 1 else "high"
    return HotKey(
        item, round(updates_per_s, 2), round(wcu_per_s, 2), DYNAMODB_PARTITION_WCU_PER_S, round(utilisation, 4), risk
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
        f"realtime counters: per batch, one write of the shard's minute, hour and day item each, holding a cell "
        f"per key seen in the window: all, {len(EVENT_TYPES)} event types, {w.distinct_urls} URLs, "
        f"{w.distinct_statuses} statuses, {w.distinct_products} products on {w.product_share:.0%} of events "
        f"(uniform draws); {w.bytes_per_cell:g} B per cell + {w.window_item_overhead_bytes} B per item",
        f"sketch sub-item {w.sketch_item_bytes} B (1 write unit per started KB); {SKETCH_ITEMS_PER_BATCH} sketch "
        f"merges and 1 freshness write per batch; {w.dynamodb_ms_per_request:g} ms per DynamoDB round trip, "
        f"{KEY_GROUPS} partition-key groups per resolution",
        f"collector: {w.events_per_request} events per request, {w.collector_ms_per_request} ms, "
        f"{w.collector_memory_mb} MB per request",
        f"Firehose buffer {d.buffer_mib} MiB / {d.buffer_interval_s} s, partitions dt/hour of arrival, "
        f"gzip output at {w.gzip_ratio:.0%} of the raw size",
        f"lake lifecycle: Standard-IA after {w.lifecycle.infrequent_access_after_days} days, "
        f"{w.lifecycle.archive_storage_class} after {w.lifecycle.glacier_after_days} days (GETs stay instant; "
        f"reading it back costs $0.03/GB, not included), raw kept {w.retention_days} days",
        f"CloudWatch: {w.alarms} alarms and one dashboard; logs, X-Ray, data transfer and KMS not included",
    ]
