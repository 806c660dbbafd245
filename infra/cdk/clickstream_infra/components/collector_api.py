"""The collector: API Gateway HTTP API -> collector Lambda -> Kinesis (bad rows, identities -> S3 raw/).

The write key lives in Secrets Manager (generated). The Lambda gets it through a CloudFormation
dynamic reference in CLICKSTREAM_WRITE_KEY, resolved at deploy time, and the collector checks
the X-Write-Key header in the handler (`clickstream.collector.request.check_write_key`): one
code path for the local server and the Lambda. Rotating the key means a redeploy.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from clickstream import constants as c
from clickstream.adapters.s3 import RAW_IDENTITIES_PREFIX
from clickstream.collector.service import HEALTH_ROUTE, INGEST_ROUTES, PROTOCOL_ROUTES
from clickstream_infra import arns, nag
from clickstream_infra.components.functions import PlatformFunction, log_retention, platform_environment
from clickstream_infra.config import DeployConfig

COLLECTOR_HANDLER = "lambdas.collector.handler.handler"
# HTTP API $context variables; no source IP: the collector anonymises IPs, the access log must not keep them.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
}
WRITE_KEY_LENGTH = 40


@jsii.implements(apigwv2.IAccessLogSettings)
class AccessLogs:
    """IAccessLogSettings is a jsii interface, not a struct: Python needs a class."""

    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat) -> None:
        self._destination, self._format = destination, log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


class CollectorApi(Construct):
    """HTTP API with throttling and access logs in front of the collector Lambda."""

    def __init__(
        self, scope: Construct, construct_id: str, *, cfg: DeployConfig, stream: kinesis.IStream, code: lambda_.Code
    ) -> None:
        super().__init__(scope, construct_id)
        self.secret_name = f"{cfg.prefix}/write-key"
        self.write_key = secretsmanager.Secret(
            self,
            "WriteKey",
            secret_name=self.secret_name,
            description="Collector write key: clients send it in the X-Write-Key header",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=WRITE_KEY_LENGTH, exclude_punctuation=True
            ),
        )
        nag.acknowledge(
            self.write_key,
            "SMG4",
            "the write key is shared with every tracking client; rotating it is a coordinated client "
            "rollout plus a redeploy, not an automatic rotation",
        )
        self.handler = PlatformFunction(
            self,
            "Collector",
            cfg=cfg,
            name=f"{cfg.prefix}-collector",
            service=c.SERVICE_COLLECTOR,
            handler=COLLECTOR_HANDLER,
            code=code,
            description="Validates, enriches and forwards events to Kinesis; bad rows to S3 raw/bad/",
            environment={
                **platform_environment(cfg),
                c.ENV_WRITE_KEY: self.write_key.secret_value.unsafe_unwrap(),  # a {{resolve:...}} reference
            },
            memory_mb=512,
            timeout=Duration.seconds(c.COLLECTOR_LAMBDA_TIMEOUT_SECONDS),
        )
        stream.grant_write(self.handler.role)
        # Bad rows and (Segment) identity records: one object per request, keys generated per request.
        written = [arns.objects(cfg.settings.names.bucket, f"{p}/*") for p in (c.RAW_BAD_PREFIX, RAW_IDENTITIES_PREFIX)]
        self.handler.role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=written))
        nag.acknowledge(
            self.handler.role,
            "IAM5",
            "bad-row and identity object keys are generated per request (dt/hour/uuid); the grant is "
            "PutObject only, under raw/bad/ and raw/identities/ of the lake bucket",
            *(nag.resource_finding(self, arn) for arn in written),
        )
        self.api = self._api(cfg)

    def _api(self, cfg: DeployConfig) -> apigwv2.HttpApi:
        api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"{cfg.prefix}-collector",
            description="clickstream collector: /v1/events, /v1/track, legacy, Segment and Snowplow routes",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention(cfg.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.stage = apigwv2.HttpStage(
            self,
            "Stage",
            http_api=api,
            stage_name="$default",
            auto_deploy=True,
            # Applies to every route: the per-route default for the whole API.
            throttle=apigwv2.ThrottleSettings(rate_limit=cfg.api_rate_limit, burst_limit=cfg.api_burst_limit),
            access_log_settings=AccessLogs(
                apigwv2.LogGroupLogDestination(access_logs), apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS))
            ),
        )
        integration = integrations.HttpLambdaIntegration("Collector", self.handler.function)
        # Every path the collector serves, from its own route tables: API Gateway answers 404 for the rest
        # without invoking the Lambda.
        paths: dict[str, tuple[str, ...]] = {HEALTH_ROUTE: ("GET",), **{p: ("POST",) for p in INGEST_ROUTES}}
        paths.update({p: route.methods for p, route in PROTOCOL_ROUTES.items()})
        routes: list[apigwv2.HttpRoute] = []
        for path, methods in paths.items():
            verbs = [apigwv2.HttpMethod(m) for m in methods]
            routes += api.add_routes(path=path, methods=verbs, integration=integration)
        for route in routes:
            nag.acknowledge(
                route,
                "APIG4",
                "tracking clients are browsers without AWS credentials: the collector checks the X-Write-Key "
                "header in the handler (401 on a missing or wrong key) and the stage throttles every route",
            )
        CfnOutput(self, "CollectorUrl", value=api.api_endpoint, description="POST events to <url>/v1/events")
        CfnOutput(
            self,
            "WriteKeySecret",
            value=self.secret_name,
            description="aws secretsmanager get-secret-value --secret-id <this> --query SecretString",
        )
        return api
