"""`clickstream capacity`: size the AWS deployment for a traffic profile (see clickstream/capacity/)."""

from __future__ import annotations

import json
from dataclasses import replace

import click

from clickstream.capacity import Estimate, Workload, estimate
from clickstream.deployment_defaults import COLLECTOR_API, SPEED


@click.command(name="capacity")
@click.option("--rps", type=float, required=True, help="Average events per second.")
@click.option("--bytes-per-event", type=int, required=True, help="Serialised event size in bytes.")
@click.option("--retention-days", type=int, required=True, help="Days the raw archive is kept in S3.")
@click.option("--peak-factor", type=float, default=2.0, show_default=True, help="Peak rate = average x this.")
@click.option("--events-per-request", type=int, default=20, show_default=True, help="Events per collector request.")
@click.option("--batch-size", type=int, default=SPEED.batch_size, show_default=True, help="Speed-layer batch size.")
@click.option("--distinct-urls", type=int, default=200, show_default=True, help="Distinct pages (url# counter keys).")
@click.option(
    "--api-rate-limit",
    type=int,
    default=COLLECTOR_API.rate_limit_rps,
    show_default=True,
    help="The collector API's throttle in requests/s, as deployed (-c apiRateLimit).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def capacity(
    rps: float,
    bytes_per_event: int,
    retention_days: int,
    peak_factor: float,
    events_per_request: int,
    batch_size: int,
    distinct_urls: int,
    api_rate_limit: int,
    as_json: bool,
) -> None:
    """Kinesis shards, Lambda concurrency, DynamoDB writes and hot keys, Firehose files, S3 and cost.

    Prices are assumed us-east-1 list prices (printed with the estimate); verify before budgeting.
    """
    try:
        workload = Workload(
            rps=rps,
            bytes_per_event=bytes_per_event,
            retention_days=retention_days,
            peak_factor=peak_factor,
            events_per_request=events_per_request,
            distinct_urls=distinct_urls,
            speed=replace(SPEED, batch_size=batch_size),
            collector_api=replace(COLLECTOR_API, rate_limit_rps=api_rate_limit),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    result = estimate(workload)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo("\n".join(render(result)))


def render(e: Estimate) -> list[str]:
    """The estimate as text, one finding per line."""
    k, lam, d, f, s = e.kinesis, e.lambdas, e.dynamodb, e.firehose, e.s3
    hot = d.hot_key
    lines = [
        "Kinesis",
        f"  shards at peak          {k.shards}  (records: {k.shards_by_records}, bytes: {k.shards_by_bytes}; "
        f"{k.peak_records_per_s:g} records/s, {k.peak_mib_per_s:g} MiB/s)",
        f"  PutRecords calls/s      >= {k.put_records_calls_per_s:g}  (500 records per call)",
        f"  mode                    {k.recommended_mode} {k.cdk_context}: {k.hint}",
        "Lambda",
        f"  stream processor        {lam.stream_processor_concurrency} concurrent "
        f"(shards x parallelization factor {lam.parallelization_factor}); "
        f"{lam.events_per_batch:g} events per batch every {lam.batch_interval_s:g} s, {lam.batches_per_s:g} batches/s",
        f"  collector               {lam.collector_concurrency} concurrent at {lam.collector_requests_per_s:g} requests/s "
        f"(API throttle {lam.collector_rate_limit_rps:,}/s; needs {lam.collector_rate_limit_needed_rps:,}/s)",
        "DynamoDB (realtime counters: one item per window and shard, docs/adr/0010)",
        f"  writes per batch        {d.item_updates_per_batch:g} ({d.writes_per_event:g} per event; "
        f"{d.counter_keys_per_batch:g} counter keys packed in 3 window items)",
        "  window item size        "
        + ", ".join(f"{name} {size / 1024:,.1f} KB" for name, size in d.window_item_bytes.items()),
        f"  write units/s           peak {d.wcu_per_s_peak:g}, average {d.wcu_per_s_average:g} "
        f"(one update per event would be {d.wcu_per_s_if_per_event:g})",
        f"  hottest item            {hot.item}: {hot.updates_per_s:g} writes/s = {hot.wcu_per_s:g} WCU/s of "
        f"{hot.partition_limit_wcu_per_s} ({hot.utilisation:.1%}, risk {hot.risk})",
        f"  hottest partition key   {d.hot_partition_key.item}: {d.hot_partition_key.wcu_per_s:g} WCU/s "
        f"({d.hot_partition_key.utilisation:.1%}, risk {d.hot_partition_key.risk})",
        f"  one batch               {d.batch_ms_with_dynamodb:g} ms with DynamoDB: a shard sustains about "
        f"{d.shard_events_per_s_capacity:,.0f} events/s",
        "Firehose (raw/events/dt=/hour=)",
        f"  active partitions       {f.active_partitions_steady} ({f.active_partitions_at_hour_boundary} at an hour "
        f"boundary; quota {f.active_partitions_limit})",
        f"  files                   {f.files_per_partition} per partition (a flush every {f.flush_every_s:g} s), "
        f"{f.files_per_day} per day, {f.avg_object_mib:g} MiB each",
        "S3",
        f"  raw per day             {s.raw_gib_per_day:g} GiB, stored gzip {s.stored_gib_per_day:g} GiB/day, "
        f"{s.stored_gib_per_month:g} GiB/month",
        "  at steady state         " + ", ".join(f"{cls} {gib:g} GiB" for cls, gib in s.steady_state_gib.items()),
        "Monthly cost (USD, average rate)",
        *(f"  {name:<22}  {usd:>10,.2f}" for name, usd in e.monthly_cost_usd.items()),
        "  kinesis alternatives    "
        + ", ".join(f"{mode} {usd:,.2f}" for mode, usd in e.kinesis_alternative_usd.items()),
        "Pricing assumptions",
        *(f"  {line}" for line in e.pricing_assumptions),
        "Other assumptions",
        *(f"  {line}" for line in e.assumptions),
    ]
    if e.warnings:
        lines += ["Warnings", *(f"  ! {line}" for line in e.warnings)]
    return lines
