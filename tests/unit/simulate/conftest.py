"""Factories for the simulator's unit tests: configs and generated runs (pure, no server)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clickstream.simulate.generator import SimConfig, generate

START = datetime(2026, 11, 22, tzinfo=UTC)  # midnight UTC: a one-day span covers every hour once


@pytest.fixture
def make_config() -> Callable[..., SimConfig]:
    def make(**overrides: Any) -> SimConfig:
        fields: dict[str, Any] = {"start": START, "users": 500, "events": 2000, "seed": 42}
        fields.update(overrides)
        return SimConfig(**fields)

    return make


@pytest.fixture(scope="session")
def day_run() -> list[dict[str, Any]]:
    """20 000 events over one day with every knob on (late, duplicates, errors)."""
    config = SimConfig(
        start=START,
        users=2000,
        events=20_000,
        seed=7,
        span=timedelta(days=1),
        error_rate=0.04,
        late_fraction=0.05,
        duplicate_fraction=0.03,
    )
    return list(generate(config))
