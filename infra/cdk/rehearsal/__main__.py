"""`make rehearse`: the synthesized cloud assembly's Lambda artefacts, run the way AWS runs them,
against the embedded stack under the deployed stage's names. docs/REHEARSAL.md says what it
covers and what it cannot."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import string
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # node 20's banner, before jsii starts

ROOT = Path(__file__).resolve().parents[3]
CDK_DIR = ROOT / "infra" / "cdk"
COLLECTOR = "lambdas.collector.handler.handler"
PROCESSOR = "lambdas.stream_processor.handler.handler"
API = "lambdas.api.handler.handler"
REGION = "us-east-1"
# What the rehearsal cannot be faithful to on this machine; printed with every run.
NOT_REHEARSED = (
    "IAM: every call runs with the embedded stack's test credentials, so a missing policy statement is not caught",
    "VPC, API Gateway (throttling, routes, authorisers) and the Lambda service itself: events are handed to the handlers",
    "Python 3.13 on arm64: the bundles here are the same pins and sources built for this machine's Python and CPU",
    "the Lambda runtime's own boto3: the rehearsal puts the lock's boto3 where Lambda's runtime has its own",
    "Firehose: the raw archive is written by its local stand-in (clickstream.emulated.firehose), not by Firehose",
    "Athena: the query API's SQL endpoints are not called, and the batch jobs run their SQL on DuckDB "
    "(CLICKSTREAM_QUERY_ENGINE=local, the one setting the rehearsal overrides)",
    "MWAA itself: its image, Python 3.12 and preinstalled packages; a fresh virtualenv gets the template's Airflow "
    "release and the bundle's requirements (docs/adr/0007-mwaa-airflow-version.md), the DAGs run with dag.test()",
)


@dataclass
class Report:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append((name, ok, detail))
        print(f"  {'✓' if ok else '✗'} {name}: {detail}", flush=True)
        return ok

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m rehearsal",
        description="Rehearse a deployment against a fresh embedded stack under the stage's names. Each Lambda "
        "of the synthesized assembly is built again for this machine with the synth's own bundling code and proven "
        "equal to its asset, then collector -> stream -> stream processor -> counters -> query API run through those "
        "bundles in clean interpreters with the template's environment. The MWAA DAG bundle's requirements are "
        "installed in a fresh virtualenv and its three DAGs run there. Then the checks `make demo` makes. "
        "Exits 1 if any check fails.",
        epilog="`make rehearse` synthesises the MWAA deployment into --assembly first. Bundles and the Airflow "
        "virtualenv are reused from --workdir while their inputs are unchanged. docs/REHEARSAL.md says what is "
        "covered and what cannot be.",
    )
    p.add_argument(
        "--assembly",
        type=Path,
        default=CDK_DIR / ".rehearsal" / "cdk.out",
        help="the cloud assembly, synthesised with -c mwaa=true [infra/cdk/.rehearsal/cdk.out]",
    )
    p.add_argument("--workdir", type=Path, default=CDK_DIR / ".rehearsal", help="bundles, logs, stack state")
    p.add_argument("--events", type=int, default=2000, help="simulated events sent through the collector [2000]")
    p.add_argument("--seed", type=int, default=7, help="simulator seed [7]")
    p.add_argument("--archive-timeout", type=float, default=60.0, help="seconds to wait for the raw archive [60]")
    return p.parse_args(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from rehearsal import assembly as asm
    from rehearsal import lambdas

    try:
        assembly = asm.load(args.assembly.resolve())
        functions = {h: assembly.function(h) for h in (COLLECTOR, PROCESSOR, API)}
    except asm.AssemblyError as exc:
        print(f"rehearsal: {exc}", file=sys.stderr)
        return 2
    stages = {f.environment.get("CLICKSTREAM_STAGE") for f in functions.values()}
    if len(stages) != 1 or None in stages:
        print(f"rehearsal: the functions disagree on CLICKSTREAM_STAGE ({stages})", file=sys.stderr)
        return 1
    stage = stages.pop()
    workdir = args.workdir.resolve()
    report = Report()
    print(f"Rehearsing {args.assembly} (stage {stage}) in {workdir}", flush=True)

    print("\n1. Lambda bundles: built again for this machine, compared with the assets", flush=True)
    bundles: dict[str, Path] = {}
    for handler, function in functions.items():
        requirements = lambdas.requirement_set(ROOT, function)
        bundle = lambdas.build_native(ROOT, requirements, workdir / "bundles")
        found = lambdas.differences(lambdas.contents(function.asset), lambdas.contents(bundle))
        got = lambdas.contents(bundle)
        detail = f"{len(got.sources)} source files, {len(got.distributions)} distributions ({requirements})"
        report.check(f"{function.stack} {handler} equals its asset", not found, "; ".join(found[:5]) or detail)
        bundles[handler] = bundle
    runtime = lambdas.runtime_dir(ROOT, workdir)
    if not report.passed:
        return _finish(report)

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    home = workdir / "stack"
    stack_env = {
        **os.environ,
        "CLICKSTREAM_STAGE": stage,
        "CLICKSTREAM_TRANSPORT": functions[COLLECTOR].environment.get("CLICKSTREAM_TRANSPORT", "kinesis"),
        "AWS_ENDPOINT_URL": endpoint,
        "CLICKSTREAM_HOME": str(home),
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "rehearsal",
        "AWS_SECRET_ACCESS_KEY": "rehearsal",
    }
    print(f"\n2. Embedded stack on {endpoint}, stage {stage}", flush=True)
    python = sys.executable
    up = subprocess.run(
        [python, "-m", "clickstream", "local", "up", "--services", "aws,archiver"], env=stack_env, check=False
    )
    if up.returncode != 0:
        report.check("embedded stack started", False, f"`clickstream local up` exited {up.returncode}")
        return _finish(report)
    invokers: list[Any] = []
    try:
        _rehearse(
            report, functions, bundles, runtime, stack_env, endpoint, workdir, args, invokers, assembly.kinesis_mappings
        )
    except (RuntimeError, subprocess.CalledProcessError) as exc:  # a step that could not run: say which, and stop
        report.check("the rehearsal ran to its end", False, str(exc))
    finally:
        for invoker in invokers:
            invoker.close()
        subprocess.run([python, "-m", "clickstream", "local", "down"], env=stack_env, check=False, capture_output=True)
    return _finish(report)


def _rehearse(
    report: Report,
    functions: dict[str, Any],
    bundles: dict[str, Path],
    runtime: Path,
    stack_env: dict[str, str],
    endpoint: str,
    workdir: Path,
    args: argparse.Namespace,
    invokers: list[Any],
    kinesis_mappings: list[Any],
) -> None:
    """Steps 3 to 6 (the Lambdas, the speed path's checks), then the batch layer."""
    from rehearsal import flows, lambdas

    from clickstream.adapters import _clients
    from clickstream.local.demo_speed import counters_reader, read_counters, recompute
    from clickstream.settings import Settings

    os.environ.update({k: stack_env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")})
    collector_env = functions[COLLECTOR].environment
    stream, bucket = collector_env["CLICKSTREAM_STREAM"], collector_env["CLICKSTREAM_BUCKET"]

    # The names the template gives the functions must be what the stack provisioned for the stage.
    local_engine = {"CLICKSTREAM_QUERY_ENGINE": "local"}  # Athena is not here: DuckDB reads the lake
    settings = Settings.from_env(
        {k: v for k, v in stack_env.items() if k.startswith(("CLICKSTREAM_", "AWS_"))} | local_engine
    )
    aws = {name: _clients.client(name, settings) for name in ("secretsmanager", "kinesis", "s3")}
    names_ok = settings.names.stream == stream and settings.names.bucket == bucket
    report.check("the template's names are the stage's", names_ok, f"stream {stream}, bucket {bucket}")

    # Secrets: created as the stack creates them, resolved as CloudFormation resolves the references.
    secret_values: dict[str, str] = {}
    for handler in (COLLECTOR, API):
        for secret in functions[handler].secrets.values():
            value = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
            aws["secretsmanager"].create_secret(Name=secret, SecretString=value)
            secret_values[secret] = aws["secretsmanager"].get_secret_value(SecretId=secret)["SecretString"]

    def start(handler: str) -> Any:
        function = functions[handler]
        env = lambdas.lambda_environment(function, secret_values, endpoint, REGION)
        invoker = lambdas.Invoker(function, bundles[handler], runtime, env, workdir / f"{function.logical_id}.log")
        invokers.append(invoker)
        return invoker

    print("\n3. Collector Lambda: API Gateway v2 events", flush=True)
    now = started_at = datetime.now(UTC)
    events = flows.traffic(args.events, seed=args.seed, now=now)
    write_key = secret_values[functions[COLLECTOR].secrets["CLICKSTREAM_WRITE_KEY"]]
    started = time.monotonic()
    acknowledged, statuses = flows.send(start(COLLECTOR), events, write_key)
    sent = {e["event_id"] for e in events}
    report.check(
        "the collector acknowledged every event",  # the simulator's events are all valid
        acknowledged == sent,
        f"{len(acknowledged)} of {len(sent)} ids in {sum(statuses.values())} requests {statuses}, "
        f"{time.monotonic() - started:.1f} s",
    )
    shards = flows.read_stream(aws["kinesis"], stream)
    on_stream = [json.loads(r.data)["event_id"] for records in shards.values() for r in records]
    report.check(
        "every acknowledged event is on the stream",
        acknowledged <= set(on_stream),
        f"{len(on_stream)} records on {len(shards)} shards, {len(acknowledged - set(on_stream))} acknowledged ids missing",
    )

    print("\n4. Stream processor Lambda: Kinesis events as its event source mapping sends them", flush=True)
    processor_id = functions[PROCESSOR].logical_id
    mapping = next(m for m in kinesis_mappings if m.function == processor_id and m.stream_name == stream)
    arn = aws["kinesis"].describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    done = flows.process(start(PROCESSOR), shards, mapping, arn, retries=3)
    records = sum(len(r) for r in shards.values())
    report.check(
        "every batch applied",
        done["batches"] >= -(-records // mapping.batch_size),
        f"{done['batches']} batches of up to {mapping.batch_size}, {done['retried']} retried",
    )

    print("\n5. The demo's end-to-end checks", flush=True)
    lines, missing = flows.wait_for_archive(aws["s3"], bucket, acknowledged, args.archive_timeout)
    report.check(
        "every acknowledged event is in the raw archive", not missing, f"{len(lines)} lines, {len(missing)} ids missing"
    )
    truth = recompute(lines)
    counters = read_counters(counters_reader(settings), truth)
    report.check(
        "the counters equal a recomputation from the archive",
        counters == truth,
        f"{sum(t['events'] for t in truth['totals'].values())} events over {len(truth['totals'])} day(s)",
    )

    print("\n6. Query API Lambda: API Gateway v2 events", flush=True)
    read_key = secret_values[functions[API].secrets["CLICKSTREAM_READ_KEY"]]
    api = start(API)
    answer = api.invoke(flows.http_api_event("GET", "/v1/stats", headers={"x-api-key": read_key}))
    body = json.loads(answer["body"]) if answer.get("body") else {}
    expected = sum(t["events"] for t in truth["totals"].values())
    report.check(
        "/v1/stats counts every event",
        answer["statusCode"] == 200 and body.get("total_events") == expected,
        f"HTTP {answer['statusCode']}, total_events {body.get('total_events')} (expected {expected}), "
        f"{len(body.get('recent_events', []))} recent events",
    )
    denied = api.invoke(flows.http_api_event("GET", "/v1/stats", headers={"x-api-key": write_key}))
    report.check("the write key cannot read", denied["statusCode"] == 401, f"HTTP {denied['statusCode']}")

    _batch_layer(report, args, workdir, settings, started_at, acknowledged)


def _batch_layer(
    report: Report,
    args: argparse.Namespace,
    workdir: Path,
    settings: Any,
    started_at: datetime,
    acknowledged: set[str],
) -> None:
    """Steps 7 and 8: the MWAA DAG bundle in a fresh virtualenv, then the demo's batch checks."""
    from rehearsal import orchestration

    from clickstream.adapters.dynamodb import latest_run, run_history
    from clickstream.adapters.query import query_engine

    bundle = orchestration.find(args.assembly.resolve())
    if bundle is None:
        report.check("the assembly has an MWAA environment", False, "synthesise with -c mwaa=true (make rehearse does)")
        return
    print(f"\n7. Batch layer: the MWAA DAG bundle, Airflow {bundle.airflow_version} in a fresh virtualenv", flush=True)
    venv, installed = orchestration.airflow_venv(bundle, workdir)
    how = f"installed in {installed:.0f} s" if installed else "reused: same requirements and constraints"
    report.check(
        "the bundle's requirements install under its constraints",
        (venv / ".complete").is_file(),
        f"{venv.name} ({how})",
    )
    startup = orchestration.startup_environment(bundle)
    ours = {k: v for k, v in startup.items() if k.startswith("CLICKSTREAM_")}
    report.check(
        "the startup script names the stage",
        ours.get("CLICKSTREAM_STAGE") == settings.stage,
        ", ".join(f"{k}={v}" for k, v in sorted(ours.items())) or "it exports nothing of ours",
    )
    first = started_at.replace(minute=0, second=0, microsecond=0)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    airflow_env = {**startup, **bundle.configuration, **orchestration.mwaa_given(bundle, workdir, settings, first)}
    runs = orchestration.run_dags(venv, bundle, airflow_env, first, end)
    report.check(
        "every DAG ran once per arrival hour or day, and succeeded",
        len(runs["hours"]) == (end - first) // timedelta(hours=1)
        and set(runs["dags"]) == {"batch_metrics", "reconcile_speed_batch"},
        f"compact_raw_events x{len(runs['hours'])} ({sum(runs['hours'].values()):.0f} s), "
        + ", ".join(f"{dag} {secs:.0f} s" for dag, secs in runs["dags"].items()),
    )

    print("\n8. The demo's batch checks", flush=True)
    engine = query_engine(settings)
    try:
        table = engine.execute("SELECT count(*) AS events, count(DISTINCT event_id) AS ids FROM events")
        curated = table.to_pylist()[0]
    finally:
        engine.close()
    report.check(
        "the curated table holds every archived event exactly once",
        curated["events"] == curated["ids"] == len(acknowledged),
        f"{curated['events']} rows, {curated['ids']} distinct ids, {len(acknowledged)} archived",
    )
    runs_made = run_history(settings, "compact_raw_events", since=first.isoformat()[:19])
    failed = sum(r.get("status") != "success" for r in runs_made)
    quarantined = sum(int(r.get("quarantined") or 0) for r in runs_made)
    report.check(
        "every compaction passed data quality",
        failed == 0 and quarantined == 0,
        f"{len(runs_made)} runs, {failed} failed, {quarantined} rows quarantined",
    )
    reconciliation = latest_run(settings, "reconcile_speed_batch") or {}
    report.check(
        "reconciliation: zero drift between the batch and speed layers",
        reconciliation.get("mismatches") == 0,
        f"mismatches {reconciliation.get('mismatches')}, max drift {reconciliation.get('max_abs_drift')}",
    )


def _finish(report: Report) -> int:
    print("\nNot rehearsed here (docs/REHEARSAL.md):")
    for item in NOT_REHEARSED:
        print(f"  - {item}")
    failed = [name for name, ok, _ in report.checks if not ok]
    print(
        f"\nRehearsal {'passed' if not failed else 'FAILED'}: {len(report.checks) - len(failed)} of {len(report.checks)} checks"
    )
    for name in failed:
        print(f"  ✗ {name}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
