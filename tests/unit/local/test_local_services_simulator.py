"""The opt-in simulator service: `resolve` without names skips non-default services, naming one
(or `--simulate`) brings it with its dependencies, and its rate lands in the command."""

from __future__ import annotations

import pytest

from clickstream.errors import ConfigError
from clickstream.local.services import (
    DEFAULT_SIMULATE_RATE,
    SERVICES,
    default_names,
    resolve,
    with_simulate_rate,
)
from clickstream.local.spec import Health, ServiceSpec
from clickstream.settings import Settings


def _spec(name: str, *deps: str, default: bool = True) -> ServiceSpec:
    return ServiceSpec(
        name, name, command=lambda s, py: [py], health=lambda s, r, n: Health(True), depends_on=deps, default=default
    )


def _names(specs: list[ServiceSpec]) -> list[str]:
    return [s.name for s in specs]


def test_up_without_names_never_starts_the_simulator() -> None:
    # GIVEN the declared services WHEN none are named THEN the simulator is not among them
    assert "simulator" in [s.name for s in SERVICES]
    assert "simulator" not in _names(resolve(SERVICES))
    assert "simulator" not in default_names(SERVICES)
    assert {"aws", "kafka", "collector", "archiver", "consumer", "api"} <= set(_names(resolve(SERVICES)))


def test_naming_the_simulator_brings_the_collector_and_its_infrastructure() -> None:
    assert _names(resolve(SERVICES, ["simulator"])) == ["aws", "kafka", "collector", "simulator"]


def test_non_default_services_start_only_when_named_or_needed() -> None:
    # GIVEN an opt-in extra and an opt-in dependency of a default service
    specs = [_spec("db", default=False), _spec("web", "db"), _spec("load", "web", default=False)]
    # THEN the default selection pulls in the needed dependency but not the extra
    assert _names(resolve(specs)) == ["db", "web"]
    assert default_names(specs) == ("web",)
    # AND naming the extra adds it after what it depends on
    assert _names(resolve(specs, [*default_names(specs), "load"])) == ["db", "web", "load"]


def test_the_simulator_sends_forever_at_its_rate_to_the_collector() -> None:
    settings = Settings(collector_port=18123)
    [default] = [s for s in SERVICES if s.name == "simulator"]
    argv = default.command(settings, "py")
    assert argv[:4] == ["py", "-m", "clickstream", "simulate"]
    assert "--forever" in argv
    assert argv[argv.index("--rate") + 1] == f"{DEFAULT_SIMULATE_RATE:g}"
    assert argv[argv.index("--url") + 1] == "http://127.0.0.1:18123"


def test_with_simulate_rate_changes_only_the_simulator_command() -> None:
    settings = Settings()
    changed = with_simulate_rate(SERVICES, 55.5)
    for before, after in zip(SERVICES, changed, strict=True):
        argv = after.command(settings, "py")
        if after.name == "simulator":
            assert argv[argv.index("--rate") + 1] == "55.5"
        else:
            assert after is before


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_with_simulate_rate_rejects_rates_that_send_nothing(rate: float) -> None:
    with pytest.raises(ConfigError, match="events per second"):
        with_simulate_rate(SERVICES, rate)
