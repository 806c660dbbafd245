"""A platform Lambda: our code asset, arm64, its own log group, a role that can write only there."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from clickstream import constants as c
from clickstream_infra import nag
from clickstream_infra.bundling import ARCHITECTURE, RUNTIME
from clickstream_infra.config import DeployConfig

# Powertools reads these names (they are Powertools', not ours).
POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
LOG_LEVEL = "LOG_LEVEL"


def platform_environment(cfg: DeployConfig) -> dict[str, str]:
    """What every Lambda needs to build `Settings.from_env()` for this stage (names from clickstream.constants)."""
    names = cfg.settings.names
    env = {
        c.ENV_STAGE: cfg.stage,
        c.ENV_TRANSPORT: "kinesis",
        c.ENV_STREAM: names.stream,
        c.ENV_BUCKET: names.bucket,
    }
    if cfg.endpoint_url:  # LocalStack only; on AWS the SDK's default endpoints apply
        env[c.ENV_ENDPOINT] = cfg.endpoint_url
    return env


class PlatformFunction(Construct):
    """One Lambda function with Powertools settings, X-Ray tracing and a least-privilege role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DeployConfig,
        name: str,
        service: str,
        handler: str,
        code: lambda_.Code,
        description: str,
        environment: Mapping[str, str],
        memory_mb: int,
        timeout: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{name}",
            retention=log_retention(cfg.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{name}: writes its own logs; data access is granted by its stack",
        )
        # Instead of AWSLambdaBasicExecutionRole (any log group): only this function's group.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=code,
            role=self.role,
            log_group=self.log_group,
            # JSON for Lambda's own lines too (START, END, REPORT with duration and memory), beside
            # Powertools' JSON application logs, so Logs Insights queries one shape. The
            # application level must equal Powertools' (LOG_LEVEL below), or Powertools warns.
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.INFO,
            memory_size=memory_mb,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **environment,
                POWERTOOLS_SERVICE_NAME: service,
                POWERTOOLS_METRICS_NAMESPACE: c.METRICS_NAMESPACE,
                LOG_LEVEL: "INFO",
            },
        )
        nag.acknowledge(
            self.function,
            "L1",
            "python3.13 on purpose: lambdas/requirements.txt is bundled as cp313 aarch64 wheels and the "
            "code is tested on CPython <= 3.13; move to the next runtime together with the wheels",
        )
        nag.acknowledge(
            self.role,
            "IAM5",
            "X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions: '*' is the "
            "only valid resource (added by Tracing.ACTIVE)",
            "Resource::*",
        )


RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def log_retention(days: int) -> logs.RetentionDays:
    """CloudWatch's retention for `days` (one of the values CloudWatch offers)."""
    return RETENTION_DAYS[days]  # DeployConfig only admits config.LOG_RETENTION_DAYS
