"""docker-compose.localstack.yml cannot run here (no Docker engine), so check what can be checked:
every app command is a real CLI command, every env var it sets is one the code reads, ports
match the defaults, and every path it builds from exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from clickstream import constants as c
from clickstream.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.localstack.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if svc.get("build")}


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
    known = {getattr(c, n) for n in dir(c) if n.startswith("ENV_")} | {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    for name, svc in _app_services(compose).items():
        unknown = set(svc["environment"]) - known
        assert not unknown, f"service {name} sets variables no code reads: {sorted(unknown)}"


def test_ports_match_the_defaults(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert f"127.0.0.1:{c.LOCAL_AWS_PORT}:4566" in services["localstack"]["ports"]
    assert f"127.0.0.1:{c.DEFAULT_COLLECTOR_PORT}:8000" in services["collector"]["ports"]


def test_localstack_auth_token_is_required_with_a_message(compose: dict[str, Any]) -> None:
    token = compose["services"]["localstack"]["environment"]["LOCALSTACK_AUTH_TOKEN"]
    assert re.match(r"\$\{LOCALSTACK_AUTH_TOKEN:\?.+\}", token)
    assert "LOCALSTACK_AUTH_TOKEN=" in (ROOT / ".env.example").read_text()


def test_dockerfile_copies_paths_that_exist() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), f"Dockerfile copies {src}, which does not exist"
