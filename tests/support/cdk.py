"""Synthesising the CDK app for the tests (see conftest.py for the session fixtures).

Variants:

`default` is what `make synth` builds (stage dev, every flag off); `flagged` turns every option
on (another stage, a bucket override, provisioned shards, MSK Serverless, MWAA). Both use
`-c bundle=false`: the Lambda asset then holds our sources only, so synth needs no wheels and no
network (the full bundle is covered by `make synth` and test_bundling.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before jsii starts node

ROOT = Path(__file__).resolve().parents[2]
CDK_DIR = ROOT / "infra" / "cdk"
if str(CDK_DIR) not in sys.path:
    sys.path.insert(0, str(CDK_DIR))

DEFAULT_CONTEXT = {"stage": "dev", "bundle": "false"}
FLAGGED_CONTEXT = {
    "stage": "qa",
    "bucket": "acme-clickstream-qa-lake",
    "shards": "4",
    "msk": "true",
    "mwaa": "true",
    "alarmEmail": "oncall@example.com",
    "bundle": "false",
}
# As the CDK CLI sets them when credentials are configured: ARNs and cdk-nag findings then carry
# literal accounts and regions instead of pseudo parameters.
FLAGGED_ENVIRON = {"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"}


@dataclass(frozen=True)
class Synth:
    """One synthesised variant: its context, the Platform object, the templates by layer, the outdir."""

    context: dict[str, str]
    platform: Any
    templates: dict[str, dict[str, Any]]  # ingest, lake, speed, orchestration, serving, observability
    outdir: Path

    def template(self, layer: str) -> Any:
        from aws_cdk.assertions import Template

        return Template.from_json(self.templates[layer])

    def resources(self, type_: str) -> list[dict[str, Any]]:
        """Every resource of `type_` across all stacks."""
        return [r for t in self.templates.values() for r in t["Resources"].values() if r["Type"] == type_]

    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


def load_app() -> ModuleType:
    """infra/cdk/app.py as a module (it is a script, not a package member)."""
    name = "clickstream_cdk_app"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CDK_DIR / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def synthesise(context: dict[str, str], outdir: Path, environ: dict[str, str] | None = None) -> Synth:
    platform = load_app().build(dict(context), outdir=str(outdir), environ=environ or {})
    assembly = platform.app.synth()  # raises when cdk-nag has an unacknowledged finding
    layers = ("ingest", "lake", "speed", "orchestration", "serving", "observability")
    templates = {layer: assembly.get_stack_artifact(getattr(platform, layer).artifact_id).template for layer in layers}
    return Synth(context, platform, templates, outdir)
