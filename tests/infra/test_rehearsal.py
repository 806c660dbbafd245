"""The rehearsal's parts (infra/cdk/rehearsal): reading an assembly, proving a bundle equal to its
asset, the clean-interpreter Lambda environment, and the event source mapping's retries. CI runs
the whole rehearsal on the real assembly (`make rehearse`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from rehearsal import assembly as asm
from rehearsal import flows, lambdas
from support.cdk import ROOT  # tests/infra/conftest.py imports it first: infra/cdk is on sys.path

from clickstream.emulated.event_source_mapping.events import KinesisRecord

TEMPLATE = {
    "Resources": {
        "WriteKey": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {"Name": "clickstream-dev/write-key", "Description": "write key"},
        },
        "Collector": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "lambdas.collector.handler.handler",
                "Runtime": "python3.13",
                "Timeout": 10,
                "MemorySize": 512,
                "Code": {"S3Bucket": {"Fn::Sub": "cdk-assets"}, "S3Key": "abc123.zip"},
                "Environment": {
                    "Variables": {
                        "CLICKSTREAM_STAGE": "dev",
                        "CLICKSTREAM_WRITE_KEY": {
                            "Fn::Join": [
                                "",
                                ["{{resolve:secretsmanager:", {"Ref": "WriteKey"}, ":SecretString:::}}"],
                            ]
                        },
                    }
                },
            },
        },
        "Mapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "BatchSize": 1000,
                "EventSourceArn": {
                    "Fn::Join": [
                        "",
                        ["arn:", {"Ref": "AWS::Partition"}, ":kinesis:us-east-1:1:stream/clickstream-dev-events"],
                    ]
                },
                "FunctionName": {"Ref": "Collector"},
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "StartingPosition": "TRIM_HORIZON",
            },
        },
    }
}


def write_assembly(root: Path, template: dict[str, Any] = TEMPLATE) -> Path:
    (root / "manifest.json").write_text("{}")
    (root / "Ingest.template.json").write_text(json.dumps(template))
    (root / "asset.abc123" / "lambdas").mkdir(parents=True)
    return root


def test_the_assembly_gives_each_function_its_environment_secrets_and_mapping(tmp_path: Path) -> None:
    assembly = asm.load(write_assembly(tmp_path))
    fn = assembly.function("lambdas.collector.handler.handler")
    assert (fn.stack, fn.logical_id, fn.timeout_s, fn.memory_mb) == ("Ingest", "Collector", 10, 512)
    assert fn.asset == tmp_path / "asset.abc123"
    assert fn.environment == {"CLICKSTREAM_STAGE": "dev"}
    assert fn.secrets == {"CLICKSTREAM_WRITE_KEY": "clickstream-dev/write-key"}
    [mapping] = assembly.kinesis_mappings
    assert (mapping.function, mapping.stream_name, mapping.batch_size) == ("Collector", "clickstream-dev-events", 1000)
    assert mapping.report_failures and mapping.starting_position == "TRIM_HORIZON"


def test_a_missing_or_unreadable_assembly_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(asm.AssemblyError, match="make synth"):
        asm.load(tmp_path)
    template = json.loads(json.dumps(TEMPLATE))
    template["Resources"]["Collector"]["Properties"]["Environment"]["Variables"]["X"] = {"Fn::GetAtt": ["A", "Arn"]}
    with pytest.raises(asm.AssemblyError, match=r"Collector X: the rehearsal cannot resolve"):
        asm.load(write_assembly(tmp_path, template))


def _bundle(root: Path, sources: dict[str, str], distributions: dict[str, str]) -> Path:
    for name, text in sources.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for name, version in distributions.items():
        meta = root / f"{name.replace('-', '_')}-{version}.dist-info" / "METADATA"
        meta.parent.mkdir(parents=True)
        meta.write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nlong description: here\n")
    return root


def test_a_bundle_equals_its_asset_only_with_the_same_sources_and_versions(tmp_path: Path) -> None:
    sources = {"clickstream/a.py": "x = 1\n", "lambdas/h.py": "def handler(e, c): ...\n"}
    asset = lambdas.contents(_bundle(tmp_path / "asset", sources, {"orjson": "3.13.0", "ua-parser": "1.0.2"}))
    same = lambdas.contents(_bundle(tmp_path / "same", sources, {"orjson": "3.13.0", "ua_parser": "1.0.2"}))
    assert lambdas.differences(asset, same) == []
    changed = {**sources, "clickstream/a.py": "x = 2\n", "clickstream/new.py": ""}
    other = lambdas.contents(_bundle(tmp_path / "other", changed, {"orjson": "3.14.0"}))
    assert lambdas.differences(asset, other) == [
        "source clickstream/a.py: differs",
        "source clickstream/new.py: only here",
        "distribution orjson: asset 3.13.0, local 3.14.0",
        "distribution ua-parser: asset 1.0.2, local absent",
    ]


def test_an_asset_built_without_its_requirements_matches_no_set(tmp_path: Path) -> None:
    """`-c bundle=false` (sources only) or a stale cdk.out: the rehearsal refuses, naming the fix."""
    fn = asm.load(write_assembly(tmp_path)).function("lambdas.collector.handler.handler")
    with pytest.raises(asm.AssemblyError, match=r"match no requirement set.*make synth"):
        lambdas.requirement_set(ROOT, fn)
    from clickstream_infra.bundling import pinned_versions

    assert pinned_versions(ROOT / "lambdas" / "requirements.txt")["aws-lambda-powertools"]  # extras dropped


HANDLERS = """
import os, sys, time
print("a print goes to the logs, not the answer")

def echo(event, context):
    return {"event": event, "stage": os.environ.get("CLICKSTREAM_STAGE"), "left_ms": context.get_remaining_time_in_millis(),
            "request": context.aws_request_id, "trace": os.environ["_X_AMZN_TRACE_ID"], "path": sys.path[:2]}

