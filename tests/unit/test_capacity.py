"""The capacity model against cases worked by hand from AWS's published limits:
Kinesis 1 000 records/s or 1 MiB/s in per shard, 500 records per PutRecords; DynamoDB 1 000
write units/s per partition; Firehose 64 MiB / 300 s buffers."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from click.testing import CliRunner

from clickstream import constants as c
from clickstream.capacity import (
    DYNAMODB_PARTITION_WCU_PER_S,
    KINESIS_SHARD_BYTES_PER_S,
    KINESIS_SHARD_RECORDS_PER_S,
    SKETCH_ITEMS_PER_BATCH,
    Prices,
    Workload,
    distinct_expected,
    estimate,
    shards_needed,
)
from clickstream.cli import main
from clickstream.deployment_defaults import COLLECTOR_API, SPEED


def test_aws_limits_are_the_published_ones() -> None:
    assert KINESIS_SHARD_RECORDS_PER_S == 1_000
    assert KINESIS_SHARD_BYTES_PER_S == 1_048_576
    assert DYNAMODB_PARTITION_WCU_PER_S == 1_000
    assert c.PUT_RECORDS_MAX == 500


@pytest.mark.parametrize(
    ("records_per_s", "record_bytes", "expected"),
    [
        (1_000, 100, (1, 1, 1)),  # exactly the record limit of one shard
        (1_001, 100, (2, 2, 1)),  # one record over it
        (1_000, 1_048, (1, 1, 1)),  # 1 048 000 B/s: just under 1 MiB/s
        (1_000, 1_049, (2, 1, 2)),  # 1 049 000 B/s: bytes decide
        (10, 500_000, (5, 1, 5)),  # 5 000 000 B/s of big records: 4.77 -> 5
        (0.5, 10, (1, 1, 1)),  # never fewer than one shard
    ],
)
def test_shards_are_the_larger_of_records_and_bytes(
    records_per_s: float, record_bytes: int, expected: tuple[int, int, int]
) -> None:
    assert shards_needed(records_per_s, record_bytes) == expected


def test_peak_factor_sizes_shards_and_put_records_calls() -> None:
    # GIVEN 2 500 events/s on average of 64 bytes (+36-byte key), peaking at 2x
    e = estimate(Workload(rps=2_500, bytes_per_event=64, retention_days=7, peak_factor=2))
    # THEN 5 000 records/s need 5 shards, and at 500 records per call at least 10 PutRecords/s
    assert e.kinesis.shards == 5
    assert e.kinesis.peak_records_per_s == 5_000
    assert e.kinesis.put_records_calls_per_s == 10


def test_lambda_concurrency_is_shards_times_parallelization_factor() -> None:
    w = Workload(rps=5_000, bytes_per_event=100, retention_days=7, peak_factor=1)
    assert estimate(w).lambdas.stream_processor_concurrency == 5
    w2 = replace(w, speed=replace(SPEED, parallelization_factor=2))
    assert estimate(w2).lambdas.stream_processor_concurrency == 10


def test_batches_close_when_full_or_when_the_window_passes() -> None:
    # 1 000 events/s per shard, batch 1 000, window 2 s: full after 1 s
    w = Workload(rps=5_000, bytes_per_event=100, retention_days=7, peak_factor=1)
    lam = estimate(w).lambdas
    assert (lam.events_per_batch, lam.batch_interval_s, lam.batches_per_s) == (1_000, 1, 5)
    # 10 events/s on one shard: the 2 s window closes the batch with 20 events
    lam = estimate(replace(w, rps=10)).lambdas
    assert (lam.events_per_batch, lam.batch_interval_s, lam.batches_per_s) == (20, 2, 0.5)


@pytest.mark.parametrize(("rps", "shards"), [(24_000, 24), (200_000, 200), (1_000_000, 1_000)])
def test_the_hottest_item_has_one_writer_whatever_the_shard_count(rps: float, shards: int) -> None:
    # 100-byte events: 1 000 records/s per shard decides; each shard closes a 1 000-event batch per
    # second, and each of its items takes one write per batch (docs/adr/0010)
    e = estimate(Workload(rps=rps, bytes_per_event=100, retention_days=7, peak_factor=1))
    d = e.dynamodb
    assert e.kinesis.shards == shards
    assert d.hot_key.updates_per_s == 1
    assert d.hot_key.wcu_per_s == math.ceil(max(*d.window_item_bytes.values(), 2_700) / 1024)
    assert d.hot_key.wcu_per_s < 500
    # a partition key holds the items of ceil(shards / 16) shards
    assert d.hot_partition_key.updates_per_s == math.ceil(shards / c.REALTIME_KEY_GROUPS)
    assert d.item_updates_per_batch == 3 + SKETCH_ITEMS_PER_BATCH + 1
    assert d.writes_per_event == pytest.approx(10 / 1_000)


def test_window_items_hold_a_cell_per_key_seen_and_writes_bill_their_size() -> None:
    # GIVEN one URL, one status, one product on every event: cells = all + ~8 types + 3
    w = Workload(
        rps=1_000,
        bytes_per_event=100,
        retention_days=7,
        peak_factor=1,
        distinct_urls=1,
        distinct_statuses=1,
        distinct_products=1,
        product_share=1.0,
    )
    d = estimate(w).dynamodb
    cells = 1 + distinct_expected(8, 1_000) + 3
    assert d.counter_keys_per_batch == pytest.approx(cells, abs=0.01)
    assert d.window_item_bytes["minute"] == math.ceil(160 + 11 * (1 + distinct_expected(8, 60_000) + 3))
    # per batch (one a second): 3 window items of 1 write unit, 6 sketch merges of 2 700 B = 3
    # write units each, and 1 freshness write
    assert d.wcu_per_s_peak == pytest.approx(3 + SKETCH_ITEMS_PER_BATCH * 3 + 1, abs=0.1)
    assert d.wcu_per_s_if_per_event == 1_000 * 3 * 4
    # 20 000 URLs: each window item grows past 1 KB and costs a write unit per started KB
    wide = estimate(replace(w, distinct_urls=20_000)).dynamodb
    units = sum(math.ceil(b / 1024) for b in wide.window_item_bytes.values())
    assert units > 3
    assert wide.wcu_per_s_peak == pytest.approx(units + SKETCH_ITEMS_PER_BATCH * 3 + 1, abs=0.1)


def test_a_day_item_past_dynamodbs_item_limit_is_a_warning_that_says_what_to_do() -> None:
    e = estimate(Workload(rps=1_000, bytes_per_event=100, retention_days=7, distinct_urls=100_000))
    assert e.dynamodb.window_item_bytes["day"] > 400 * 1024
    assert any("400 KB item limit" in w and "more shards" in w for w in e.warnings)


def test_dynamodb_latency_bounds_what_a_shard_sustains() -> None:
    quick = estimate(Workload(rps=1_000, bytes_per_event=100, retention_days=7)).dynamodb
    slow_w = Workload(rps=1_000, bytes_per_event=100, retention_days=7, dynamodb_ms_per_request=200.0)
    slow = estimate(slow_w)
    # seven DynamoDB round trips per batch (claims, window items, sketch reads and writes, freshness x2, feed)
    assert slow.dynamodb.batch_ms_with_dynamodb == pytest.approx(quick.batch_ms_with_dynamodb + 7 * 190)
    assert slow.dynamodb.shard_events_per_s_capacity < 1_000
    assert any("iterator age would grow" in w for w in slow.warnings)


@pytest.mark.parametrize(("k", "n", "expected"), [(8, 1, 1.0), (1, 1_000, 1.0), (200, 10**6, 200.0), (5, 0, 0.0)])
def test_distinct_expected(k: int, n: float, expected: float) -> None:
    assert distinct_expected(k, n) == pytest.approx(expected)


def test_firehose_files_follow_the_buffer_that_fills_first() -> None:
    # 1 000 events/s of 999 bytes + newline = 1 000 000 B/s: 64 MiB fills in 67.1 s
    f = estimate(Workload(rps=1_000, bytes_per_event=999, retention_days=7)).firehose
    assert f.flush_every_s == pytest.approx(67.1, abs=0.05)
    assert f.files_per_partition == math.ceil(3600 / (64 * 2**20 / 1e6)) == 54
    assert f.files_per_day == 24 * 54
    assert (f.active_partitions_steady, f.active_partitions_at_hour_boundary) == (1, 2)
    # 1 000 B/s never fills 64 MiB: the 300 s interval flushes, 12 files per hour partition
    f = estimate(Workload(rps=10, bytes_per_event=99, retention_days=7)).firehose
    assert (f.flush_every_s, f.files_per_partition, f.files_per_day) == (300, 12, 288)


def test_s3_volume_and_lifecycle_tiers() -> None:
    # 100 events/s x 1 000 B = 8.64e9 B/day = 8.047 GiB; gzip at 20% = 1.609 GiB/day
    s = estimate(Workload(rps=100, bytes_per_event=1_000, retention_days=365)).s3
    assert s.raw_gib_per_day == pytest.approx(8.047, abs=0.001)
    assert s.stored_gib_per_day == pytest.approx(1.609, abs=0.001)
    per_day = 8.64e9 * 0.2 / 2**30
    assert s.steady_state_gib == pytest.approx(
        {"STANDARD": 30 * per_day, "STANDARD_IA": 60 * per_day, "GLACIER_IR": 275 * per_day}, abs=0.01
    )
    short = estimate(Workload(rps=100, bytes_per_event=1_000, retention_days=10)).s3
    assert short.steady_state_gib["STANDARD_IA"] == short.steady_state_gib["GLACIER_IR"] == 0


def test_kinesis_cost_hand_worked() -> None:
    # 10 events/s of 200 B on one provisioned shard: 730 h x $0.015 + 26.28 M records x 1 PUT unit x $0.014/M
    p = Prices()
    e = estimate(Workload(rps=10, bytes_per_event=200, retention_days=7), p)
    records = 10 * 730 * 3600
    provisioned = 730 * p.kinesis_shard_hour + records / 1e6 * p.kinesis_put_payload_units_per_million
    assert e.kinesis_alternative_usd["provisioned"] == pytest.approx(provisioned, abs=0.01)
    # on-demand: each 236-byte record is billed as 1 KB in, and read by two consumers
    gib = records * 1024 / 2**30
    on_demand = 730 * 0.04 + gib * 0.08 + 2 * gib * 0.04
    assert e.kinesis_alternative_usd["on-demand"] == pytest.approx(on_demand, abs=0.01)
    assert e.kinesis.recommended_mode == "provisioned"
    assert e.monthly_cost_usd["kinesis"] == e.kinesis_alternative_usd["provisioned"]
    total = sum(v for k, v in e.monthly_cost_usd.items() if k != "total")
    assert e.monthly_cost_usd["total"] == pytest.approx(total, abs=0.01)


def test_launch_above_on_demand_start_capacity_is_flagged() -> None:
    e = estimate(Workload(rps=3_000, bytes_per_event=100, retention_days=7, peak_factor=2))
    assert "4 000 records/s" in e.kinesis.hint


@pytest.mark.parametrize(
    "kwargs",
    [{"rps": 0}, {"bytes_per_event": -1}, {"retention_days": 0}, {"peak_factor": 0.5}, {"events_per_request": 0}],
)
def test_invalid_workloads_are_rejected(kwargs: dict[str, float]) -> None:
    base: dict[str, float] = {"rps": 10, "bytes_per_event": 100, "retention_days": 1}
    with pytest.raises(ValueError):
        Workload(**{**base, **kwargs})  # type: ignore[arg-type]


def test_cli_prints_estimate_with_every_price_assumption() -> None:
    result = CliRunner().invoke(
        main, ["capacity", "--rps", "1000", "--bytes-per-event", "800", "--retention-days", "30"]
    )
    assert result.exit_code == 0, result.output
    assert "shards at peak          2" in result.output
    assert "us-east-1 list prices" in result.output
    for line in Prices().listed():
        assert line in result.output


def test_cli_json_is_the_estimate() -> None:
    args = ["capacity", "--rps", "5000", "--bytes-per-event", "100", "--retention-days", "7", "--peak-factor", "1"]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kinesis"]["shards"] == 5
    assert data["lambdas"]["stream_processor_concurrency"] == 5  # one batch per shard at a time
    assert set(data["monthly_cost_usd"]) >= {"kinesis", "lambda", "dynamodb", "firehose", "s3", "total"}


def test_cli_rejects_bad_input() -> None:
    result = CliRunner().invoke(main, ["capacity", "--rps", "0", "--bytes-per-event", "1", "--retention-days", "1"])
    assert result.exit_code == 2
    assert "positive" in result.output


def test_a_peak_above_the_collector_throttle_is_a_warning_with_the_flag_to_deploy() -> None:
    # 1 B events/day: 11,574 events/s on average, 23,148 at the default peak factor, 1,157 requests/s
    billion = Workload(rps=1e9 / 86_400, bytes_per_event=600, retention_days=365)
    e = estimate(billion)
    assert e.lambdas.collector_rate_limit_rps == COLLECTOR_API.rate_limit_rps == 1000
    assert e.lambdas.collector_requests_per_s == pytest.approx(1157.4, abs=0.1)
    assert e.lambdas.collector_rate_limit_needed_rps == 1500  # 1,157 x 1.25, rounded up to 100
    (warning,) = e.warnings
    assert "throttles at 1,000 requests/s" in warning and "-c apiRateLimit=1500 -c apiBurstLimit=3000" in warning
    raised = replace(billion, collector_api=replace(COLLECTOR_API, rate_limit_rps=1500))
    assert estimate(raised).warnings == []
    assert estimate(Workload(rps=200, bytes_per_event=600, retention_days=30)).warnings == []


def test_cli_prints_the_throttle_warning_and_takes_the_deployed_limit() -> None:
    args = ["capacity", "--rps", "11574", "--bytes-per-event", "600", "--retention-days", "365"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "Warnings" in out.output and "-c apiRateLimit=1500" in out.output
    raised = CliRunner().invoke(main, [*args, "--api-rate-limit", "1500"])
    assert raised.exit_code == 0 and "Warnings" not in raised.output
