"""The pure parts of the service list: ordering by depends_on, address parsing, child settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from clickstream import constants as c
from clickstream.errors import ConfigError
from clickstream.local.services import (
    SERVICES,
    endpoint_address,
    is_loopback,
    parse_services,
    port_in_use_message,
    process_env,
    resolve,
    settings_env,
    waves,
)
from clickstream.local.spec import Health, ServiceSpec
from clickstream.settings import Settings


def _spec(name: str, *deps: str) -> ServiceSpec:
    return ServiceSpec(name, name, command=lambda s, py: [py], health=lambda s, r, n: Health(True), depends_on=deps)


def _names(specs: list[ServiceSpec]) -> list[str]:
    return [s.name for s in specs]


def test_default_services_start_infra_first() -> None:
    core = [s for s in SERVICES if s.name in ("aws", "kafka", "collector", "archiver", "consumer")]
    assert _names(resolve(core)) == ["aws", "kafka", "collector", "archiver", "consumer"]
    assert [_names(w) for w in waves(resolve(core))] == [["aws", "kafka"], ["collector", "archiver", "consumer"]]
    later = {s.name: s.depends_on for s in SERVICES if s not in core}
    assert {"api", "airflow"} <= set(later)  # prometheus only when Debian's binary is installed
    assert all({"aws", "api", "collector"} & set(deps) for deps in later.values())  # each after the infra


def test_selecting_a_service_brings_its_dependencies() -> None:
    assert _names(resolve(SERVICES, ["collector"])) == ["aws", "kafka", "collector"]
    assert _names(resolve(SERVICES, ["aws", "kafka"])) == ["aws", "kafka"]


def test_order_follows_dependencies_not_declaration() -> None:
    # GIVEN a service declared before the one it depends on
    specs = [_spec("api", "db"), _spec("web", "api"), _spec("db")]
    # THEN dependencies come first, and each wave only needs earlier waves
    assert _names(resolve(specs)) == ["db", "api", "web"]
    assert [_names(w) for w in waves(resolve(specs))] == [["db"], ["api"], ["web"]]


def test_independent_services_share_a_wave_in_declaration_order() -> None:
    specs = [_spec("b"), _spec("a"), _spec("c", "a", "b")]
    assert [_names(w) for w in waves(resolve(specs))] == [["b", "a"], ["c"]]


@pytest.mark.parametrize(
    ("specs", "selected", "message"),
    [
        ([_spec("a")], ["nope"], "unknown service.*nope.*known: a"),
        ([_spec("a", "missing")], None, "unknown service 'missing'"),
        ([_spec("a", "b"), _spec("b", "a")], None, "dependency cycle among: a, b"),
    ],
)
def test_bad_service_graphs_are_config_errors(
    specs: list[ServiceSpec], selected: list[str] | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(specs, selected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aws,kafka", ("aws", "kafka")),
        (" aws , kafka ,", ("aws", "kafka")),
        ("kafka,aws,kafka", ("kafka", "aws")),
        ("", None),
        (None, None),
    ],
)
def test_parse_services(text: str | None, expected: tuple[str, ...] | None) -> None:
    assert parse_services(text) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:4566", ("127.0.0.1", 4566)),
        ("http://localhost:4566/", ("127.0.0.1", 4566)),
        ("http://127.0.0.1", ("127.0.0.1", 80)),
        ("https://s3.example.com", ("s3.example.com", 443)),
        ("http://[::1]:9000", ("::1", 9000)),
    ],
)
def test_endpoint_address(url: str, expected: tuple[str, int]) -> None:
    assert endpoint_address(url) == expected


@pytest.mark.parametrize("url", ["127.0.0.1:4566", "http://127.0.0.1:99999", "http://127.0.0.1:abc", "ftp://h:1"])
def test_bad_endpoints_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        endpoint_address(url)


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                                ("10.0.0.5", False), ("localstack", False)])  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_port_in_use_message_names_port_service_and_variable() -> None:
    aws, collector = SERVICES[0], SERVICES[2]
    assert port_in_use_message(aws, "127.0.0.1", 4566, "pid 7 (nc)") == (
        "port 4566 on 127.0.0.1 (service aws) is already in use by pid 7 (nc); "
        "stop it, or choose another port: export AWS_ENDPOINT_URL=http://127.0.0.1:4567"
    )
    assert port_in_use_message(collector, "127.0.0.1", 8000).endswith("export CLICKSTREAM_COLLECTOR_PORT=8001")


def test_settings_env_gives_each_service_what_it_needs() -> None:
    settings = Settings(home=Path("/tmp/x/.clickstream"), endpoint_url="http://127.0.0.1:5555", collector_port=8123)
    by_name = {s.name: s for s in SERVICES}
    aws = settings_env(settings, by_name["aws"], transport="kafka", kafka_bootstrap="127.0.0.1:9092")
    collector = settings_env(settings, by_name["collector"], transport="kafka", kafka_bootstrap="127.0.0.1:9092")
    # infra gets the endpoint, home and local credentials, but no app settings and no broker address
    assert aws[c.ENV_ENDPOINT] == "http://127.0.0.1:5555"
    assert aws[c.ENV_HOME] == "/tmp/x/.clickstream"
    assert (aws["AWS_ACCESS_KEY_ID"], aws["AWS_SECRET_ACCESS_KEY"]) == ("test", "test")
    assert aws["MOTO_PORT"] == "5555"
    assert c.ENV_TRANSPORT not in aws and c.ENV_KAFKA_BOOTSTRAP not in aws
    # app services get the transport, their port and the broker once known
    assert collector[c.ENV_TRANSPORT] == "kafka"
    assert collector[c.ENV_COLLECTOR_PORT] == "8123"
    assert collector[c.ENV_KAFKA_BOOTSTRAP] == "127.0.0.1:9092"
    unknown = settings_env(settings, by_name["collector"], transport="kinesis", kafka_bootstrap=None)
    assert c.ENV_KAFKA_BOOTSTRAP not in unknown


def test_settings_env_never_invents_credentials_outside_local() -> None:
    settings = replace(Settings(), stage="dev", endpoint_url=None)
    env = settings_env(settings, SERVICES[3], transport="kinesis", kafka_bootstrap=None)
    assert "AWS_ACCESS_KEY_ID" not in env and c.ENV_ENDPOINT not in env


def test_process_env_keeps_ours_and_never_proxies_loopback() -> None:
    env = process_env(
        {"PATH": "/bin", "NO_PROXY": "corp.example", "AWS_ENDPOINT_URL": "old"}, {"AWS_ENDPOINT_URL": "new"}
    )
    assert env["PATH"] == "/bin" and env["AWS_ENDPOINT_URL"] == "new"
    assert env["NO_PROXY"] == "corp.example,127.0.0.1,localhost"
    assert env["PYTHONUNBUFFERED"] == "1"
