"""The Powertools settings the CDK gives each Lambda are the names its handler uses (clickstream.constants):
the service its logs and metrics carry, and the metrics namespace."""

from __future__ import annotations

import pytest
from clickstream_infra.components.collector_api import COLLECTOR_HANDLER
from clickstream_infra.components.query_api import API_HANDLER
from clickstream_infra.components.speed import STREAM_PROCESSOR_HANDLER
from support.cdk import Synth

from clickstream import constants as c

pytestmark = pytest.mark.slow

SERVICES = {
    COLLECTOR_HANDLER: c.SERVICE_COLLECTOR,
    STREAM_PROCESSOR_HANDLER: c.SERVICE_STREAM_PROCESSOR,
    API_HANDLER: c.SERVICE_API,
}


def test_each_function_names_the_service_and_namespace_of_its_handler(default_synth: Synth) -> None:
    functions = [f["Properties"] for f in default_synth.resources("AWS::Lambda::Function")]
    ours = {f["Handler"]: f["Environment"]["Variables"] for f in functions if f.get("Handler") in SERVICES}
    assert set(ours) == set(SERVICES)
    for handler, env in ours.items():
        assert env["POWERTOOLS_SERVICE_NAME"] == SERVICES[handler], handler
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == c.METRICS_NAMESPACE, handler


def test_each_function_logs_json_at_the_level_powertools_logs_at(default_synth: Synth) -> None:
    functions = [f["Properties"] for f in default_synth.resources("AWS::Lambda::Function")]
    ours = [f for f in functions if f.get("Handler") in SERVICES]
    assert len(ours) == len(SERVICES)
    for f in ours:
        level = f["Environment"]["Variables"]["LOG_LEVEL"]  # Powertools' level
        assert f["LoggingConfig"]["LogFormat"] == "JSON", f["Handler"]
        assert f["LoggingConfig"]["ApplicationLogLevel"] == level, f["Handler"]
        assert f["LoggingConfig"]["SystemLogLevel"] == "INFO", f["Handler"]
