"""End-to-end fixtures: the integration tier's servers (one AWS-compatible server and one Kafka
broker per session, a freshly reset and provisioned server per test), reused, not copied.

tests/ has no packages (no `__init__.py`), so the integration conftest is loaded by path under
a name of its own and its fixtures re-exported here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parent.parent / "integration" / "conftest.py"
_spec = importlib.util.spec_from_file_location("clickstream_integration_fixtures", _path)
assert _spec is not None and _spec.loader is not None
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)

aws_endpoint = _integration.aws_endpoint
kafka_bootstrap = _integration.kafka_bootstrap
settings = _integration.settings
_no_proxy = _integration._no_proxy
