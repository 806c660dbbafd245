"""Test tiers by folder: tests/unit (pure), tests/integration (embedded servers), tests/e2e.

Under pytest-xdist (`make test`) a test file runs on one worker, and files are handed out in
collection order; the order below starts the long files first, so that the short ones fill
the gaps at the end instead of a long one starting last (see docs/BENCHMARKS.md, "Test suite
wall time").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["support.servers"]  # the embedded servers' fixtures (tests/support/servers.py)

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = Path(__file__).resolve().parent / "events"

# Property tests: 300 examples each in `make test`; `make test-fast` (the edit loop) passes
# --hypothesis-profile=fast for 100. A test's own @settings may set health checks, never the
# count, so that the profile decides it. No deadline: speed is measured in benchmarks/, not
# asserted per example on a shared machine (a cold first call once took 326 ms of 200).
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.register_profile("fast", max_examples=100, deadline=None)
settings.load_profile("thorough")

# Which tiers start first when no test in a file is marked slow: the servers' tiers are the
# long ones; the unit tier's many short files go last.
TIER_ORDER = {"integration": 1, "e2e": 1, "infra": 2, "unit": 3}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tier_of: dict[Path, str] = {}
    slow_files: set[Path] = set()
    for item in items:
        path = Path(str(item.fspath))
        tier = tier_of.setdefault(path, path.relative_to(ROOT / "tests").parts[0])
        if tier in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, tier))
        if item.get_closest_marker("slow") is not None:
            slow_files.add(path)

    def rank(item: pytest.Item) -> tuple[bool, int]:
        path = Path(str(item.fspath))
        return path not in slow_files, TIER_ORDER.get(tier_of[path], 2)

    items.sort(key=rank)  # stable: a file's tests keep their order and stay together
