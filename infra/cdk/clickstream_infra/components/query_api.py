"""Serving: the query API Lambda (stats, metrics, export, read-only SQL, GraphQL, Prometheus, the
live dashboard) behind its own HTTP API.

Separate from the collector on purpose: ingest keeps its throttling and scaling, and the read key
(a second generated secret) never opens the write path. The handler checks the key
(`clickstream.api`), so the same code path runs locally and in Lambda.

Data access is read-only, except Athena's result location and the export jobs' prefix (Athena's
UNLOAD writes there with the API's credentials, and the download links are signed with them): the
realtime and batch tables, the curated and raw lake prefixes (export reads the raw tail not yet
compacted), the Glue catalog of the lake database, and queries in the platform's workgroup.
"""

from __future__ import annotations

import json

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from clickstream import constants as c
from clickstream_infra import arns, nag
from clickstream_infra.components.airflow import ATHENA_ACTIONS
from clickstream_infra.components.collector_api import ACCESS_LOG_FIELDS, WRITE_KEY_LENGTH, AccessLogs
from clickstream_infra.components.functions import PlatformFunction, log_retention, platform_environment
from clickstream_infra.config import DeployConfig

API_HANDLER = "lambdas.api.handler.handler"
READ_PREFIXES = (c.CURATED_EVENTS_PREFIX, c.CURATED_METRICS_PREFIX, c.RAW_EVENTS_PREFIX)
GLUE_READ_ACTIONS = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"]
TABLE_READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]


class QueryApi(Construct):
    """HTTP API (throttled, access-logged) -> the query API Lambda, with a generated read key."""

    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig, code: lambda_.Code) -> None:
        super().__init__(scope, construct_id)
        names = cfg.settings.names
        self.secret_name = f"{cfg.prefix}/read-key"
        self.read_key = secretsmanager.Secret(
            self,
            "ReadKey",
            secret_name=self.secret_name,
            description="Query API read key: send it as X-API-Key (or Bearer); it cannot write events",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=WRITE_KEY_LENGTH, exclude_punctuation=True
            ),
        )
        nag.acknowledge(
            self.read_key,
            "SMG4",
            "the read key is handed to dashboard users and Grafana's Infinity datasource; rotating it is a "
            "coordinated rollout plus a redeploy, not an automatic rotation",
        )
        self.handler = PlatformFunction(
            self,
            "Handler",
            cfg=cfg,
            name=f"{cfg.prefix}-api",
            service=c.SERVICE_API,
            handler=API_HANDLER,
            code=code,
            description="Query API and live dashboard: merged batch + speed views, Athena SQL (read-only)",
            environment={
                **platform_environment(cfg),
                c.ENV_READ_KEY: self.read_key.secret_value.unsafe_unwrap(),  # a {{resolve:...}} reference
                c.ENV_QUERY_ENGINE: "athena",
            },
            memory_mb=1024,
            timeout=Duration.seconds(29),  # API Gateway's integration timeout
        )
        role = self.handler.role
        tables = [arns.table(self, t) for t in (names.realtime_table, names.batch_table)]
        readable = [arns.objects(names.bucket, f"{p}/*") for p in READ_PREFIXES]
        results = arns.objects(names.bucket, f"{c.ATHENA_RESULTS_PREFIX}/*")
        exports = arns.objects(names.bucket, f"{c.EXPORTS_PREFIX}/*")
        for statement in (
            iam.PolicyStatement(actions=TABLE_READ_ACTIONS, resources=tables),
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[arns.bucket(names.bucket)]
            ),
            iam.PolicyStatement(actions=["s3:GetObject"], resources=readable),
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], resources=[results, exports]
            ),
            iam.PolicyStatement(
                actions=GLUE_READ_ACTIONS,
                resources=[
                    arns.glue_catalog(self),
                    arns.glue_database(self, names.glue_database),
                    arns.glue_tables(self, names.glue_database),
                ],
            ),
            iam.PolicyStatement(
                actions=ATHENA_ACTIONS, resources=[arns.athena_workgroup(self, names.athena_workgroup)]
            ),
        ):
            role.add_to_policy(statement)
        nag.acknowledge(
            role,
            "IAM5",
            "the API reads whole prefixes of the lake (curated tables, the raw tail for export) and Athena "
            "writes results under one prefix, export jobs under another; Glue needs the table ARN pattern "
            "of the lake database",
            *(
                nag.resource_finding(self, arn)
                for arn in (*readable, results, exports, arns.glue_tables(self, names.glue_database))
            ),
        )
        self.api = self._api(cfg)

    def _api(self, cfg: DeployConfig) -> apigwv2.HttpApi:
        api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"{cfg.prefix}-api",
            description="clickstream query API and dashboard",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention(cfg.log_retention_days), removal_policy=RemovalPolicy.DESTROY
        )
        apigwv2.HttpStage(
            self,
            "Stage",
            http_api=api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=cfg.api_rate_limit, burst_limit=cfg.api_burst_limit),
            access_log_settings=AccessLogs(
                apigwv2.LogGroupLogDestination(access_logs), apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS))
            ),
        )
        integration = integrations.HttpLambdaIntegration("Api", self.handler.function)
        routes = api.add_routes(path="/{proxy+}", methods=[apigwv2.HttpMethod.ANY], integration=integration)
        routes += api.add_routes(path="/", methods=[apigwv2.HttpMethod.GET], integration=integration)
        for route in routes:
            nag.acknowledge(
                route,
                "APIG4",
                "dashboard users and Grafana hold the read key, not AWS credentials: the handler checks X-API-Key "
                "(401 on a missing or wrong key; the page itself and /healthz are public) and the stage throttles",
            )
        CfnOutput(self, "ApiUrl", value=api.api_endpoint, description="dashboard at <url>/#key=<read key>")
        CfnOutput(
            self,
            "ReadKeySecret",
            value=self.secret_name,
            description="aws secretsmanager get-secret-value --secret-id <this> --query SecretString",
        )
        return api
