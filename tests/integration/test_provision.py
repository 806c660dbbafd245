"""Provisioning creates every resource of `clickstream.resources`, and a rerun changes nothing."""

from __future__ import annotations

from clickstream.adapters import _clients
from clickstream.local.provision import provision
from clickstream.resources import platform_resources
from clickstream.settings import Settings


def test_every_resource_exists_with_its_keys(settings: Settings) -> None:
    res = platform_resources(settings)
    kinesis = _clients.client("kinesis", settings)
    summary = kinesis.describe_stream_summary(StreamName=res.stream.name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == res.stream.shard_count
    ddb = _clients.client("dynamodb", settings)
    for table in res.tables:
        desc = ddb.describe_table(TableName=table.name)["Table"]
        assert [k["AttributeName"] for k in desc["KeySchema"]] == [table.partition_key, table.sort_key]
        if table.ttl_attribute:
            ttl = ddb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
            assert ttl["AttributeName"] == table.ttl_attribute
    assert res.bucket.name in {b["Name"] for b in _clients.client("s3", settings).list_buckets()["Buckets"]}
    assert _clients.client("glue", settings).get_database(Name=res.glue_database)["Database"]["Name"]
    for queue in res.queues:
        assert _clients.client("sqs", settings).get_queue_url(QueueName=queue.name)["QueueUrl"]


def test_second_provision_is_a_no_op(settings: Settings) -> None:
    report = provision(settings)
    assert report.stack_action == "unchanged"
    assert report.glue_database_created is False
