"""Every IAM statement of every stack: data actions are scoped to named resources, never "*"."""

from __future__ import annotations

import re
from typing import Any

import pytest
from support.cdk import Synth

pytestmark = pytest.mark.slow

DATA_SERVICES = ("s3", "dynamodb", "kinesis", "firehose", "sqs", "glue", "athena", "secretsmanager", "kafka-cluster")
# Actions AWS defines without resource-level permissions: "*" is their only valid resource.
NO_RESOURCE_LEVEL = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
    "logs:DescribeLogGroups",
    "s3:GetAccountPublicAccessBlock",
}


def _statements(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for layer, template in synth.templates.items():
        for logical, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Policy":
                out += [(f"{layer}/{logical}", s) for s in resource["Properties"]["PolicyDocument"]["Statement"]]
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_resource_on_any_data_action(any_synth: Synth) -> None:
    statements = _statements(any_synth)
    assert len(statements) > 10
    for where, s in statements:
        if s["Effect"] != "Allow" or "*" not in _list(s["Resource"]):
            continue
        actions = set(_list(s["Action"]))
        assert actions <= NO_RESOURCE_LEVEL, f"{where}: {sorted(actions - NO_RESOURCE_LEVEL)} on Resource '*'"


def test_no_service_wide_actions(any_synth: Synth) -> None:
    for where, s in _statements(any_synth):
        for action in _list(s["Action"]):
            assert action != "*" and not action.endswith(":*"), f"{where}: {action}"


# Not ours to name: MWAA's Celery queues (in an AWS account) and the SQS-only KMS use of its execution
# policy, and the Data Catalog itself, which Glue checks next to the database and table ARNs.
_PART = r"(?:<AWS::\w+>|[^:]+)"  # a region or account: literal, or a pseudo parameter
NOT_NAMED = re.compile(rf":(sqs:{_PART}:\*:airflow-celery-\*|kms:{_PART}:{_PART}:key/\*|glue:{_PART}:{_PART}:catalog)$")


CDK_ASSETS = "cdk-hnb659fds-assets-"


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_render(p) for p in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<" + ".".join(value["Fn::GetAtt"]) + ">"
    if "Fn::Sub" in value:
        return str(value["Fn::Sub"])
    raise AssertionError(f"unexpected intrinsic {value!r}")


def test_data_actions_name_their_resource(any_synth: Synth) -> None:
    # A data resource is named (from clickstream.resources) or is an attribute of a resource of the stack.
    cfg = any_synth.platform.cfg
    names = cfg.settings.names
    known = (names.stream, names.bucket, names.realtime_table, names.glue_database, cfg.prefix)
    for where, s in _statements(any_synth):
        actions = set(_list(s["Action"]))
        if actions <= NO_RESOURCE_LEVEL or not any(a.split(":")[0] in DATA_SERVICES for a in actions):
            continue
        for resource in _list(s["Resource"]):
            text = _render(resource)
            if CDK_ASSETS in text:  # CDK's BucketDeployment reads its asset from the bootstrap bucket
                continue
            named = any(name in text for name in known)
            own = text.startswith("<") and text.endswith(".Arn>")
            assert named or own or NOT_NAMED.search(text) is not None, f"{where}: {text}"


def test_managed_policies_only_on_cdks_bucket_deployment_handler(default_synth: Synth, flagged_synth: Synth) -> None:
    assert not [r for r in default_synth.resources("AWS::IAM::Role") if r["Properties"].get("ManagedPolicyArns")]
    template = flagged_synth.templates["orchestration"]["Resources"]
    handlers = {
        r["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        for r in template.values()
        if r["Type"] == "Custom::CDKBucketDeployment"
    }
    handler_roles = {template[h]["Properties"]["Role"]["Fn::GetAtt"][0] for h in handlers}
    for layer, t in flagged_synth.templates.items():
        for logical, r in t["Resources"].items():
            if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("ManagedPolicyArns"):
                assert layer == "orchestration" and logical in handler_roles, f"{layer}/{logical}"
