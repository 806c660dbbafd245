"""Lake stack: buckets, Firehose partitioning, Glue projection, Athena limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aws_cdk.assertions import Match
from clickstream_infra.components.raw_delivery import PARTITION_QUERY
from support.cdk import Synth

from clickstream import constants as c
from clickstream.catalog import FIXED_TABLES
from clickstream.deployment_defaults import LIFECYCLE, RAW_DELIVERY
from clickstream.emulated.firehose.batching import object_key
from clickstream.events.schema import EVENT_FIELDS
from clickstream.events.timestamps import format_timestamp
from clickstream.settings import ResourceNames

pytestmark = pytest.mark.slow


def test_every_bucket_is_encrypted_private_and_tls_only(any_synth: Synth) -> None:
    buckets = {
        logical: (layer, r)
        for layer, t in any_synth.templates.items()
        for logical, r in t["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket"
    }
    assert buckets
    policies = {
        r["Properties"]["Bucket"]["Ref"]: r["Properties"]["PolicyDocument"]["Statement"]
        for r in any_synth.resources("AWS::S3::BucketPolicy")
    }
    for logical, (_layer, bucket) in buckets.items():
        props = bucket["Properties"]
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert any(_denies_plain_http(s) for s in policies[logical]), f"{logical} accepts non-TLS requests"


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    return (
        statement["Effect"] == "Deny"
        and statement["Action"] == "s3:*"
        and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    )


def test_lake_bucket_lifecycle_and_access_logs(default_synth: Synth) -> None:
    template = default_synth.template("lake")
    (logs_id,) = template.find_resources("AWS::S3::Bucket", {"Properties": {"BucketName": "clickstream-dev-lake-logs"}})
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": "clickstream-dev-lake",
            "LoggingConfiguration": {
                "DestinationBucketName": {"Ref": logs_id},
                "LogFilePrefix": "clickstream-dev-lake/",
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Prefix": "raw/",
                                "Status": "Enabled",
                                "Transitions": [
                                    {
                                        "StorageClass": "STANDARD_IA",
                                        "TransitionInDays": LIFECYCLE.infrequent_access_after_days,
                                    },
                                    {"StorageClass": "GLACIER_IR", "TransitionInDays": LIFECYCLE.glacier_after_days},
                                ],
                            }
                        ),
                        Match.object_like({"Prefix": "athena-results/", "ExpirationInDays": 7}),
                        Match.object_like({"Prefix": "exports/", "ExpirationInDays": c.EXPORTS_EXPIRY_DAYS}),
                    ]
                )
            },
        },
    )


def test_firehose_partitions_raw_events_by_dt_and_hour(default_synth: Synth) -> None:
    default_synth.template("lake").has_resource_properties(
        "AWS::KinesisFirehose::DeliveryStream",
        {
            "DeliveryStreamName": "clickstream-dev-raw-events",
            "DeliveryStreamType": "KinesisStreamAsSource",
            "KinesisStreamSourceConfiguration": {
                "KinesisStreamARN": {"Fn::Join": ["", Match.array_with([":stream/clickstream-dev-events"])]},
                "RoleARN": Match.any_value(),
            },
            "ExtendedS3DestinationConfiguration": Match.object_like(
                {
                    "BucketARN": {"Fn::Join": ["", Match.array_with([":s3:::clickstream-dev-lake"])]},
                    "Prefix": "raw/events/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/",
                    "ErrorOutputPrefix": Match.string_like_regexp(
                        r"^raw/firehose-errors/!\{firehose:error-output-type\}/"
                    ),
                    "CompressionFormat": "GZIP",
                    "FileExtension": ".ndjson.gz",
                    "BufferingHints": {
                        "IntervalInSeconds": RAW_DELIVERY.buffer_interval_s,
                        "SizeInMBs": RAW_DELIVERY.buffer_mib,
                    },
                    "DynamicPartitioningConfiguration": {"Enabled": True, "RetryOptions": Match.any_value()},
                    "ProcessingConfiguration": {
                        "Enabled": True,
                        "Processors": [
                            {
                                "Type": "MetadataExtraction",
                                "Parameters": [
                                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": PARTITION_QUERY},
                                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                                ],
                            },
                            {
                                "Type": "AppendDelimiterToRecord",
                                "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}],
                            },
                        ],
                    },
                }
            ),
        },
    )


def test_partition_query_slices_received_at_like_the_archiver_names_hours() -> None:
    # jq's .received_at[0:10] / [11:13] are the same slices as Python's on the stored format.
    at = datetime(2025, 3, 9, 7, 59, 59, 999000, tzinfo=UTC)
    received_at = format_timestamp(at)
    dt, hour = received_at[0:10], received_at[11:13]
    assert PARTITION_QUERY == "{dt: .received_at[0:10], hour: .received_at[11:13]}"
    key = object_key("kinesis", "shardId-000", int(at.timestamp() * 1000) // 3_600_000, 1, digits=3)
    assert key.startswith(f"{c.RAW_EVENTS_PREFIX}/dt={dt}/hour={hour}/"), key


def test_raw_events_table_uses_partition_projection(default_synth: Synth) -> None:
    template = default_synth.template("lake")
    template.has_resource_properties(
        "AWS::Glue::Database", {"DatabaseInput": Match.object_like({"Name": "clickstream_dev"})}
    )
    template.has_resource_properties(
        "AWS::Glue::Table",
        {
            "DatabaseName": "clickstream_dev",
            "TableInput": Match.object_like(
                {
                    "Name": "raw_events",
                    "TableType": "EXTERNAL_TABLE",
                    "PartitionKeys": [{"Name": "dt", "Type": "string"}, {"Name": "hour", "Type": "string"}],
                    "Parameters": Match.object_like(
                        {
                            "projection.enabled": "true",
                            "projection.dt.type": "date",
                            "projection.dt.format": "yyyy-MM-dd",
                            "projection.dt.range": "2025-01-01,NOW",
                            "projection.hour.type": "integer",
                            "projection.hour.range": "0,23",
                            "projection.hour.digits": "2",
                            "storage.location.template": "s3://clickstream-dev-lake/raw/events/dt=${dt}/hour=${hour}/",
                        }
                    ),
                    "StorageDescriptor": Match.object_like(
                        {
                            "Location": "s3://clickstream-dev-lake/raw/events/",
                            "SerdeInfo": Match.object_like(
                                {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}
                            ),
                        }
                    ),
                }
            ),
        },
    )
    tables = template.find_resources("AWS::Glue::Table", {"Properties": {"TableInput": {"Name": "raw_events"}}})
    (table,) = tables.values()
    columns = [col["Name"] for col in table["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]]
    assert columns == list(EVENT_FIELDS)


def test_curated_events_table_is_parquet_with_registered_versions_not_a_projection(default_synth: Synth) -> None:
    default_synth.template("lake").has_resource_properties(
        "AWS::Glue::Table",
        {
            "DatabaseName": "clickstream_dev",
            "TableInput": Match.object_like(
                {
                    "Name": "events",
                    "PartitionKeys": [{"Name": "dt", "Type": "string"}, {"Name": "hour", "Type": "string"}],
                    "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet", "clickstream.versioned": "true"},
                    "StorageDescriptor": Match.object_like(
                        {
                            "Location": "s3://clickstream-dev-lake/curated/events/",
                            "SerdeInfo": {
                                "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                            },
                        }
                    ),
                }
            ),
        },
    )


def test_glue_tables_are_the_catalogs_fixed_tables(default_synth: Synth) -> None:
    """One source: the deployed columns are clickstream.catalog's, as in sql/ddl/ and the local Glue."""
    found = {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
        for r in default_synth.template("lake").find_resources("AWS::Glue::Table").values()
    }
    assert set(found) == {t.name for t in FIXED_TABLES}
    for table in FIXED_TABLES:
        columns = found[table.name]["StorageDescriptor"]["Columns"]
        assert [(col["Name"], col["Type"]) for col in columns] == [(col.name, col.type) for col in table.columns]


def test_athena_workgroup_enforces_results_encryption_and_scan_limit(default_synth: Synth) -> None:
    default_synth.template("lake").has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": ResourceNames.for_stage("dev").athena_workgroup,  # where the query engine starts queries
            "WorkGroupConfiguration": Match.object_like(
                {
                    "EnforceWorkGroupConfiguration": True,
                    "BytesScannedCutoffPerQuery": 100 * 1024**3,
                    "ResultConfiguration": {
                        "OutputLocation": "s3://clickstream-dev-lake/athena-results/",
                        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                    },
                }
            ),
        },
    )
