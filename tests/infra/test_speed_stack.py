"""Speed stack: the event source mapping, its DLQ, the tables, the processor's permissions."""

from __future__ import annotations

import importlib

import pytest
from aws_cdk.assertions import Match
from clickstream_infra.components.speed import COUNTER_ACTIONS, STREAM_PROCESSOR_HANDLER
from support.cdk import Synth

from clickstream.deployment_defaults import SPEED
from clickstream.resources import platform_resources

pytestmark = pytest.mark.slow


def test_event_source_mapping_settings(default_synth: Synth) -> None:
    default_synth.template("speed").has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": Match.object_like(
                {"Fn::Join": ["", Match.array_with([":stream/clickstream-dev-events"])]}
            ),
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": SPEED.batch_size,
            "MaximumBatchingWindowInSeconds": SPEED.batching_window_s,
            "ParallelizationFactor": 1,  # the speed layer's per-shard watermarks need one batch per shard
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": SPEED.retry_attempts,
            "MaximumRecordAgeInSeconds": SPEED.max_record_age_s,
        },
    )


def test_failed_batches_go_to_the_platform_dead_letter_queue(default_synth: Synth) -> None:
    template = default_synth.template("speed")
    (dlq_spec,) = platform_resources(default_synth.platform.cfg.settings).queues
    queues = template.find_resources("AWS::SQS::Queue", {"Properties": {"QueueName": dlq_spec.name}})
    assert len(queues) == 1
    (queue_id,) = queues
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}}},
    )
    # The function may send to it, and the queue keeps messages as long as SQS allows.
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["sqs:SendMessage"]),
                                "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
                            }
                        )
                    ]
                )
            }
        },
    )
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"QueueName": dlq_spec.name, "MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": True},
    )


def test_tables_are_on_demand_with_pitr_ttl_and_encryption(default_synth: Synth) -> None:
    template = default_synth.template("speed")
    for spec in platform_resources(default_synth.platform.cfg.settings).tables:
        expected = {
            "TableName": spec.name,
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},  # AWS-managed key (no KMSMasterKeyId)
        }
        if spec.ttl_attribute:
            expected["TimeToLiveSpecification"] = {"AttributeName": spec.ttl_attribute, "Enabled": True}
        template.has_resource_properties("AWS::DynamoDB::Table", expected)
    ttl = [t for t in default_synth.resources("AWS::DynamoDB::Table") if "TimeToLiveSpecification" in t["Properties"]]
    assert [t["Properties"]["TableName"] for t in ttl] == ["clickstream-dev-realtime"]


def test_processor_runs_the_speed_layer_handler(default_synth: Synth) -> None:
    default_synth.template("speed").has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": "clickstream-dev-stream-processor",
            "Handler": STREAM_PROCESSOR_HANDLER,
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "TracingConfig": {"Mode": "Active"},
            "Environment": {"Variables": Match.object_like({"POWERTOOLS_SERVICE_NAME": "stream-processor"})},
        },
    )
    module, _, name = STREAM_PROCESSOR_HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name)), "the handler string must name a real function"


def test_processor_writes_only_the_realtime_table(default_synth: Synth) -> None:
    dynamo = [
        s
        for p in default_synth.template("speed").find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if any(str(a).startswith("dynamodb:") for a in _list(s["Action"]))
    ]
    assert len(dynamo) == 1
    assert sorted(_list(dynamo[0]["Action"])) == sorted(COUNTER_ACTIONS)
    assert "Scan" not in str(dynamo[0]["Action"]) and "Delete" not in str(dynamo[0]["Action"])
    joined = dynamo[0]["Resource"]["Fn::Join"][1]
    assert joined[-1] == ":table/clickstream-dev-realtime"


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]
