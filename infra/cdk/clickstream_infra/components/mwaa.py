"""MWAA (behind `-c mwaa=true`): a VPC, the `airflow-` DAGs bucket, the DAGs + clickstream upload,
an execution role with the batch-layer statements, and the environment."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_mwaa as mwaa
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IConstruct

from clickstream_infra import arns, nag
from clickstream_infra.bundling import copy_tree, files_hash
from clickstream_infra.components.airflow import mwaa_execution_statements
from clickstream_infra.components.network import PrivateNetwork
from clickstream_infra.config import DeployConfig

DAGS_PREFIX = "dags"
REQUIREMENTS_KEY = "requirements.txt"
AIRFLOW_REQUIREMENTS = Path("infra") / "cdk" / "airflow" / "requirements.txt"


@jsii.implements(cdk.ILocalBundling)
class DagsBundler:
    """The DAG bundle as MWAA receives it: dags/*.py; clickstream/ as dags/clickstream/ (MWAA puts
    dags/ on sys.path); sql/ as dags/sql/, where `clickstream.sqlfiles.sql_dir()` looks for it
    (next to the package), since the batch-metrics job reads its SQL files at run time; and
    requirements.txt. The quality suites' JSON travels inside clickstream/."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def try_bundle(self, output_dir: str, options: Any) -> bool:
        out = Path(output_dir)
        (out / DAGS_PREFIX).mkdir(parents=True, exist_ok=True)
        for dag in (self.root / "dags").glob("*.py"):
            shutil.copy2(dag, out / DAGS_PREFIX / dag.name)
        copy_tree(self.root / "clickstream", out / DAGS_PREFIX / "clickstream")
        copy_tree(self.root / "sql", out / DAGS_PREFIX / "sql")
        shutil.copy2(self.root / AIRFLOW_REQUIREMENTS, out / REQUIREMENTS_KEY)
        return True


def dags_source(root: Path) -> s3deploy.ISource:
    # Every file copy_tree uploads (the quality suites' JSON too), so a change to any of them redeploys.
    package = [
        p
        for folder in ("clickstream", "sql")
        for p in (root / folder).rglob("*")
        if p.is_file() and p.suffix not in (".pyc", ".pyo")
    ]
    files = [*(root / "dags").glob("*.py"), *package, root / AIRFLOW_REQUIREMENTS]
    return s3deploy.Source.asset(
        str(root / "dags"),
        asset_hash=files_hash(root, files, salt="mwaa"),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            local=DagsBundler(root),  # type: ignore[arg-type]  # see bundling.LambdaAsset
        ),
    )


class ManagedAirflow(Construct):
    """An MWAA environment running the repository's DAGs with `statements` as its data access."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DeployConfig,
        root: Path,
        statements: list[iam.PolicyStatement],
        retention: Any,
    ) -> None:
        super().__init__(scope, construct_id)
        name = cfg.prefix
        # MWAA requires the bucket name to start with "airflow-" and the bucket to be versioned.
        self.bucket_name = f"airflow-{name}-{Aws.ACCOUNT_ID}"
        network = PrivateNetwork(self, "Network", egress=True, retention=retention)
        bucket = s3.Bucket(
            self,
            "Dags",
            bucket_name=self.bucket_name,
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        nag.acknowledge(
            bucket,
            "S1",
            "the DAGs bucket only holds what this app uploads from git (dags/, clickstream/, requirements) "
            "and is versioned; MWAA reads it, nobody else writes it",
        )
        upload = s3deploy.BucketDeployment(
            self,
            "Upload",
            sources=[dags_source(root)],
            destination_bucket=s3.Bucket.from_bucket_name(self, "DagsByName", self.bucket_name),
            memory_limit=512,
        )
        upload.node.add_dependency(bucket)
        role = iam.Role(
            self,
            "Execution",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("airflow.amazonaws.com"), iam.ServicePrincipal("airflow-env.amazonaws.com")
            ),
            description=f"MWAA {name}: Airflow itself plus the batch layer's data access",
        )
        access = iam.Policy(
            self,
            "Access",
            roles=[role],
            statements=[*mwaa_execution_statements(self, environment=name, dags_bucket=self.bucket_name), *statements],
        )
        _acknowledge_execution_policy(access, environment=name, dags_bucket=self.bucket_name)
        _acknowledge_bucket_deployment(upload, dags_bucket=self.bucket_name)
        security_group = ec2.SecurityGroup(
            self, "Workers", vpc=network.vpc, description=f"MWAA {name}: workers, scheduler and web server"
        )
        security_group.add_ingress_rule(security_group, ec2.Port.all_traffic(), "MWAA components talk to each other")
        logging = mwaa.CfnEnvironment.ModuleLoggingConfigurationProperty(enabled=True, log_level="INFO")
        self.environment = mwaa.CfnEnvironment(
            self,
            "Environment",
            name=name,
            airflow_version=cfg.airflow_version,
            environment_class=cfg.mwaa_environment_class,
            execution_role_arn=role.role_arn,
            source_bucket_arn=arns.bucket(self.bucket_name),
            dag_s3_path=DAGS_PREFIX,
            requirements_s3_path=REQUIREMENTS_KEY,
            webserver_access_mode="PRIVATE_ONLY",
            max_workers=2,
            network_configuration=mwaa.CfnEnvironment.NetworkConfigurationProperty(
                subnet_ids=network.private_subnets.subnet_ids[:2],
                security_group_ids=[security_group.security_group_id],
            ),
            logging_configuration=mwaa.CfnEnvironment.LoggingConfigurationProperty(
                dag_processing_logs=logging,
                scheduler_logs=logging,
                task_logs=logging,
                webserver_logs=logging,
                worker_logs=logging,
            ),
        )
        self.environment.node.add_dependency(upload)  # the requirements file must exist at creation
        self.role = role


def _acknowledge_execution_policy(policy: Construct, *, environment: str, dags_bucket: str) -> None:
    nag.acknowledge(
        policy,
        "IAM5",
        "AWS's documented MWAA execution-role policy: Airflow reads its DAGs bucket (any object, bucket "
        "metadata), writes its own airflow-<environment>-* log groups and uses its own airflow-celery-* "
        "queues in the MWAA service account (hence the account wildcard), encrypted via SQS",
        "Action::s3:GetObject*",
        "Action::s3:GetBucket*",
        "Action::s3:List*",
        nag.resource_finding(policy, arns.objects(dags_bucket, "*")),
        nag.resource_finding(
            policy, f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:airflow-{environment}-*"
        ),
        nag.resource_finding(policy, f"arn:{Aws.PARTITION}:sqs:{Aws.REGION}:*:airflow-celery-*"),
        "Action::kms:GenerateDataKey*",
        nag.resource_finding(policy, f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:key/*"),
    )
    nag.acknowledge(
        policy,
        "IAM5",
        "logs:DescribeLogGroups, cloudwatch:PutMetricData and s3:GetAccountPublicAccessBlock have no "
        "resource-level permissions; MWAA needs them to check its logging and bucket settings",
        "Resource::*",
    )


def _acknowledge_bucket_deployment(upload: s3deploy.BucketDeployment, *, dags_bucket: str) -> None:
    """CDK's BucketDeployment handler (a singleton Lambda we do not write) uploads the DAGs."""
    role = upload.handler_role
    nag.acknowledge(
        role,
        "IAM4",
        "CDK's BucketDeployment handler role uses AWSLambdaBasicExecutionRole for its own logs; it runs "
        "only during deployments of this stack",
        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    nag.acknowledge(
        role,
        "IAM5",
        "CDK's BucketDeployment copies the DAGs asset from the CDK assets bucket into the DAGs bucket and "
        "prunes stale files: object wildcards on those two buckets only",
        "Action::s3:GetObject*",
        "Action::s3:GetBucket*",
        "Action::s3:List*",
        "Action::s3:Abort*",
        "Action::s3:DeleteObject*",
        _assets_bucket_finding(role),
        nag.resource_finding(role, arns.objects(dags_bucket, "*")),
    )
    function = role.node.scope
    assert function is not None
    nag.acknowledge(
        function,
        "L1",
        "the runtime of CDK's BucketDeployment handler is chosen by aws-cdk-lib and moves with its upgrades; "
        "the function runs only while this stack deploys",
    )


def _assets_bucket_finding(scope: IConstruct) -> str:
    """The CDK bootstrap assets bucket as cdk-nag names it: literal account/region when the env is known."""
    stack = cdk.Stack.of(scope)
    qualifier = stack.node.try_get_context("@aws-cdk/core:bootstrapQualifier") or "hnb659fds"
    account = "<AWS::AccountId>" if cdk.Token.is_unresolved(stack.account) else stack.account
    region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region
    return f"Resource::arn:<AWS::Partition>:s3:::cdk-{qualifier}-assets-{account}-{region}/*"
