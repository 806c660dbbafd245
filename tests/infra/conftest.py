"""CDK app fixtures: each variant is synthesised ONCE per session, with cdk-nag's checks on
(see tests/support/cdk.py for the variants)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.cdk import DEFAULT_CONTEXT, FLAGGED_CONTEXT, FLAGGED_ENVIRON, Synth, synthesise


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesise(DEFAULT_CONTEXT, tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def flagged_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesise(FLAGGED_CONTEXT, tmp_path_factory.mktemp("cdk-flagged"), FLAGGED_ENVIRON)


@pytest.fixture(params=["default", "flagged"], scope="session")
def any_synth(request: pytest.FixtureRequest) -> Iterator[Synth]:
    yield request.getfixturevalue(f"{request.param}_synth")
