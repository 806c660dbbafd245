"""Firehose: Kinesis -> S3 raw/events/dt=YYYY-MM-DD/hour=HH/ NDJSON.gz (the local archiver's AWS twin).

Dynamic partitioning needs a partitioning key from the record (jq or a Lambda): AWS rejects a
dynamically partitioned stream whose prefix has only `!{timestamp:...}`. The key is the event's
`received_at`, which the collector stamps when the request arrives; it is per record, while
`!{timestamp}` is the arrival of the oldest record in the buffer (a buffer that straddles an
hour would land whole in the earlier one). One record is one event, so records are not
de-aggregated; a newline is appended to each to make NDJSON, like the local archiver writes.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from constructs import Construct

from clickstream import constants as c
from clickstream.deployment_defaults import RAW_DELIVERY
from clickstream_infra import arns, nag

# jq 1.6 over the record: received_at is "YYYY-MM-DDTHH:MM:SS.mmmZ" (clickstream.events.timestamps).
PARTITION_QUERY = "{dt: .received_at[0:10], hour: .received_at[11:13]}"
DATA_PREFIX = f"{c.RAW_EVENTS_PREFIX}/dt=!{{partitionKeyFromQuery:dt}}/hour=!{{partitionKeyFromQuery:hour}}/"
ERROR_PREFIX = "raw/firehose-errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
FILE_EXTENSION = ".ndjson.gz"  # the local archiver's suffix
RETRY_SECONDS = 300


class RawDelivery(Construct):
    """A delivery stream reading `stream` and writing gzip NDJSON under raw/ of `bucket`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name: str, stream: str, bucket: str, retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/kinesisfirehose/{name}",
            retention=retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        log_stream = log_group.add_stream("Delivery", log_stream_name="DestinationDelivery")
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"))
        raw_objects = arns.objects(bucket, "raw/*")
        policy = iam.Policy(
            self,
            "Access",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "kinesis:DescribeStream",
                        "kinesis:DescribeStreamSummary",
                        "kinesis:GetShardIterator",
                        "kinesis:GetRecords",
                        "kinesis:ListShards",
                    ],
                    resources=[arns.stream(self, stream)],
                ),
                iam.PolicyStatement(
                    actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    resources=[arns.bucket(bucket)],
                ),
                iam.PolicyStatement(
                    actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"], resources=[raw_objects]
                ),
                iam.PolicyStatement(actions=["logs:PutLogEvents"], resources=[log_group.log_group_arn]),
            ],
        )
        nag.acknowledge(
            policy,
            "IAM5",
            "Firehose names the objects it writes (dynamic dt/hour partitions, error prefix); the grant "
            "covers only the raw/ prefix of the lake bucket",
            nag.resource_finding(self, raw_objects),
        )
        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_name=name,
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=arns.stream(self, stream), role_arn=role.role_arn
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=arns.bucket(bucket),
                role_arn=role.role_arn,
                prefix=DATA_PREFIX,
                error_output_prefix=ERROR_PREFIX,
                file_extension=FILE_EXTENSION,
                compression_format="GZIP",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=RAW_DELIVERY.buffer_interval_s, size_in_m_bs=RAW_DELIVERY.buffer_mib
                ),
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(duration_in_seconds=RETRY_SECONDS),
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        _processor(
                            "MetadataExtraction",
                            MetadataExtractionQuery=PARTITION_QUERY,
                            JsonParsingEngine="JQ-1.6",
                        ),
                        _processor("AppendDelimiterToRecord", Delimiter="\\n"),
                    ],
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True, log_group_name=log_group.log_group_name, log_stream_name=log_stream.log_stream_name
                ),
                s3_backup_mode="Disabled",
            ),
        )
        # Firehose checks its role when the stream is created: the policy must exist first.
        self.delivery_stream.node.add_dependency(policy)
        nag.acknowledge(
            self.delivery_stream,
            "KDF1",
            "a stream whose source is Kinesis cannot enable Firehose server-side encryption; the source "
            "stream is encrypted (aws/kinesis) and the bucket encrypts every object (SSE-S3)",
        )


def _processor(kind: str, **parameters: str) -> firehose.CfnDeliveryStream.ProcessorProperty:
    return firehose.CfnDeliveryStream.ProcessorProperty(
        type=kind,
        parameters=[
            firehose.CfnDeliveryStream.ProcessorParameterProperty(parameter_name=k, parameter_value=v)
            for k, v in parameters.items()
        ],
    )
