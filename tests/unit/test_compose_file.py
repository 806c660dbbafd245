"""docker-compose.localstack.yml cannot run here (no Docker engine), so check what can be checked: the
schema (images or builds, ports, depends_on conditions, healthchecks, named volumes), unique host ports that
match the defaults, every app command is a real CLI command, every environment variable is one the code
(or Airflow, or the Grafana provisioning) reads, every mounted or copied path exists, and LocalStack runs
every service the provisioned resources need."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from clickstream import constants as c
from clickstream.cli import main as cli_main
from clickstream.local import prometheus as local_prometheus
from clickstream.resources import cloudformation_template, platform_resources
from clickstream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.localstack.yml"
ENV_NAMES = {getattr(c, n) for n in dir(c) if n.startswith("ENV_")} | {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
ONE_SHOT = {"provision", "airflow-init", "simulator"}  # run to completion: no healthcheck
# CloudFormation resource type prefix -> the LocalStack service that must be enabled
CFN_SERVICES = {
    "AWS::S3": "s3",
    "AWS::DynamoDB": "dynamodb",
    "AWS::Kinesis": "kinesis",
    "AWS::SQS": "sqs",
    "AWS::Glue": "glue",
    "AWS::IAM": "iam",
    "AWS::Lambda": "lambda",
    "AWS::KinesisFirehose": "firehose",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def _app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services of the app image (./Dockerfile, entrypoint `clickstream`)."""
    return {n: s for n, s in compose["services"].items() if s.get("build") == "."}


def _airflow_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if n.startswith("airflow-")}


# --- schema ---------------------------------------------------------------------------------------------


def test_every_service_has_an_image_or_a_build_and_valid_dependencies(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), f"{name}: no image and no build"
        if isinstance(svc.get("image"), str) and not svc.get("build"):
            assert ":" in svc["image"] and not svc["image"].endswith(":latest"), f"{name}: pin the image tag"
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert spec["condition"] in CONDITIONS, f"{name} -> {dep}: condition {spec['condition']}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy; {dep} has no healthcheck"
            if spec["condition"] == "service_completed_successfully":
                assert services[dep].get("restart") == "no", f"{dep} is waited on to finish; it must not restart"


def test_long_running_services_have_healthchecks(compose: dict[str, Any]) -> None:
    for name, svc in _services(compose).items():
        if name in ONE_SHOT or name in ("archiver", "consumer"):  # portless workers: restart policy instead
            continue
        check = svc.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: no healthcheck"
        assert {"interval", "timeout", "retries"} <= set(check), f"{name}: incomplete healthcheck"


