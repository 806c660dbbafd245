"""What the deployment costs a month: assumed prices, AWS's billing rules, the Kinesis mode. Pure.

Prices are ASSUMPTIONS: us-east-1 list prices as recalled for 2025, never fetched. Every one
is printed with the estimate; check https://aws.amazon.com/pricing before budgeting.
`monthly_costs` bills a deployment that `clickstream.capacity.sizing.estimate` has sized, at the
average rate, and recommends the cheaper Kinesis capacity mode (provisioned or on-demand).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from clickstream.capacity.model import Batching, FirehoseEstimate, S3Estimate, Workload

KINESIS_ON_DEMAND_START_RECORDS_PER_S = 4_000  # a new on-demand stream accepts 4 000 records/s ...
KINESIS_ON_DEMAND_START_BYTES_PER_S = 4 * 1024 * 1024  # ... and 4 MB/s, then doubles its previous peak

GIB = 1024**3
HOURS_PER_MONTH = 730  # AWS's billing month
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
DAYS_PER_MONTH = HOURS_PER_MONTH / 24


@dataclass(frozen=True)
class Prices:
    """ASSUMED us-east-1 list prices in USD, as recalled for 2025 (not fetched; verify before use)."""

    kinesis_shard_hour: float = 0.015
    kinesis_put_payload_units_per_million: float = 0.014  # one unit = 25 KB of one record
    kinesis_on_demand_stream_hour: float = 0.04
    kinesis_on_demand_ingest_per_gb: float = 0.08  # each record rounded up to 1 KB
    kinesis_on_demand_retrieval_per_gb: float = 0.04  # per consumer (Lambda and Firehose both read)
    lambda_arm_gb_second: float = 0.0000133334
    lambda_requests_per_million: float = 0.20
    dynamodb_write_request_units_per_million: float = 0.625
    firehose_ingest_per_gb: float = 0.029  # each record rounded up to 5 KB
    firehose_dynamic_partitioning_per_gb: float = 0.020
    firehose_objects_per_thousand: float = 0.005
    s3_standard_gb_month: float = 0.023
    s3_standard_ia_gb_month: float = 0.0125
    s3_glacier_instant_gb_month: float = 0.004  # the raw archive's cold tier (deployment_defaults.LIFECYCLE)
    s3_put_requests_per_thousand: float = 0.005
    http_api_requests_per_million: float = 1.00
    cloudwatch_alarm_month: float = 0.10
    cloudwatch_dashboard_month: float = 3.00

    def listed(self) -> list[str]:
        """Every price as one printable line."""
        return [f"{f.name} = ${getattr(self, f.name):.10f}".rstrip("0").rstrip(".") for f in fields(self)]


PRICES_NOTE = "us-east-1 list prices as recalled for 2025 (assumptions, not fetched; verify at aws.amazon.com/pricing)"
KINESIS_PUT_PAYLOAD_UNIT_BYTES = 25 * 1024
KINESIS_ON_DEMAND_RECORD_ROUNDING = 1024
FIREHOSE_RECORD_ROUNDING = 5 * 1024
KINESIS_CONSUMERS = 2  # the stream-processor Lambda and the Firehose delivery stream


def monthly_costs(
    w: Workload,
    p: Prices,
    shards: int,
    avg: Batching,
    wcu_per_s: float,
    firehose: FirehoseEstimate,
    s3: S3Estimate,
) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """Cost per service and the total (USD a month, at the average rate), both Kinesis modes' costs, and the
    recommended mode with its CDK context and a hint."""
    records = w.rps * SECONDS_PER_MONTH
    record_bytes = w.bytes_per_event + w.partition_key_bytes
    units = math.ceil(record_bytes / KINESIS_PUT_PAYLOAD_UNIT_BYTES)
    provisioned = shards * HOURS_PER_MONTH * p.kinesis_shard_hour + records * units / 1e6 * (
        p.kinesis_put_payload_units_per_million
    )
    od_gib = records * math.ceil(record_bytes / KINESIS_ON_DEMAND_RECORD_ROUNDING) * 1024 / GIB
    on_demand = (
        HOURS_PER_MONTH * p.kinesis_on_demand_stream_hour
        + od_gib * p.kinesis_on_demand_ingest_per_gb
        + od_gib * KINESIS_CONSUMERS * p.kinesis_on_demand_retrieval_per_gb
    )
    mode = "provisioned" if provisioned < on_demand else "on-demand"
    peak = w.rps * w.peak_factor
    hint = (
        f"provisioned with {shards} shards is cheaper at this steady rate; reshard (UpdateShardCount) ahead of growth"
        if mode == "provisioned"
        else "on-demand is cheaper or equal and absorbs spikes up to twice the previous peak without resharding"
    )
    if peak > KINESIS_ON_DEMAND_START_RECORDS_PER_S or peak * record_bytes > KINESIS_ON_DEMAND_START_BYTES_PER_S:
        hint += "; a new on-demand stream starts at 4 000 records/s or 4 MB/s: start provisioned, or ramp up traffic"
    speed_invocations = avg.batches_per_s * SECONDS_PER_MONTH
    speed_ms = w.processor_ms_per_batch + w.processor_ms_per_event * avg.events_per_batch
    requests = records / w.events_per_request
    lambda_gb_s = (
        speed_invocations * speed_ms / 1000 * w.speed.memory_mb / 1024
        + requests * w.collector_ms_per_request / 1000 * w.collector_memory_mb / 1024
    )
    fh_billed_gib = records * math.ceil(w.bytes_per_event / FIREHOSE_RECORD_ROUNDING) * FIREHOSE_RECORD_ROUNDING / GIB
    fh_objects = firehose.files_per_day * DAYS_PER_MONTH
    costs = {
        "kinesis": provisioned if mode == "provisioned" else on_demand,
        "lambda": lambda_gb_s * p.lambda_arm_gb_second
        + (speed_invocations + requests) / 1e6 * p.lambda_requests_per_million,
        "dynamodb": wcu_per_s * SECONDS_PER_MONTH / 1e6 * p.dynamodb_write_request_units_per_million,
        "firehose": fh_billed_gib * p.firehose_ingest_per_gb
        + records * w.bytes_per_event / GIB * p.firehose_dynamic_partitioning_per_gb
        + fh_objects / 1000 * p.firehose_objects_per_thousand,
        "s3": s3.steady_state_gib["STANDARD"] * p.s3_standard_gb_month
        + s3.steady_state_gib["STANDARD_IA"] * p.s3_standard_ia_gb_month
        + s3.steady_state_gib[w.lifecycle.archive_storage_class] * p.s3_glacier_instant_gb_month
        + fh_objects / 1000 * p.s3_put_requests_per_thousand,
        "api_gateway": requests / 1e6 * p.http_api_requests_per_million,
        "cloudwatch": w.alarms * p.cloudwatch_alarm_month + p.cloudwatch_dashboard_month,
    }
    costs = {k: round(v, 2) for k, v in costs.items()}
    costs["total"] = round(sum(costs.values()), 2)
    alternative = {"provisioned": round(provisioned, 2), "on-demand": round(on_demand, 2)}
    context = f"-c shards={shards}" if mode == "provisioned" else "(default: on-demand)"
    return costs, alternative, {"recommended_mode": mode, "cdk_context": context, "hint": hint}
