"""cdk-nag (AwsSolutions) runs on every synth: zero unacknowledged findings, and every
acknowledgement is specific and still needed."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from clickstream_infra import nag
from support.cdk import Synth

pytestmark = pytest.mark.slow


def test_synth_has_no_unacknowledged_finding(any_synth: Synth) -> None:
    (report,) = [p for p in any_synth.validation_report()["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert report["conclusion"] == "success"
    assert report["violations"] == []
    assert report["suppressedViolations"], "the checks ran (a clean report with nothing acknowledged would be suspect)"


def test_every_acknowledgement_is_specific_and_used(any_synth: Synth) -> None:
    acknowledged: dict[tuple[str, str], str] = {}
    for path in any_synth.outdir.glob("*.metadata.json"):
        for construct, entries in json.loads(path.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    # aws-cdk-lib acknowledges some CloudFormation-Validate rules in its own constructs.
                    ours = {r: why for r, why in entry["data"].items() if r.startswith(nag.PACK + "::")}
                    acknowledged |= {(construct.lstrip("/"), rule): why for rule, why in ours.items()}
    assert acknowledged
    (report,) = any_synth.validation_report()["pluginReports"]
    used = {(v["acknowledgedAt"], v["acknowledgedId"]) for v in report["suppressedViolations"]}
    stale = sorted(set(acknowledged) - used)
    assert not stale, f"acknowledgements that no finding needs any more: {stale}"
    for (construct, rule), reason in acknowledged.items():
        assert len(reason) >= 40, f"{construct} {rule}: {reason!r}"


def _insecure_app(outdir: Path) -> tuple[cdk.App, s3.Bucket]:
    app = cdk.App(outdir=str(outdir))
    bucket = s3.Bucket(cdk.Stack(app, "Probe"), "Open")  # no access logs, no TLS-only policy
    nag.add_checks(app)
    return app, bucket


def test_an_unacknowledged_finding_fails_the_synth(tmp_path: Path) -> None:
    app, _ = _insecure_app(tmp_path)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_acknowledging_with_a_reason_clears_the_finding(tmp_path: Path) -> None:
    app, bucket = _insecure_app(tmp_path)
    reason = "a probe bucket in a test app, never deployed: nothing to log or to protect"
    nag.acknowledge(bucket, "S1", reason)
    nag.acknowledge(bucket, "S10", reason)
    app.synth()


def test_vague_reasons_are_refused(tmp_path: Path) -> None:
    _, bucket = _insecure_app(tmp_path)
    with pytest.raises(ValueError, match="specific reason"):
        nag.acknowledge(bucket, "S1", "not needed")
