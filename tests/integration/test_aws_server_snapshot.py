"""The embedded AWS server's state snapshot (`clickstream.emulated.aws_server.StateSnapshot`): what
the test suite restores between tests instead of wiping and provisioning again. It runs as the
embedded stack runs it, `python -m clickstream.emulated.aws_server`, in a process of its own (moto's
state is global to a process, and this worker's server holds the suite's own snapshot)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from support.aws_server import aws_server_process


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with aws_server_process() as url:
        yield url


def _post(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def _items(ddb: Any) -> list[str]:
    return sorted(i["pk"]["S"] for i in ddb.scan(TableName="t")["Items"])


def test_restore_brings_back_exactly_the_saved_state_every_time(endpoint: str) -> None:
    ddb, kinesis, s3, sqs = (_client(s, endpoint) for s in ("dynamodb", "kinesis", "s3", "sqs"))
    assert _post(f"{endpoint}/clickstream-api/restore") == (
        409,
        "no state saved: POST /clickstream-api/snapshot first\n",
    )

    # GIVEN a table with one item and a stream with one record, saved
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="t", Item={"pk": {"S": "saved"}})
    kinesis.create_stream(StreamName="s", ShardCount=1)
    kinesis.put_record(StreamName="s", Data=b"saved", PartitionKey="k")
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    status, text = _post(f"{endpoint}/clickstream-api/snapshot")
    assert status == 200 and "dynamodb" in text and "kinesis" in text

    for round_ in range(2):
        # WHEN the state changes in every service, including one first used after the snapshot
        ddb.put_item(TableName="t", Item={"pk": {"S": f"later-{round_}"}})
        ddb.update_item(
            TableName="t",
            Key={"pk": {"S": "saved"}},
            UpdateExpression="SET changed = :y",
            ExpressionAttributeValues={":y": {"S": "yes"}},
        )
        kinesis.put_record(StreamName="s", Data=b"later", PartitionKey="k")
        ddb.create_table(
            TableName=f"u{round_}",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s3.create_bucket(Bucket=f"bucket-{round_}")
        sqs.send_message(QueueUrl=queue, MessageBody="later")
        # THEN a restore brings back exactly what was saved, and leaves the snapshot as it was
        assert _post(f"{endpoint}/clickstream-api/restore") == (200, "state restored\n")
        assert ddb.list_tables()["TableNames"] == ["t"]
        assert _items(ddb) == ["saved"]
        assert "changed" not in ddb.get_item(TableName="t", Key={"pk": {"S": "saved"}})["Item"]
        assert s3.list_buckets()["Buckets"] == []
        shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        assert [r["Data"] for r in records] == [b"saved"]
        assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)
        sqs.send_message(QueueUrl=queue, MessageBody="restored")  # a queue's condition is usable
        (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)["Messages"]
        assert message["Body"] == "restored"


def test_s3_objects_are_refused_and_the_saved_state_kept(endpoint: str) -> None:
    """moto keeps an object's body in a temporary file that its reset closes, copies included: a
    restored object answered 500. So a state holding objects is not saved, and says why."""
    s3 = _client("s3", endpoint)
    s3.create_bucket(Bucket="kept-bucket")
    assert _post(f"{endpoint}/clickstream-api/snapshot")[0] == 200  # buckets are fine
    s3.put_object(Bucket="kept-bucket", Key="k", Body=b"body")

    status, text = _post(f"{endpoint}/clickstream-api/snapshot")

    assert (status, text) == (409, "state not saved: S3 objects cannot be (s3://kept-bucket/k)\n")
    assert _post(f"{endpoint}/clickstream-api/restore")[0] == 200  # the earlier snapshot
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["kept-bucket"]
    assert s3.list_objects_v2(Bucket="kept-bucket").get("KeyCount") == 0
    s3.put_object(Bucket="kept-bucket", Key="after", Body=b"works")  # the restored bucket takes objects
    assert s3.get_object(Bucket="kept-bucket", Key="after")["Body"].read() == b"works"
