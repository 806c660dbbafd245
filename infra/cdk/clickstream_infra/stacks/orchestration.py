"""Orchestration: MWAA behind `-c mwaa=true`, otherwise an IAM role for a self-managed Airflow."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from clickstream_infra.components.airflow import AirflowRole, acknowledge_batch_layer, batch_layer_statements
from clickstream_infra.components.functions import log_retention
from clickstream_infra.components.mwaa import ManagedAirflow
from clickstream_infra.config import REPO_ROOT, DeployConfig
from clickstream_infra.stacks.lake import workgroup_name


class OrchestrationStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig, **kw: Any) -> None:
        super().__init__(scope, construct_id, **kw)
        names = cfg.settings.names
        statements = batch_layer_statements(
            self,
            bucket=names.bucket,
            database=names.glue_database,
            workgroup=workgroup_name(cfg),
            realtime_table=names.realtime_table,
            batch_table=names.batch_table,
        )
        if cfg.mwaa:
            self.airflow = ManagedAirflow(
                self,
                "Mwaa",
                cfg=cfg,
                root=REPO_ROOT,
                statements=statements,
                retention=log_retention(cfg.log_retention_days),
            )
            CfnOutput(self, "DagsBucket", value=self.airflow.bucket_name)
        else:
            self.role = AirflowRole(
                self, "Airflow", name=f"{cfg.prefix}-airflow", principal=cfg.airflow_principal, statements=statements
            )
            CfnOutput(self, "AirflowRoleArn", value=self.role.role.role_arn, description="AWS_ROLE_ARN for the workers")
        acknowledge_batch_layer(self, bucket=names.bucket, database=names.glue_database)
