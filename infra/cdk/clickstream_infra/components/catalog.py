"""Glue database, the lake's fixed tables (partition projection) and the Athena workgroup.

The tables come from `clickstream.catalog` (`raw_events` over raw/events/, `events` over
curated/events/), and their SerDe and projection parameters from `clickstream.sqlfiles`, the same
source `sql/ddl/*.sql`, the local provisioning and the query engines use: a column added to the
event contract reaches Glue, Athena DDL and DuckDB in one change. Metric tables
(`metric_<name>`) are registered by the batch-metrics job from its results, not here.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from constructs import Construct

from clickstream import constants as c
from clickstream.catalog import FIXED_TABLES, RAW_EVENTS_TABLE, TableDef
from clickstream.sqlfiles import projection_parameters, storage_format, version_parameters

GB = 1024**3

__all__ = ["RAW_EVENTS_TABLE", "LakeCatalog", "QueryWorkgroup", "table_input"]


def table_input(table: TableDef, *, bucket: str, projection_start: str) -> glue.CfnTable.TableInputProperty:
    """The Glue table of `table`: with Athena partition projection (no crawler, no MSCK REPAIR), or,
    for a versioned table (`events`), without: its job registers each partition's version."""
    fmt = storage_format(table)
    location = table.location(bucket)
    return glue.CfnTable.TableInputProperty(
        name=table.name,
        description=table.description,
        table_type="EXTERNAL_TABLE",
        parameters={
            "EXTERNAL": "TRUE",
            **fmt.table_parameters,
            **projection_parameters(table, location, projection_start),
            **version_parameters(table),
        },
        partition_keys=[glue.CfnTable.ColumnProperty(name=k, type="string") for k in table.partition_keys],
        storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
            location=location,
            columns=[glue.CfnTable.ColumnProperty(name=col.name, type=col.type) for col in table.columns],
            input_format=fmt.input_format,
            output_format=fmt.output_format,
            serde_info=glue.CfnTable.SerdeInfoProperty(
                serialization_library=fmt.serde, parameters=dict(fmt.serde_parameters) or None
            ),
        ),
    )


class LakeCatalog(Construct):
    """The Glue database `database` and the lake's fixed tables (`clickstream.catalog.FIXED_TABLES`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        database: str,
        bucket: str,
        projection_start: str,
        tables: Sequence[TableDef] = FIXED_TABLES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(name=database, description="clickstream lake"),
        )
        self.tables: dict[str, glue.CfnTable] = {}
        for table in tables:
            cfn = glue.CfnTable(
                self,
                _construct_id(table.name),
                catalog_id=Aws.ACCOUNT_ID,
                database_name=database,
                table_input=table_input(table, bucket=bucket, projection_start=projection_start),
            )
            cfn.node.add_dependency(self.database)
            self.tables[table.name] = cfn

    @property
    def raw_events(self) -> glue.CfnTable:
        return self.tables[RAW_EVENTS_TABLE]


def _construct_id(table_name: str) -> str:
    """`raw_events` -> `RawEvents` (the id the first version of this construct used: no table replacement)."""
    return "".join(part.capitalize() for part in table_name.split("_"))


class QueryWorkgroup(Construct):
    """An Athena workgroup whose settings clients cannot override: results in the lake, SSE, scan cap.

    Name it `settings.names.athena_workgroup` (`clickstream.settings.ResourceNames`): the query engine
    starts its queries there.
    """

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
