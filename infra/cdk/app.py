"""The clickstream CDK app: `cdk synth|deploy -c stage=dev` (see README.md for every context key).

This file alone knows the stage, account and region; the stacks get a `DeployConfig` whose
resource names come from `clickstream.resources.platform_resources`, as the embedded stack's do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk

sys.path.insert(0, str(Path(__file__).resolve().parent))  # clickstream_infra, when run by `cdk` from anywhere

from clickstream_infra import nag
from clickstream_infra.bundling import API_REQUIREMENTS, LambdaAsset
from clickstream_infra.config import REPO_ROOT, DeployConfig, config_from_context
from clickstream_infra.stacks.ingest import IngestStack
from clickstream_infra.stacks.lake import LakeStack
from clickstream_infra.stacks.observability import ObservabilityStack
from clickstream_infra.stacks.orchestration import OrchestrationStack
from clickstream_infra.stacks.serving import ServingStack
from clickstream_infra.stacks.speed import SpeedStack

# Feature flags live here rather than in cdk.json so that tests (which build the App directly)
# synthesise exactly what `cdk synth` does.
FEATURE_FLAGS: dict[str, Any] = {
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/core:checkSecretUsage": True,
    # The observability stack imports the collector API's id (HTTP API metrics have no name dimension).
    "@aws-cdk/core:defaultCrossStackReferences": "strong",
}


@dataclass(frozen=True)
class Platform:
    app: cdk.App
    cfg: DeployConfig
    ingest: IngestStack
    lake: LakeStack
    speed: SpeedStack
    orchestration: OrchestrationStack
    serving: ServingStack
    observability: ObservabilityStack

    @property
    def stacks(self) -> tuple[cdk.Stack, ...]:
        return (self.ingest, self.lake, self.speed, self.orchestration, self.serving, self.observability)


def build(
    context: dict[str, Any] | None = None, *, outdir: str | None = None, environ: Mapping[str, str] | None = None
) -> Platform:
    """Every stack of one stage, with cdk-nag's AwsSolutions checks registered.

    Account and region come from the CDK CLI (CDK_DEFAULT_ACCOUNT/REGION in `environ`, default
    os.environ); without them the stacks are environment-agnostic.
    """
    environ = os.environ if environ is None else environ
    app = cdk.App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    cfg = config_from_context(app.node.try_get_context)
    env = cdk.Environment(account=environ.get("CDK_DEFAULT_ACCOUNT"), region=environ.get("CDK_DEFAULT_REGION"))
    code = LambdaAsset(root=REPO_ROOT, wheelhouse=cfg.wheelhouse, bundle=cfg.bundle)  # collector, stream processor
    # The query API needs FastAPI, pyarrow, sqlglot...: its own, larger asset keeps the ingest path slim.
    api_code = LambdaAsset(root=REPO_ROOT, wheelhouse=cfg.wheelhouse, bundle=cfg.bundle, requirements=API_REQUIREMENTS)

    def stack_props(layer: str, description: str) -> dict[str, Any]:
        return {
            "stack_name": f"{cfg.prefix}-{layer}",
            "description": f"clickstream {cfg.stage}: {description}",
            "env": env,
            "termination_protection": cfg.stage == "prod",
        }

    ingest = IngestStack(app, "Ingest", cfg=cfg, code=code, **stack_props("ingest", "collector API and stream"))
    lake = LakeStack(app, "Lake", cfg=cfg, **stack_props("lake", "S3 lake, Firehose, Glue, Athena"))
    speed = SpeedStack(app, "Speed", cfg=cfg, code=code, **stack_props("speed", "stream processor and tables"))
    orchestration = OrchestrationStack(app, "Orchestration", cfg=cfg, **stack_props("orchestration", "Airflow"))
    serving = ServingStack(app, "Serving", cfg=cfg, code=api_code, **stack_props("serving", "query API and dashboard"))
    observability = ObservabilityStack(
        app,
        "Observability",
        cfg=cfg,
        api=ingest.collector.api,
        **stack_props("observability", "dashboard and alarms"),
    )
    lake.add_stack_dependency(ingest, "Firehose reads the events stream")
    speed.add_stack_dependency(ingest, "the stream processor reads the events stream")
    orchestration.add_stack_dependency(lake, "Airflow reads and writes the lake")
    orchestration.add_stack_dependency(speed, "Airflow writes the batch view to the batch table")
    serving.add_stack_dependency(lake, "the API queries the lake through Glue and Athena")
    serving.add_stack_dependency(speed, "the API reads the realtime and batch tables")
    for watched in (ingest, lake, speed):
        observability.add_stack_dependency(watched, "alarms watch its resources")
    platform = Platform(app, cfg, ingest, lake, speed, orchestration, serving, observability)
    for stack in platform.stacks:
        cdk.Tags.of(stack).add("project", "clickstream")
        cdk.Tags.of(stack).add("stage", cfg.stage)
    nag.add_checks(app)
    return platform


if __name__ == "__main__":
    build().app.synth()
