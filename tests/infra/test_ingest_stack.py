"""Ingest stack: the Kinesis stream, the collector Lambda and its HTTP API, optional MSK Serverless."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match
from clickstream_infra.components.collector_api import COLLECTOR_HANDLER
from support.cdk import Synth

from clickstream import constants as c
from clickstream.collector.service import HEALTH_ROUTE, INGEST_ROUTES, PROTOCOL_ROUTES

pytestmark = pytest.mark.slow


def test_stream_is_on_demand_and_encrypted_by_default(default_synth: Synth) -> None:
    default_synth.template("ingest").has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "Name": "clickstream-dev-events",
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "RetentionPeriodHours": 24,
            "ShardCount": Match.absent(),
        },
    )


def test_shards_context_provisions_the_stream(flagged_synth: Synth) -> None:
    flagged_synth.template("ingest").has_resource_properties(
        "AWS::Kinesis::Stream", {"StreamModeDetails": {"StreamMode": "PROVISIONED"}, "ShardCount": 4}
    )


def test_collector_lambda_environment_uses_the_shared_names(default_synth: Synth) -> None:
    template = default_synth.template("ingest")
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": "clickstream-dev-collector",
            "Handler": COLLECTOR_HANDLER,
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "TracingConfig": {"Mode": "Active"},
        },
    )
    (fn,) = template.find_resources("AWS::Lambda::Function").values()
    env = fn["Properties"]["Environment"]["Variables"]
    assert env[c.ENV_STAGE] == "dev"
    assert env[c.ENV_TRANSPORT] == "kinesis"
    assert env[c.ENV_STREAM] == "clickstream-dev-events"
    assert env[c.ENV_BUCKET] == "clickstream-dev-lake"
    assert c.ENV_ENDPOINT not in env  # AWS: the SDK's own endpoints
    assert env["POWERTOOLS_SERVICE_NAME"] == "collector"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "clickstream"
    assert env["LOG_LEVEL"] == "INFO"
    # The write key is a dynamic reference to the generated secret, never a literal.
    write_key = env[c.ENV_WRITE_KEY]["Fn::Join"][1]
    assert write_key[0] == "{{resolve:secretsmanager:" and write_key[-1] == ":SecretString:::}}"
    (secret_id,) = template.find_resources(
        "AWS::SecretsManager::Secret", {"Properties": {"Name": "clickstream-dev/write-key"}}
    )
    assert write_key[1] == {"Ref": secret_id}


def test_collector_may_put_records_and_bad_rows_only(default_synth: Synth) -> None:
    template = default_synth.template("ingest")
    statements = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"kinesis:PutRecords", "s3:PutObject"} <= actions
    assert not {a for a in actions if a.startswith(("dynamodb:", "s3:Get", "s3:Delete", "kinesis:Get"))}
    (put,) = [s for s in statements if s["Action"] == "s3:PutObject"]
    keys = sorted(r["Fn::Join"][1][-1] for r in put["Resource"])
    assert keys == [":s3:::clickstream-dev-lake/raw/bad/*", ":s3:::clickstream-dev-lake/raw/identities/*"]


def test_api_routes_are_the_collector_routes(default_synth: Synth) -> None:
    template = default_synth.templates["ingest"]
    routes = {
        r["Properties"]["RouteKey"] for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    expected = {f"GET {HEALTH_ROUTE}"} | {f"POST {p}" for p in INGEST_ROUTES}
    expected |= {f"{m} {p}" for p, route in PROTOCOL_ROUTES.items() for m in route.methods}
    assert routes == expected
    assert "POST /v1/events" in routes
    # lambdas/collector/handler.py reads the payload v2 shape (rawPath, requestContext.http).
    default_synth.template("ingest").has_resource_properties(
        "AWS::ApiGatewayV2::Integration", {"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0"}
    )


def test_api_stage_throttles_and_logs_without_ips(default_synth: Synth) -> None:
    template = default_synth.template("ingest")
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {"ThrottlingRateLimit": 1000, "ThrottlingBurstLimit": 2000},
            "AccessLogSettings": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("requestId")},
        },
    )
    (stage,) = template.find_resources("AWS::ApiGatewayV2::Stage").values()
    assert "sourceIp" not in stage["Properties"]["AccessLogSettings"]["Format"]


def test_msk_serverless_behind_the_flag(default_synth: Synth, flagged_synth: Synth) -> None:
    assert default_synth.resources("AWS::MSK::ServerlessCluster") == []
    flagged_synth.template("ingest").has_resource_properties(
        "AWS::MSK::ServerlessCluster",
        {"ClusterName": "clickstream-qa", "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}},
    )
    flagged_synth.template("ingest").has_resource_properties(
        "AWS::EC2::SecurityGroupIngress", {"FromPort": 9098, "ToPort": 9098, "CidrIp": Match.absent()}
    )
