"""cdk-nag 3 (AwsSolutions) on every synth, and acknowledgements that each carry their reason.

cdk-nag 3 reports findings through CDK's `Validations` API: an unacknowledged finding makes
`app.synth()` raise. Acknowledge a finding on the narrowest construct that produces it.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct

PACK = "AwsSolutions"


def add_checks(app: cdk.App) -> None:
    """Run the AwsSolutions pack over every stack of `app` when it synthesises."""
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule: str, reason: str, *findings: str) -> None:
    """Acknowledge `rule` (e.g. "S1") on `scope`; a rule with per-finding ids (IAM4, IAM5) names each one."""
    if len(reason) < 40:
        raise ValueError(f"{rule}: give a specific reason, not {reason!r}")
    base = f"{PACK}::{PACK}-{rule}"
    ids = [f"{base}[{finding}]" for finding in findings] or [base]
    cdk.Validations.of(scope).acknowledge(*(cdk.Acknowledgment(id=i, reason=reason) for i in ids))


def resource_finding(scope: IConstruct, arn: str) -> str:
    """The IAM5 finding id of a wildcard resource ARN, rendered the way cdk-nag prints it."""
    return "Resource::" + _render(cdk.Stack.of(scope).resolve(arn))


def _render(value: Any) -> str:
    # cdk-nag shows {"Ref": "AWS::Partition"} as <AWS::Partition> and {"Fn::GetAtt": [id, attr]} as <id.attr>.
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(_render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<" + ".".join(value["Fn::GetAtt"]) + ">"
    raise ValueError(f"cannot render {value!r} as a cdk-nag finding id")
