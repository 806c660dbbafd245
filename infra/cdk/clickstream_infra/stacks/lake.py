"""Lake: the bucket, Firehose raw delivery, the Glue database and raw_events table, Athena."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from clickstream_infra.components.catalog import LakeCatalog, QueryWorkgroup
from clickstream_infra.components.functions import log_retention
from clickstream_infra.components.lake_storage import LakeStorage
from clickstream_infra.components.raw_delivery import RawDelivery
from clickstream_infra.config import DeployConfig


class LakeStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig, **kw: Any) -> None:
        super().__init__(scope, construct_id, **kw)
        res = cfg.resources
        self.storage = LakeStorage(self, "Storage", spec=res.bucket, access_logs_bucket=cfg.access_logs_bucket)
        self.delivery = RawDelivery(
            self,
            "RawDelivery",
            name=delivery_stream_name(cfg),
            stream=res.stream.name,
            bucket=res.bucket.name,
            retention=log_retention(cfg.log_retention_days),
        )
        self.delivery.node.add_dependency(self.storage.bucket)  # referenced by name, created here
        self.catalog = LakeCatalog(
            self, "Catalog", database=res.glue_database, bucket=res.bucket.name, projection_start=cfg.projection_start
        )
        self.workgroup = QueryWorkgroup(
            self, "Athena", name=workgroup_name(cfg), bucket=res.bucket.name, scan_limit_gb=cfg.athena_scan_limit_gb
        )


def delivery_stream_name(cfg: DeployConfig) -> str:
    return f"{cfg.prefix}-raw-events"


def workgroup_name(cfg: DeployConfig) -> str:
    return cfg.settings.names.athena_workgroup
