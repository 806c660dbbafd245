"""Glue database, the `raw_events` table over raw/events/ (partition projection), an Athena workgroup.

Columns come from the event contract (`clickstream.events.schema`). The raw archive is NDJSON as
the collector wrote it, so timestamps stay RFC 3339 strings and `properties` a JSON string here;
the curated Parquet tables carry the typed columns.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from constructs import Construct

from clickstream import constants as c
from clickstream.events.schema import EVENT_FIELDS, FIELD_TYPES

RAW_EVENTS_TABLE = "raw_events"
GB = 1024**3
# Logical type (schema.FIELD_TYPES) -> Hive type of the raw NDJSON column.
RAW_HIVE_TYPES = {
    "string": "string",
    "timestamp": "string",
    "json": "string",
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "double": "double",
}


def raw_columns() -> list[glue.CfnTable.ColumnProperty]:
    return [glue.CfnTable.ColumnProperty(name=f, type=RAW_HIVE_TYPES[FIELD_TYPES[f]]) for f in EVENT_FIELDS]


def projection_parameters(location: str, start: str) -> dict[str, str]:
    """Athena partition projection for dt=YYYY-MM-DD/hour=HH: no crawler, no MSCK REPAIR."""
    return {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": f"{start},NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "projection.hour.type": "integer",
        "projection.hour.range": "0,23",
        "projection.hour.digits": "2",
        "storage.location.template": location + "dt=${dt}/hour=${hour}/",
    }


class LakeCatalog(Construct):
    """The Glue database `database` and its `raw_events` table."""

    def __init__(
        self, scope: Construct, construct_id: str, *, database: str, bucket: str, projection_start: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(name=database, description="clickstream lake"),
        )
        location = f"s3://{bucket}/{c.RAW_EVENTS_PREFIX}/"
        self.raw_events = glue.CfnTable(
            self,
            "RawEvents",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=database,
            table_input=glue.CfnTable.TableInputProperty(
                name=RAW_EVENTS_TABLE,
                description="Raw events as collected (NDJSON.gz), partitioned by arrival dt/hour",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "json",
                    "compressionType": "gzip",
                    **projection_parameters(location, projection_start),
                },
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name="dt", type="string"),
                    glue.CfnTable.ColumnProperty(name="hour", type="string"),
                ],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    columns=raw_columns(),
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        parameters={"ignore.malformed.json": "true"},
                    ),
                ),
            ),
        )
        self.raw_events.node.add_dependency(self.database)


class QueryWorkgroup(Construct):
    """An Athena workgroup whose settings clients cannot override: results in the lake, SSE, scan cap."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, bucket: str, scan_limit_gb: int) -> None:
        super().__init__(scope, construct_id)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=name,
            description="clickstream queries (batch layer, query API, Grafana)",
            state="ENABLED",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=scan_limit_gb * GB,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket}/{c.ATHENA_RESULTS_PREFIX}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