def fail(event, context):
    raise ValueError("bad batch")

def slow(event, context):
    time.sleep(1.2)
    return {}
"""


def _invoker(tmp_path: Path, handler: str, timeout: int = 5) -> lambdas.Invoker:
    task, runtime = tmp_path / "task", tmp_path / "runtime"
    (task / "fns").mkdir(parents=True, exist_ok=True)
    runtime.mkdir(exist_ok=True)
    (task / "fns" / "__init__.py").write_text("")
    (task / "fns" / "handlers.py").write_text(HANDLERS)
    (task / "fns" / "needs_yaml.py").write_text("import yaml\n\ndef handler(event, context):\n    return {}\n")
    fn = asm.Function(
        stack="S",
        logical_id=handler.replace(".", "_"),
        handler=handler,
        runtime="python3.13",
        timeout_s=timeout,
        memory_mb=128,
        asset=task,
        asset_hash="h",
        environment={"CLICKSTREAM_STAGE": "dev"},
    )
    env = lambdas.lambda_environment(fn, {}, "http://127.0.0.1:1", "us-east-1")
    return lambdas.Invoker(fn, task, runtime, env, tmp_path / "fn.log")


def test_the_handler_runs_warm_with_the_template_environment_and_a_lambda_context(tmp_path: Path) -> None:
    invoker = _invoker(tmp_path, "fns.handlers.echo")
    try:
        first, second = invoker.invoke({"n": 1}), invoker.invoke({"n": 2})
    finally:
        invoker.close()
    assert first["event"] == {"n": 1} and second["event"] == {"n": 2}
    assert first["stage"] == "dev" and 0 < first["left_ms"] <= 5000
    assert first["request"] != second["request"] and first["trace"].startswith("Root=1-")
    assert first["path"] == [str(tmp_path / "task"), str(tmp_path / "runtime")]
    assert "a print goes to the logs" in (tmp_path / "fn.log").read_text()


def test_the_bundle_alone_is_on_the_path(tmp_path: Path) -> None:
    """yaml is installed in the dev venv running this test, but not in the bundle: as in AWS, the
    import fails, so a package missing from a requirement set fails the rehearsal."""
    import yaml  # noqa: F401 - the precondition: this interpreter has it

    invoker = _invoker(tmp_path, "fns.needs_yaml.handler")
    try:
        with pytest.raises(
            RuntimeError, match=r"Runtime\.ImportModuleError: ModuleNotFoundError: No module named 'yaml'"
        ):
            invoker.invoke({})
    finally:
        invoker.close()


def test_errors_and_overruns_are_reported_as_lambda_reports_them(tmp_path: Path) -> None:
    failing = _invoker(tmp_path, "fns.handlers.fail")
    try:
        with pytest.raises(RuntimeError, match="ValueError: bad batch"):
            failing.invoke({})
    finally:
        failing.close()
    slow = _invoker(tmp_path, "fns.handlers.slow", timeout=1)
    try:
        with pytest.raises(RuntimeError, match=r"ran \d+ ms, past its 1 s timeout"):
            slow.invoke({})
    finally:
        slow.close()


class FailsOnce:
    """The handler side of the contract: reports record `poison` failed the first time it sees it."""

    def __init__(self, poison: int) -> None:
        self.poison, self.seen, self.failed = poison, [], False

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        numbers = [int(r["kinesis"]["sequenceNumber"]) for r in event["Records"]]
        self.seen.append(numbers)
        if self.poison in numbers and not self.failed:
            self.failed = True
            return {"batchItemFailures": [{"itemIdentifier": str(self.poison)}]}
        return {"batchItemFailures": []}


def test_a_reported_failure_is_retried_from_that_record_and_nothing_after_is_skipped() -> None:
    records = [KinesisRecord(sequence=n, partition_key="u", data=b"{}", arrival=0.0) for n in range(10, 20)]
    mapping = asm.KinesisMapping("F", "s", batch_size=4, report_failures=True, starting_position="TRIM_HORIZON")
    handler = FailsOnce(poison=15)
    done = flows.process(
        handler, {"shardId-000000000000": records}, mapping, "arn:aws:kinesis:us-east-1:1:stream/s", retries=3
    )  # type: ignore[arg-type]
    assert handler.seen == [[10, 11, 12, 13], [14, 15, 16, 17], [15, 16, 17, 18], [19]]
    assert done == {"batches": 4, "retried": 1}


def test_the_rehearsal_explains_itself() -> None:
    import subprocess

    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    out = subprocess.run(
        [sys.executable, "-m", "rehearsal", "--help"],
        cwd=ROOT / "infra" / "cdk",
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0 and "cdk.out" in out.stdout and "--events" in out.stdout


def test_the_mwaa_deployment_gives_the_rehearsal_its_dag_bundle_and_startup_settings(flagged_synth: Any) -> None:
    from clickstream_infra.components.mwaa import MWAA_AIRFLOW_VERSION, mwaa_requirements
    from rehearsal import orchestration

    bundle = orchestration.find(flagged_synth.outdir)
    assert bundle is not None
    assert bundle.airflow_version == MWAA_AIRFLOW_VERSION
    assert bundle.requirements.read_text() == mwaa_requirements(ROOT)
    assert (bundle.dags / "compact_raw_events.py").is_file() and (bundle.dags / "sql").is_dir()
    assert orchestration.startup_environment(bundle)["CLICKSTREAM_STAGE"] == "qa"


def test_without_mwaa_there_is_no_dag_bundle_to_rehearse(default_synth: Any) -> None:
    from rehearsal import orchestration

    assert orchestration.find(default_synth.outdir) is None
