"""ARNs built from physical names (which come from `clickstream.resources`).

Stacks refer to each other's resources by name, not by token: no CloudFormation exports
couple the stacks, IAM statements show the resource they are scoped to, and the cdk-nag
finding ids acknowledged in `nag.py` do not depend on generated logical ids.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Stack
from constructs import Construct


def _arn(scope: Construct, service: str, resource: str, name: str | None = None, *, sep: str = "/") -> str:
    fmt = ArnFormat.SLASH_RESOURCE_NAME if sep == "/" else ArnFormat.COLON_RESOURCE_NAME
    return Stack.of(scope).format_arn(service=service, resource=resource, resource_name=name, arn_format=fmt)


def stream(scope: Construct, name: str) -> str:
    return _arn(scope, "kinesis", "stream", name)


def table(scope: Construct, name: str) -> str:
    return _arn(scope, "dynamodb", "table", name)


def queue(scope: Construct, name: str) -> str:
    return Stack.of(scope).format_arn(service="sqs", resource=name, arn_format=ArnFormat.NO_RESOURCE_NAME)


def bucket(name: str) -> str:
    return f"arn:{Aws.PARTITION}:s3:::{name}"


def objects(name: str, key_pattern: str) -> str:
    """Objects of bucket `name` whose keys match `key_pattern` (e.g. "raw/bad/*")."""
    return f"{bucket(name)}/{key_pattern}"


def glue_catalog(scope: Construct) -> str:
    return _arn(scope, "glue", "catalog")


def glue_database(scope: Construct, name: str) -> str:
    return _arn(scope, "glue", "database", name)


def glue_tables(scope: Construct, database: str) -> str:
    return _arn(scope, "glue", "table", f"{database}/*")


def athena_workgroup(scope: Construct, name: str) -> str:
    return _arn(scope, "athena", "workgroup", name)


def log_group(scope: Construct, name: str) -> str:
    return _arn(scope, "logs", "log-group", f"{name}:*", sep=":")
