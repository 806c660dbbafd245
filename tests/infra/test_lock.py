"""One lock of exact versions for every environment: `requirements.lock` (scripts/lock.sh).

The dev venv installs under it, and every pin of the platform and of the Lambda bundles names the
version it holds, so a clone next month installs the versions CI tested."""

from __future__ import annotations

from importlib import metadata

import pytest
from clickstream_infra.bundling import API_REQUIREMENTS, INGEST_REQUIREMENTS
from support.cdk import ROOT
from test_api_bundle import _norm, _pins

LOCK = ROOT / "requirements.lock"


def _lock() -> dict[str, str]:
    return _pins(LOCK)


@pytest.mark.parametrize(
    "requirements", ["requirements.txt", "requirements-dev.txt", INGEST_REQUIREMENTS, API_REQUIREMENTS]
)
def test_every_pin_is_the_locked_version(requirements: str) -> None:
    lock, pins = _lock(), _pins(ROOT / requirements)
    assert not set(pins) - set(lock), f"{requirements} pins what the lock lacks: run `make lock`"
    assert {n: lock[n] for n in pins} == pins, f"{requirements} and requirements.lock disagree: run `make lock`"


def test_the_venv_is_the_lock() -> None:
    """What the tests run on is what the lock says (make install passes it to pip as a constraint)."""
    installed = {_norm(d.metadata["Name"]): d.version for d in metadata.distributions()}
    lock = _lock()
    differ = {n: (v, installed.get(n)) for n, v in lock.items() if installed.get(n) != v}
    assert not differ, f"locked vs installed: {differ}; run `make install` (or `make lock` after changing a pin)"


def test_the_make_install_uses_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "-r requirements-dev.txt -c requirements.lock" in makefile
    assert "requirements.lock" in makefile.split("$(STAMP):", 1)[1].splitlines()[0]
