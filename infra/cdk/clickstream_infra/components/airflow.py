"""What the batch layer (Airflow DAGs) may touch, and the two ways to run it on AWS.

`batch_layer_statements` is the whole data access of the DAGs: read raw/, write curated/,
quarantine/ and Athena results, manage the Glue tables of the lake database, run queries in the
workgroup, read the speed layer's counters (reconciliation) and write the batch view, run records
and drift items to the batch table. `AirflowRole` hands it to a self-managed
Airflow (EC2, ECS, EKS or on premises); `ManagedAirflow` runs MWAA with the same statements.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from constructs import Construct

from clickstream import constants as c
from clickstream_infra import arns, nag

LAKE_WRITE_PREFIXES = (
    c.CURATED_EVENTS_PREFIX,
    c.CURATED_METRICS_PREFIX,
    c.QUARANTINE_PREFIX,
    c.MANIFESTS_PREFIX,
    c.QUALITY_PREFIX,
    c.ATHENA_RESULTS_PREFIX,
    c.STAGING_PREFIX,  # the compaction's checked batch and its publish before the copies (ADR 0011)
)
GLUE_ACTIONS = [
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:CreatePartition",
    "glue:BatchCreatePartition",
    "glue:UpdatePartition",
    "glue:BatchUpdatePartition",  # compaction re-points partitions to their new version (ADR 0008)
    "glue:BatchDeletePartition",
]
ATHENA_ACTIONS = [
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
]
BATCH_VIEW_ACTIONS = [
    "dynamodb:BatchWriteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:DeleteItem",  # the compaction's lease is released (clickstream/adapters/dynamodb/locks.py)
]
SPEED_READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]


def batch_layer_statements(
    scope: Construct, *, bucket: str, database: str, workgroup: str, realtime_table: str, batch_table: str
) -> list[iam.PolicyStatement]:
    """Least-privilege data access of the DAGs."""
    return [
        iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[arns.bucket(bucket)]),
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[arns.objects(bucket, "raw/*")]),
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[arns.objects(bucket, f"{prefix}/*") for prefix in LAKE_WRITE_PREFIXES],
        ),
        iam.PolicyStatement(
            actions=GLUE_ACTIONS,
            resources=[
                arns.glue_catalog(scope),
                arns.glue_database(scope, database),
                arns.glue_tables(scope, database),
            ],
        ),
        iam.PolicyStatement(actions=ATHENA_ACTIONS, resources=[arns.athena_workgroup(scope, workgroup)]),
        iam.PolicyStatement(actions=SPEED_READ_ACTIONS, resources=[arns.table(scope, realtime_table)]),
        iam.PolicyStatement(actions=BATCH_VIEW_ACTIONS, resources=[arns.table(scope, batch_table)]),
    ]


def acknowledge_batch_layer(scope: Construct, *, bucket: str, database: str) -> None:
    """The wildcards of `batch_layer_statements`, each with its reason."""
    nag.acknowledge(
        scope,
        "IAM5",
        "the batch layer reads every raw object and rewrites whole partitions under curated/, "
        "quarantine/, quality/, athena-results/ and staging/; each grant is one prefix of the lake bucket",
        *(nag.resource_finding(scope, arns.objects(bucket, f"{p}/*")) for p in ("raw", *LAKE_WRITE_PREFIXES)),
    )
    nag.acknowledge(
        scope,
        "IAM5",
        "compaction creates and updates tables and partitions of the lake database only; Glue needs "
        "the table ARN pattern of that one database",
        nag.resource_finding(scope, arns.glue_tables(scope, database)),
    )


class AirflowRole(Construct):
    """An IAM role for a self-managed Airflow: assumable by `principal` (default: this account's admins)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        principal: str | None,
        statements: list[iam.PolicyStatement],
    ) -> None:
        super().__init__(scope, construct_id)
        trusted: iam.IPrincipal = iam.ArnPrincipal(principal) if principal else iam.AccountRootPrincipal()
        self.role = iam.Role(
            self,
            "Role",
            role_name=name,
            assumed_by=trusted,
            description="clickstream batch layer: Airflow workers assume this role (see infra/cdk/README.md)",
        )
        self.policy = iam.Policy(self, "BatchLayer", statements=statements, roles=[self.role])


def mwaa_execution_statements(scope: Construct, *, environment: str, dags_bucket: str) -> list[iam.PolicyStatement]:
    """The execution-role statements MWAA itself needs (AWS's documented policy, scoped to one environment)."""
    account, region = Aws.ACCOUNT_ID, Aws.REGION
    return [
        iam.PolicyStatement(
            actions=["airflow:PublishMetrics"],
            resources=[f"arn:{Aws.PARTITION}:airflow:{region}:{account}:environment/{environment}"],
        ),
        iam.PolicyStatement(
            actions=["s3:GetObject*", "s3:GetBucket*", "s3:List*"],
            resources=[arns.bucket(dags_bucket), arns.objects(dags_bucket, "*")],
        ),
        iam.PolicyStatement(
            actions=[
                "logs:CreateLogStream",
                "logs:CreateLogGroup",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:GetLogRecord",
                "logs:GetLogGroupFields",
                "logs:GetQueryResults",
            ],
            resources=[f"arn:{Aws.PARTITION}:logs:{region}:{account}:log-group:airflow-{environment}-*"],
        ),
        iam.PolicyStatement(
            actions=["logs:DescribeLogGroups", "cloudwatch:PutMetricData", "s3:GetAccountPublicAccessBlock"],
            resources=["*"],
        ),
        iam.PolicyStatement(
            actions=[
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
            ],
            resources=[f"arn:{Aws.PARTITION}:sqs:{region}:*:airflow-celery-*"],
        ),
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"],
            resources=[f"arn:{Aws.PARTITION}:kms:{region}:{account}:key/*"],
            conditions={"StringLike": {"kms:ViaService": [f"sqs.{region}.amazonaws.com"]}},
        ),
    ]