def test_named_volumes_are_declared_and_bind_mounts_exist(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, svc in _services(compose).items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist in the repo"
            else:
                assert source in declared, f"{name} uses volume {source}, not declared under volumes:"
                used.add(source)
    assert declared == used, f"declared but unused volumes: {sorted(declared - used)}"


def _host_ports(compose: dict[str, Any]) -> Iterator[tuple[str, int, int]]:
    for name, svc in _services(compose).items():
        for spec in svc.get("ports", []):
            parts = str(spec).split(":")
            assert len(parts) == 3 and parts[0] == "127.0.0.1", f"{name}: publish on loopback only ({spec})"
            yield name, int(parts[1]), int(parts[2])


def test_host_ports_are_unique_and_match_the_defaults(compose: dict[str, Any]) -> None:
    ports = list(_host_ports(compose))
    hosts = [p for _, p, _ in ports]
    assert len(hosts) == len(set(hosts)), f"a host port is published twice: {sorted(hosts)}"
    published = {name: (host, inner) for name, host, inner in ports}
    assert published["localstack"] == (c.LOCAL_AWS_PORT, 4566)
    assert published["collector"][0] == c.DEFAULT_COLLECTOR_PORT
    assert published["api"][0] == c.DEFAULT_API_PORT
    assert published["airflow-apiserver"][0] == c.DEFAULT_AIRFLOW_PORT
    assert published["prometheus"][0] == local_prometheus.DEFAULT_PORT


# --- the app -------------------------------------------------------------------------------------------


def test_every_app_command_resolves_to_a_cli_command(compose: dict[str, Any]) -> None:
    for name, svc in _app_services(compose).items():
        args = list(svc["command"])
        ctx = click.Context(cli_main)
        cmd: click.Command = cli_main
        while isinstance(cmd, click.Group) and args and not args[0].startswith("-"):
            sub = cmd.get_command(ctx, args[0])
            assert sub is not None, f"service {name}: `clickstream {' '.join(svc['command'])}` is not a command"
            cmd, args = sub, args[1:]
        assert not isinstance(cmd, click.Group), f"service {name}: command stops at a group"
        # the options parse as the real command would parse them
        cmd.make_context(name, args, resilient_parsing=False)


def test_app_env_names_are_the_ones_the_code_reads(compose: dict[str, Any]) -> None:
    for name, svc in _app_services(compose).items():
        unknown = set(svc["environment"]) - ENV_NAMES
        assert not unknown, f"service {name} sets variables no code reads: {sorted(unknown)}"


def test_app_env_builds_valid_settings_with_the_services_addresses(compose: dict[str, Any]) -> None:
    env = {
        k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v))
        for k, v in compose["services"]["collector"]["environment"].items()
    }
    settings = Settings.from_env(env)
    assert urlsplit(settings.endpoint_url or "").hostname == "localstack"
    assert (settings.kafka_bootstrap or "").split(":")[0] == "kafka"
    assert settings.read_key and settings.read_key != settings.write_key


# --- Airflow -------------------------------------------------------------------------------------------


def _airflow_options() -> dict[str, set[str]]:
    spec = importlib.util.find_spec("airflow")  # locates the package without importing it
    assert spec is not None and spec.submodule_search_locations
    doc = yaml.safe_load(
        (Path(next(iter(spec.submodule_search_locations))) / "config_templates" / "config.yml").read_text()
    )
    return {section: set(body.get("options") or {}) for section, body in doc.items()}


def test_airflow_has_its_components_and_real_config_options(compose: dict[str, Any]) -> None:
    airflow = _airflow_services(compose)
    commands = {tuple(s["command"]) for s in airflow.values()}
    assert {("api-server",), ("scheduler",), ("dag-processor",), ("db", "migrate")} <= commands
    assert compose["services"]["postgres"]["image"].startswith("postgres:")
    options = _airflow_options()
    for name, svc in airflow.items():
        for var in svc["environment"]:
            if var.startswith("AIRFLOW__"):
                _, section, key = var.split("__", 2)
                assert key.lower() in options.get(section.lower(), set()), f"{name}: {var} is not an Airflow option"
            elif not var.startswith("AIRFLOW_CONN_"):
                assert var in ENV_NAMES, f"{name}: {var} is neither Airflow's nor clickstream's"
        assert "./dags:/opt/airflow/dags:ro" in svc["volumes"], f"{name}: the repo's dags/ is not mounted"


def test_airflow_aws_default_connection_points_at_localstack(compose: dict[str, Any]) -> None:
    env = compose["services"]["airflow-scheduler"]["environment"]
    conn = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert conn["conn_type"] == "aws"
    assert conn["extra"]["endpoint_url"] == env[c.ENV_ENDPOINT] == "http://localstack:4566"
    api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert api.hostname == "airflow-apiserver" and api.port == 8080


def test_dockerfiles_copy_paths_that_exist(compose: dict[str, Any]) -> None:
    texts = [(ROOT / "Dockerfile").read_text()]
    texts += [s["build"]["dockerfile_inline"] for s in _services(compose).values() if isinstance(s.get("build"), dict)]
    for text in texts:
        for line in text.splitlines():
            words = [w for w in line.split() if not w.startswith("--")]
            if words and words[0] == "COPY":
                for src in words[1:-1]:
                    assert (ROOT / src).exists(), f"a Dockerfile copies {src}, which does not exist"


