"""The one definition of every stateful resource the pipeline needs.

The embedded stack deploys `cloudformation_template()` to the local server's CloudFormation
API; the CDK app (infra/cdk) builds its constructs from the same `platform_resources()`, so
names, keys, TTL attributes and shard counts cannot drift between AWS and a laptop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clickstream import constants as c
from clickstream.settings import Settings

TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class StreamSpec:
    name: str
    shard_count: int
    retention_hours: int = c.STREAM_RETENTION_HOURS


@dataclass(frozen=True)
class TableSpec:
    name: str
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None
    purpose: str = ""


@dataclass(frozen=True)
class BucketSpec:
    name: str


@dataclass(frozen=True)
class QueueSpec:
    name: str
    retention_seconds: int = 14 * 24 * 3600  # SQS maximum: keep failed batches as long as possible


@dataclass(frozen=True)
class Resources:
    stream: StreamSpec
    tables: tuple[TableSpec, ...]
    bucket: BucketSpec
    queues: tuple[QueueSpec, ...]
    glue_database: str


def platform_resources(settings: Settings) -> Resources:
    """Every resource for `settings.stage`, named from `settings.names`."""
    n = settings.names
    return Resources(
        stream=StreamSpec(name=n.stream, shard_count=settings.shard_count),
        tables=(
            TableSpec(
                name=n.realtime_table,
                partition_key="pk",
                sort_key="sk",
                ttl_attribute=TTL_ATTRIBUTE,
                purpose="speed-layer counters: pk=<metric>#<dimension>, sk=<m|h|d>#<window start>",
            ),
            TableSpec(
                name=n.batch_table,
                partition_key="pk",
                sort_key="sk",
                purpose="batch view: exact metrics of closed windows (same keys as realtime) and drift#<metric> items",
            ),
            TableSpec(
                name=n.checkpoints_table,
                partition_key="pk",
                sort_key="sk",
                purpose="stream consumer checkpoints and shard leases: pk=<consumer>#<stream>, sk=<shard>",
            ),
        ),
        bucket=BucketSpec(name=n.bucket),
        queues=(QueueSpec(name=n.dead_letter_queue),),
        glue_database=n.glue_database,
    )


def cloudformation_template(res: Resources) -> dict[str, Any]:
    """A CloudFormation template for the data resources (what the embedded stack deploys)."""
    resources: dict[str, Any] = {
        "EventsStream": {
            "Type": "AWS::Kinesis::Stream",
            "Properties": {
                "Name": res.stream.name,
                "ShardCount": res.stream.shard_count,
                "RetentionPeriodHours": res.stream.retention_hours,
            },
        },
        "LakeBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": res.bucket.name}},
        # moto's CloudFormation does not implement AWS::Glue::Database and skips it with a
        # warning; `clickstream.local.provision` then creates the database through the Glue API.
        "GlueDatabase": {
            "Type": "AWS::Glue::Database",
            "Properties": {"CatalogId": {"Ref": "AWS::AccountId"}, "DatabaseInput": {"Name": res.glue_database}},
        },
    }
    for table in res.tables:
        resources[_logical_id(table.name)] = {"Type": "AWS::DynamoDB::Table", "Properties": _table_props(table)}
    for queue in res.queues:
        resources[_logical_id(queue.name)] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": queue.name, "MessageRetentionPeriod": queue.retention_seconds},
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "clickstream data resources",
        "Resources": resources,
    }


def _table_props(table: TableSpec) -> dict[str, Any]:
    keys = [(table.partition_key, "HASH")] + ([(table.sort_key, "RANGE")] if table.sort_key else [])
    props: dict[str, Any] = {
        "TableName": table.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        "KeySchema": [{"AttributeName": k, "KeyType": t} for k, t in keys],
    }
    if table.ttl_attribute:
        props["TimeToLiveSpecification"] = {"AttributeName": table.ttl_attribute, "Enabled": True}
    return props


def _logical_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
