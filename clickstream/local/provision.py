"""Provision every resource from `clickstream.resources` on an AWS-compatible endpoint.

Route: deploy the CloudFormation template to the server's CloudFormation API (moto and
LocalStack both create the S3, DynamoDB, Kinesis and SQS resources from it), then fill the
gaps moto's CloudFormation leaves (the Glue database and the lake's fixed tables, `raw_events` and
`events`, from `clickstream.catalog`). Safe to run any number of times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from clickstream.adapters import _clients
from clickstream.adapters.cloudformation import StackDeployer
from clickstream.adapters.dynamodb import TableAdmin
from clickstream.adapters.glue import GlueCatalog
from clickstream.catalog import FIXED_TABLES
from clickstream.resources import cloudformation_template, platform_resources
from clickstream.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionReport:
    stack: str
    stack_action: str
    glue_database_created: bool


def stack_name(settings: Settings) -> str:
    return f"clickstream-{settings.stage}-data"


def provision(settings: Settings) -> ProvisionReport:
    res = platform_resources(settings)
    name = stack_name(settings)
    action = StackDeployer(_clients.client("cloudformation", settings)).deploy(name, cloudformation_template(res))
    glue = GlueCatalog(_clients.client("glue", settings))
    created = glue.ensure_database(res.glue_database)
    for table_def in FIXED_TABLES:
        glue.ensure_table(res.glue_database, table_def, res.bucket.name)
    _ensure_workgroup(settings)
    # moto's CloudFormation ignores TimeToLiveSpecification; set it through the API (a no-op on AWS/LocalStack).
    admin = TableAdmin(_clients.client("dynamodb", settings))
    for table in res.tables:
        if table.ttl_attribute:
            admin.ensure_ttl(table.name, table.ttl_attribute)
    _wait_stream_active(settings, res.stream.name)
    return ProvisionReport(stack=name, stack_action=action, glue_database_created=created)


def _ensure_workgroup(settings: Settings) -> None:
    """The Athena workgroup, for `CLICKSTREAM_QUERY_ENGINE=athena` against an emulator that has Athena.

    LocalStack's community edition has no Athena; the local engine does not need it, so skip quietly.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from clickstream.adapters.query import ensure_workgroup

    try:
        ensure_workgroup(settings, client=_clients.client("athena", settings))
    except (ClientError, BotoCoreError) as exc:
        log.info("Athena workgroup not created (%s); the local query engine does not need it", exc)


def _wait_stream_active(settings: Settings, stream: str) -> None:
    waiter = _clients.client("kinesis", settings).get_waiter("stream_exists")
    waiter.wait(StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