def test_every_image_installs_under_the_lock(compose: dict[str, Any]) -> None:
    """The images install what CI tested: every `pip install -r` is constrained by requirements.lock."""
    texts = [(ROOT / "Dockerfile").read_text()]
    texts += [s["build"]["dockerfile_inline"] for s in _services(compose).values() if isinstance(s.get("build"), dict)]
    installs = [line for text in texts for line in text.splitlines() if "pip install" in line and " -r " in line]
    assert installs, "no image installs the requirements any more: update this test"
    for line in installs:
        assert "-c " in line and "requirements.lock" in line, f"not under the lock: {line.strip()}"


# --- LocalStack, variables, Prometheus ----------------------------------------------------------------------


def test_localstack_runs_every_service_the_resources_need(compose: dict[str, Any]) -> None:
    enabled = set(compose["services"]["localstack"]["environment"]["SERVICES"].split(","))
    template = cloudformation_template(platform_resources(Settings()))
    for resource in template["Resources"].values():
        prefix = "::".join(resource["Type"].split("::")[:2])
        assert CFN_SERVICES[prefix] in enabled, f"{resource['Type']} needs LocalStack service {CFN_SERVICES[prefix]}"
    assert {"cloudformation", "glue", "athena", "sts"} <= enabled  # provisioning route, catalog, query engine


def test_localstack_auth_token_is_required_with_a_message(compose: dict[str, Any]) -> None:
    token = compose["services"]["localstack"]["environment"]["LOCALSTACK_AUTH_TOKEN"]
    assert re.match(r"\$\{LOCALSTACK_AUTH_TOKEN:\?.+\}", token)
    assert "LOCALSTACK_AUTH_TOKEN=" in (ROOT / ".env.example").read_text()


def test_every_compose_variable_is_defaulted_required_or_in_env_example() -> None:
    text = COMPOSE.read_text()
    example = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    used = set()
    for name, op in re.findall(r"(?<!\$)\$\{(\w+)(:[-?])?", text):
        used.add(name)
        assert op or name in example, f"${{{name}}} has no default and is not in .env.example"
    assert example <= used, f".env.example lists variables compose never reads: {sorted(example - used)}"


def test_prometheus_scrapes_the_api_like_the_local_template(compose: dict[str, Any]) -> None:
    compose_cfg = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    local_text = local_prometheus.render_config(
        local_prometheus.TEMPLATE.read_text(), api_target="127.0.0.1:8001", read_key="k", listen="127.0.0.1:9090"
    )
    local_cfg = yaml.safe_load(local_text)

    def jobs(cfg: dict[str, Any]) -> dict[str, tuple[str, str]]:
        return {
            j["job_name"]: (j.get("metrics_path", "/metrics"), j.get("authorization", {}).get("type", ""))
            for j in cfg["scrape_configs"]
        }

    assert jobs(compose_cfg) == jobs(local_cfg)
    assert compose_cfg["global"] == local_cfg["global"]
    api_job = next(j for j in compose_cfg["scrape_configs"] if j["job_name"] == "clickstream-api")
    host, port = api_job["static_configs"][0]["targets"][0].split(":")
    assert host in compose["services"] and int(port) == c.DEFAULT_API_PORT
    assert api_job["authorization"]["credentials"] == c.LOCAL_READ_KEY
    assert (
        "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in compose["services"]["prometheus"]["volumes"]
    )


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) not installed")
def test_promtool_accepts_both_prometheus_configs(tmp_path: Path) -> None:
    local = tmp_path / "local.yml"
    local.write_text(
        local_prometheus.render_config(
            local_prometheus.TEMPLATE.read_text(), api_target="127.0.0.1:8001", read_key="k", listen="127.0.0.1:9090"
        )
    )
    for path in (ROOT / "prometheus" / "prometheus.yml", local):
        done = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stdout + done.stderr
