"""Serving stack: the query API Lambda behind its own HTTP API, a read key apart from the write key,
and read-only data access (Athena results are the one write)."""

from __future__ import annotations

from typing import Any

import pytest
from clickstream_infra.components.query_api import API_HANDLER
from support.cdk import Synth

from clickstream import constants as c

pytestmark = pytest.mark.slow


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_api_lambda_reads_the_read_key_and_queries_athena(default_synth: Synth) -> None:
    template = default_synth.template("serving")
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"FunctionName": "clickstream-dev-api", "Handler": API_HANDLER, "Architectures": ["arm64"]},
    )
    (fn,) = template.find_resources("AWS::Lambda::Function").values()
    env = fn["Properties"]["Environment"]["Variables"]
    assert env[c.ENV_QUERY_ENGINE] == "athena"
    assert c.ENV_WRITE_KEY not in env  # the API can never accept events
    read_key = env[c.ENV_READ_KEY]["Fn::Join"][1]
    assert read_key[0] == "{{resolve:secretsmanager:" and read_key[-1] == ":SecretString:::}}"
    secrets = template.find_resources("AWS::SecretsManager::Secret")
    assert [s["Properties"]["Name"] for s in secrets.values()] == ["clickstream-dev/read-key"]


def test_api_is_throttled_and_routes_everything_to_the_handler(default_synth: Synth) -> None:
    template = default_synth.template("serving")
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {"StageName": "$default", "DefaultRouteSettings": {"ThrottlingRateLimit": 1000}},
    )
    routes = {r["Properties"]["RouteKey"] for r in template.find_resources("AWS::ApiGatewayV2::Route").values()}
    assert routes == {"ANY /{proxy+}", "GET /"}


def test_data_access_is_read_only_except_athena_results_and_exports(default_synth: Synth) -> None:
    statements = _statements(default_synth.templates["serving"])
    writes = [
        s
        for s in statements
        if any(
            a.startswith(("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete", "dynamodb:BatchWrite"))
            for a in _actions(s)
        )
    ]
    assert writes == []
    s3_puts = [s for s in statements if "s3:PutObject" in _actions(s)]
    assert len(s3_puts) == 1
    written = str(s3_puts[0]["Resource"])
    assert f"{c.ATHENA_RESULTS_PREFIX}/*" in written and f"{c.EXPORTS_PREFIX}/*" in written
    assert f"{c.CURATED_EVENTS_PREFIX}" not in written and f"{c.RAW_EVENTS_PREFIX}" not in written
    tables = [s for s in statements if "dynamodb:Query" in _actions(s)]
    assert "clickstream-dev-realtime" in str(tables) and "clickstream-dev-batch" in str(tables)
    assert "clickstream-dev-checkpoints" not in str(statements)
