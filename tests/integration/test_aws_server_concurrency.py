"""The embedded AWS server loses no write under concurrent clients.

The server runs as the stack runs it (`python -m clickstream.emulated.aws_server`, its own process),
and 8 clients write at once through boto3. moto 5.2.5 alone fails each of these: concurrent
PutRecords share sequence numbers and overwrite each other, and concurrent `ADD`s lose
increments (docs/adr/0001-serialised-aws-server.md; `python -m benchmarks.overload --races`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support.aws_server import aws_server_process

pytestmark = pytest.mark.slow  # a server subprocess under concurrent writers

CLIENTS = 8


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with aws_server_process() as url:
        yield url


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(max_pool_connections=CLIENTS * 2, retries={"max_attempts": 1}),
    )


def concurrently(work: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(work, range(CLIENTS)))


def test_concurrent_put_records_are_each_stored_once(endpoint: str) -> None:
    # GIVEN one shard and 8 writers of 25 PutRecords of 100 records each
    kinesis, stream = client(endpoint, "kinesis"), f"s-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    calls, per_call = 25, 100

    def write(writer: int) -> list[tuple[str, str]]:
        acked = []
        for call in range(calls):
            records = [{"Data": f"{writer}-{call}-{i}".encode(), "PartitionKey": "k"} for i in range(per_call)]
            got = kinesis.put_records(StreamName=stream, Records=records)
            assert got["FailedRecordCount"] == 0
            acked += [(r["Data"].decode(), a["SequenceNumber"]) for r, a in zip(records, got["Records"], strict=True)]
        return acked

    # WHEN they write at once
    acked = [pair for batch in concurrently(write) for pair in batch]

    # THEN every acknowledged record has its own sequence number and is read back exactly once
    assert len(acked) == CLIENTS * calls * per_call
    assert len({seq for _, seq in acked}) == len(acked)
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    read: list[tuple[str, str]] = []
    while True:
        page = kinesis.get_records(ShardIterator=it, Limit=10_000)
        read += [(r["Data"].decode(), r["SequenceNumber"]) for r in page["Records"]]
        if not page["Records"]:
            break
        it = page["NextShardIterator"]
    assert sorted(read) == sorted(acked)


@pytest.fixture
def table(endpoint: str) -> tuple[Any, str]:
    ddb, name = client(endpoint, "dynamodb"), f"t-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb, name


def test_concurrent_adds_give_the_exact_total(table: tuple[Any, str]) -> None:
    ddb, name = table
    rounds = 100

    def add(_: int) -> None:
        for _ in range(rounds):
            ddb.update_item(
                TableName=name,
                Key={"pk": {"S": "counter"}},
                UpdateExpression="ADD n :one, m :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    concurrently(add)
    item = ddb.get_item(TableName=name, Key={"pk": {"S": "counter"}}, ConsistentRead=True)["Item"]
    assert (int(item["n"]["N"]), int(item["m"]["N"])) == (CLIENTS * rounds, CLIENTS * rounds)


def test_conditional_updates_have_one_winner_per_condition(table: tuple[Any, str]) -> None:
    # GIVEN 8 writers that each try to claim the same 40 keys, and to bump a version from what
    # they last read (compare-and-set, as the speed layer's watermarks and leases do)
    ddb, name = table
    keys, bumps = 40, 30

    def claim(writer: int) -> tuple[list[int], int]:
        won, bumped = [], 0
        for k in range(keys):
            try:
                ddb.put_item(
                    TableName=name,
                    Item={"pk": {"S": f"lease-{k}"}, "owner": {"N": str(writer)}},
                    ConditionExpression="attribute_not_exists(pk)",
                )
                won.append(k)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
        for _ in range(bumps):
            seen = ddb.get_item(TableName=name, Key={"pk": {"S": "version"}}, ConsistentRead=True).get("Item")
            v = int(seen["v"]["N"]) if seen else 0
            try:
                ddb.put_item(
                    TableName=name,
                    Item={"pk": {"S": "version"}, "v": {"N": str(v + 1)}},
                    ConditionExpression="attribute_not_exists(v) OR v = :v",
                    ExpressionAttributeValues={":v": {"N": str(v)}},
                )
                bumped += 1
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
        return won, bumped

    # WHEN they race
    results = concurrently(claim)

    # THEN each key has exactly one winner, the one stored; every successful bump counts once
    winners = [(k, writer) for writer, (won, _) in enumerate(results) for k in won]
    assert sorted(k for k, _ in winners) == list(range(keys))
    for k, writer in winners:
        item = ddb.get_item(TableName=name, Key={"pk": {"S": f"lease-{k}"}}, ConsistentRead=True)["Item"]
        assert int(item["owner"]["N"]) == writer
    version = ddb.get_item(TableName=name, Key={"pk": {"S": "version"}}, ConsistentRead=True)["Item"]
    assert int(version["v"]["N"]) == sum(bumped for _, bumped in results) > 0
