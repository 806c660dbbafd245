"""Parity: the synthesised data resources are exactly what the embedded stack provisions.

The embedded stack deploys `cloudformation_template(platform_resources(Settings.from_env()))`;
for the same stage (and bucket/shard overrides) the CDK app must create the same stream, tables
(keys, TTL), bucket, Glue database and dead-letter queue, with the same names.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.cdk import Synth

from clickstream import constants as c
from clickstream.resources import cloudformation_template, platform_resources
from clickstream.settings import Settings

pytestmark = pytest.mark.slow


def _embedded(synth: Synth, tmp_path: Any) -> dict[str, list[dict[str, Any]]]:
    ctx = synth.context
    env = {c.ENV_STAGE: ctx["stage"], c.ENV_HOME: str(tmp_path)}
    if "bucket" in ctx:
        env[c.ENV_BUCKET] = ctx["bucket"]
    if "shards" in ctx:
        env[c.ENV_SHARDS] = ctx["shards"]
    template = cloudformation_template(platform_resources(Settings.from_env(env)))
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in template["Resources"].values():
        by_type.setdefault(resource["Type"], []).append(resource["Properties"])
    return by_type


def test_stream(any_synth: Synth, tmp_path: Any) -> None:
    (local,) = _embedded(any_synth, tmp_path)["AWS::Kinesis::Stream"]
    (cloud,) = [r["Properties"] for r in any_synth.resources("AWS::Kinesis::Stream")]
    assert cloud["Name"] == local["Name"]
    assert cloud["RetentionPeriodHours"] == local["RetentionPeriodHours"]
    if cloud["StreamModeDetails"]["StreamMode"] == "PROVISIONED":
        assert cloud["ShardCount"] == local["ShardCount"]


def test_tables_keys_and_ttl(any_synth: Synth, tmp_path: Any) -> None:
    keys = ("TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "TimeToLiveSpecification")

    def shape(props: dict[str, Any]) -> dict[str, Any]:
        return {k: props.get(k) for k in keys}

    local = sorted((shape(p) for p in _embedded(any_synth, tmp_path)["AWS::DynamoDB::Table"]), key=str)
    cloud = sorted((shape(r["Properties"]) for r in any_synth.resources("AWS::DynamoDB::Table")), key=str)
    assert cloud == local


def test_bucket_glue_database_and_dead_letter_queue(any_synth: Synth, tmp_path: Any) -> None:
    local = _embedded(any_synth, tmp_path)
    names = [r["Properties"]["BucketName"] for r in any_synth.resources("AWS::S3::Bucket")]
    (lake,) = [b["BucketName"] for b in local["AWS::S3::Bucket"]]
    # Besides the lake: its access-log bucket, and with MWAA the `airflow-<prefix>-<account>` DAGs bucket.
    assert {n for n in names if isinstance(n, str)} == {lake, f"{lake}-logs"}
    dags = [n["Fn::Join"][1][0] for n in names if not isinstance(n, str)]
    assert dags == (["airflow-clickstream-qa-"] if any_synth.platform.cfg.mwaa else [])
    databases = [r["Properties"]["DatabaseInput"]["Name"] for r in any_synth.resources("AWS::Glue::Database")]
    assert databases == [d["DatabaseInput"]["Name"] for d in local["AWS::Glue::Database"]]
    queues = [
        (r["Properties"]["QueueName"], r["Properties"]["MessageRetentionPeriod"])
        for r in any_synth.resources("AWS::SQS::Queue")
    ]
    assert queues == [(q["QueueName"], q["MessageRetentionPeriod"]) for q in local["AWS::SQS::Queue"]]


def test_overrides_reach_the_names(flagged_synth: Synth) -> None:
    names = {r["Properties"]["TableName"] for r in flagged_synth.resources("AWS::DynamoDB::Table")}
    assert names == {"clickstream-qa-realtime", "clickstream-qa-batch", "clickstream-qa-checkpoints"}
    buckets = [r["Properties"]["BucketName"] for r in flagged_synth.resources("AWS::S3::Bucket")]
    assert "acme-clickstream-qa-lake" in buckets
