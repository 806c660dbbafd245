"""Speed layer: the DynamoDB tables and DLQ of `platform_resources`, the stream-processor Lambda
and its Kinesis event source mapping."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from clickstream import constants as c
from clickstream.deployment_defaults import SPEED
from clickstream.resources import QueueSpec, TableSpec
from clickstream_infra import arns, nag
from clickstream_infra.components.functions import PlatformFunction, platform_environment
from clickstream_infra.config import DeployConfig

# Written by the speed-layer issue; referenced by its handler string so this app does not import it.
STREAM_PROCESSOR_HANDLER = "lambdas.stream_processor.handler.handler"
# What clickstream.adapters.dynamodb.counters calls: conditional updates and puts, reads for sketches.
# No Scan, no DeleteItem.
COUNTER_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
]


class PlatformTables(Construct):
    """One on-demand table per `TableSpec`: same names, keys and TTL attribute as the embedded stack."""

    def __init__(self, scope: Construct, construct_id: str, *, specs: tuple[TableSpec, ...]) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {}
        for spec in specs:
            sort_key = dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING)
            self.tables[spec.name] = dynamodb.Table(
                self,
                spec.name,
                table_name=spec.name,
                partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
                sort_key=sort_key if spec.sort_key else None,
                time_to_live_attribute=spec.ttl_attribute,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                removal_policy=RemovalPolicy.RETAIN,
            )


class DeadLetterQueue(Construct):
    """Where the event source mapping sends the metadata of batches it gave up on."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: QueueSpec) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=spec.name,
            retention_period=Duration.seconds(spec.retention_seconds),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,  # it may hold the only trace of batches the speed layer dropped
        )
        nag.acknowledge(
            self.queue,
            "SQS3",
            "this queue is itself the dead-letter queue (on-failure destination of the stream processor's "
            "event source mapping); a DLQ of the DLQ would only hide the same messages one hop further",
        )


class StreamProcessor(Construct):
    """The stream-processor Lambda fed by `stream` (partial batch responses, bisect, bounded retries)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DeployConfig,
        stream: kinesis.IStream,
        counters_table: str,
        dead_letters: sqs.IQueue,
        code: lambda_.Code,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = PlatformFunction(
            self,
            "Processor",
            cfg=cfg,
            name=f"{cfg.prefix}-stream-processor",
            service=c.SERVICE_STREAM_PROCESSOR,
            handler=STREAM_PROCESSOR_HANDLER,
            code=code,
            description="Speed layer: pre-aggregates each Kinesis batch into DynamoDB realtime counters",
            environment=platform_environment(cfg),
            memory_mb=SPEED.memory_mb,
            timeout=Duration.seconds(60),
        )
        self.event_source = sources.KinesisEventSource(
            stream,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=SPEED.batch_size,
            max_batching_window=Duration.seconds(SPEED.batching_window_s),
            parallelization_factor=cfg.parallelization_factor,
            report_batch_item_failures=True,
            bisect_batch_on_error=True,
            retry_attempts=SPEED.retry_attempts,
            max_record_age=Duration.seconds(SPEED.max_record_age_s),
            on_failure=sources.SqsDlq(dead_letters),
        )
        self.handler.function.add_event_source(self.event_source)
        role = self.handler.role
        role.add_to_policy(iam.PolicyStatement(actions=COUNTER_ACTIONS, resources=[arns.table(self, counters_table)]))
        bad_rows = arns.objects(cfg.settings.names.bucket, f"{c.RAW_BAD_PREFIX}/*")
        role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[bad_rows]))
        nag.acknowledge(
            role,
            "IAM5",
            "late and poison records are stored as bad rows under generated keys; the grant is PutObject "
            "only, under the raw/bad/ prefix of the lake bucket",
            nag.resource_finding(self, bad_rows),
        )
