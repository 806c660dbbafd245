"""The embedded stack's moto fixes change how fast moto answers, never what it answers.

moto runs in process here (`mock_aws`): every Query is asked twice, once through the partition
lookup of `clickstream.emulated.aws_server` and once through moto's own `Table.query`, and the
pages must be identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from clickstream.emulated.aws_server import parse_args, patch_moto, query_partitions

TABLE = "t"


def create_table(client: Any) -> None:
    """The test table: partition and sort keys, and an index on `kind`."""
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_kind",
                "KeySchema": [
                    {"AttributeName": "kind", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        # Put in an order that is neither key order nor partition order.
        for i in range(40):
            for p in (5, 0, 3, 1, 4, 2):
                sk = f"{'m' if i % 2 else 'h'}#{(i * 7) % 40:02d}"
                client.put_item(
                    TableName=TABLE,
                    Item={"pk": {"S": f"p{p}"}, "sk": {"S": sk}, "kind": {"S": f"k{i % 3}"}, "n": {"N": str(i)}},
                )
        yield client


def pages(client: Any, **request: Any) -> list[tuple[list[Any], Any]]:
    out, start = [], None
    while True:
        got = client.query(TableName=TABLE, **request, **({"ExclusiveStartKey": start} if start else {}))
        out.append((got["Items"], got.get("LastEvaluatedKey")))
        start = got.get("LastEvaluatedKey")
        if not start:
            return out


def unpatched(client: Any, **request: Any) -> list[tuple[list[Any], Any]]:
    patched = Table.query
    Table.query = patched.__wrapped__  # type: ignore[attr-defined, method-assign]
    try:
        return pages(client, **request)
    finally:
        Table.query = patched  # type: ignore[method-assign]


def key(pk: str, condition: str = "", **values: Any) -> dict[str, Any]:
    names = {"#pk": "pk", **({"#sk": "sk"} if condition else {})}
    return {
        "KeyConditionExpression": "#pk = :pk" + (f" AND {condition}" if condition else ""),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":pk": {"S": pk}, **{f":{k}": {"S": v} for k, v in values.items()}},
    }


QUERIES = {
    "a whole partition": key("p3"),
    "a partition that does not exist": key("p9"),
    "a sort-key prefix": key("p3", "begins_with(#sk, :m)", m="m#"),
    "a sort-key range": key("p1", "#sk BETWEEN :a AND :b", a="h#10", b="m#05"),
    "pages of 7, newest first": {**key("p4"), "Limit": 7, "ScanIndexForward": False},
    "a filter and a projection": {
        **key("p0", "#sk > :a", a="h#20"),
        "FilterExpression": "#n > :ten",
        "ProjectionExpression": "#sk, #n",
        "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk", "#n": "n"},
        "ExpressionAttributeValues": {":pk": {"S": "p0"}, ":a": {"S": "h#20"}, ":ten": {"N": "10"}},
    },
    "an index (moto's own path)": {
        "IndexName": "by_kind",
        "KeyConditionExpression": "kind = :k",
        "ExpressionAttributeValues": {":k": {"S": "k1"}},
        "Limit": 11,
    },
}


@pytest.mark.parametrize("name", QUERIES)
def test_a_query_answers_as_moto_does(ddb: Any, name: str) -> None:
    assert patch_moto() == []
    request = QUERIES[name]
    expected = unpatched(ddb, **request)
    assert pages(ddb, **request) == expected
    assert sum(len(items) for items, _ in expected) > 0 or name == "a partition that does not exist"


def test_a_scan_still_sees_the_whole_table(ddb: Any) -> None:
    assert query_partitions()
    items = ddb.scan(TableName=TABLE)["Items"]
    assert len(items) == 6 * 40  # 40 distinct sort keys per partition


def test_patching_twice_wraps_once() -> None:
    patch_moto()
    first = Table.query
    assert patch_moto() == []
    assert Table.query is first
    assert not hasattr(first.__wrapped__, "__wrapped__")  # type: ignore[attr-defined]


def test_moto_options_pass_through() -> None:
    args, rest = parse_args(["-H", "127.0.0.1", "-p", "4566", "--access-log"])
    assert args.access_log
    assert rest == ["-H", "127.0.0.1", "-p", "4566"]


@pytest.fixture
def kinesis() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("kinesis", region_name="us-east-1")
        client.create_stream(StreamName="s", ShardCount=1)
        for start in range(0, 120, 40):
            client.put_records(
                StreamName="s",
                Records=[{"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"} for i in range(start, start + 40)],
            )
        yield client


def read_all(client: Any, shard: str, *, after: str | None, limit: int) -> list[tuple[list[str], int]]:
    """Every GetRecords page of `shard` after `after` (or from the oldest): data and MillisBehindLatest."""
    how = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after} if after else {
        "ShardIteratorType": "TRIM_HORIZON"}  # fmt: skip
    iterator = client.get_shard_iterator(StreamName="s", ShardId=shard, **how)["ShardIterator"]
    out = []
    for _ in range(200):
        got = client.get_records(ShardIterator=iterator, Limit=limit)
        out.append(([r["Data"].decode() for r in got["Records"]], got["MillisBehindLatest"]))
        if not got["Records"]:
            return out
        iterator = got["NextShardIterator"]
    raise AssertionError("never reached the end of the shard")


def walked(client: Any, shard: str, **kwargs: Any) -> list[tuple[list[str], int]]:
    from moto.kinesis.models import Shard

    patched = Shard.get_records
    Shard.get_records = patched.__wrapped__  # type: ignore[attr-defined, method-assign]
    try:
        return read_all(client, shard, **kwargs)
    finally:
        Shard.get_records = patched  # type: ignore[method-assign]


@pytest.mark.parametrize(("after", "limit"), [(None, 1000), (None, 7), ("37", 10), ("119", 5), ("500", 3)])
def test_get_records_answers_as_moto_does(kinesis: Any, after: str | None, limit: int) -> None:
    assert patch_moto() == []
    shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
    expected = walked(kinesis, shard, after=after, limit=limit)
    assert read_all(kinesis, shard, after=after, limit=limit) == expected
    assert sum(len(page) for page, _ in expected) == (
        120 - int(after) if after and int(after) < 120 else 0 if after else 120
    )


def test_put_records_numbers_records_as_moto_does() -> None:
    from moto.kinesis.models import Shard

    def sequence_numbers(*, patched: bool) -> list[str]:
        saved = Shard.get_max_sequence_number, Shard.get_min_sequence_number
        if not patched:
            Shard.get_max_sequence_number = saved[0].__wrapped__  # type: ignore[attr-defined, method-assign]
            Shard.get_min_sequence_number = saved[1].__wrapped__  # type: ignore[attr-defined, method-assign]
        try:
            with mock_aws():
                client = boto3.client("kinesis", region_name="us-east-1")
                client.create_stream(StreamName="s", ShardCount=2)
                out = []
                for start in range(0, 90, 30):
                    records = [{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(start, start + 30)]
                    out += [r["SequenceNumber"] for r in client.put_records(StreamName="s", Records=records)["Records"]]
                shard = client.list_shards(StreamName="s")["Shards"][0]["ShardId"]
                at = client.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
                out.append(str(len(client.get_records(ShardIterator=at["ShardIterator"])["Records"])))
                return out
        finally:
            Shard.get_max_sequence_number, Shard.get_min_sequence_number = saved  # type: ignore[method-assign]

    assert patch_moto() == []
    assert sequence_numbers(patched=True) == sequence_numbers(patched=False)


def test_get_records_after_a_split_answers_as_moto_does(kinesis: Any) -> None:
    assert patch_moto() == []
    parent = kinesis.list_shards(StreamName="s")["Shards"][0]
    middle = (int(parent["HashKeyRange"]["StartingHashKey"]) + int(parent["HashKeyRange"]["EndingHashKey"])) // 2
    kinesis.split_shard(StreamName="s", ShardToSplit=parent["ShardId"], NewStartingHashKey=str(middle))
    children = [s["ShardId"] for s in kinesis.list_shards(StreamName="s")["Shards"] if s.get("ParentShardId")]
    assert len(children) == 2
    for child in children:
        assert read_all(kinesis, child, after=None, limit=9) == walked(kinesis, child, after=None, limit=9)


# --- UpdateItem: the same items and the same errors with the UpdateExpression fix and without ---

N = {"N": "1"}
UPDATES: list[dict[str, Any]] = [
    # the speed layer's counter update, on a new item, then again (condition fails: ALL_OLD back)
    *2
    * [
        {
            "Key": {"pk": {"S": "all"}, "sk": {"S": "m#1"}},
            "UpdateExpression": "ADD #a0 :a0, #a1 :a1 SET #w = :last, #x = :ttl",
            "ConditionExpression": "attribute_not_exists(#w) OR #w < :first",
            "ExpressionAttributeNames": {"#a0": "events", "#a1": "errors", "#w": "wm#s1", "#x": "expires_at"},
            "ExpressionAttributeValues": {
                ":a0": {"N": "3"},
                ":a1": N,
                ":last": {"S": "09"},
                ":first": {"S": "05"},
                ":ttl": {"N": "123"},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    ],
    # the sketch merge: SET a blob and ADD a version, conditional on the version
    {
        "Key": {"pk": {"S": "top#url"}, "sk": {"S": "h#1"}},
        "UpdateExpression": "SET #s = :b, #w = :last ADD #v :one",
        "ConditionExpression": "attribute_not_exists(#v)",
        "ExpressionAttributeNames": {"#s": "sketch", "#v": "version", "#w": "wm#s1"},
        "ExpressionAttributeValues": {":b": {"B": b"\x00\x01"}, ":last": {"S": "09"}, ":one": N},
    },
    {
        "Key": {"pk": {"S": "all"}, "sk": {"S": "m#1"}},
        "UpdateExpression": "SET #n = if_not_exists(#n, :zero) + :one, #l = list_append(if_not_exists(#l, :e), :l), "
        "#m = :m REMOVE #a1",
        "ExpressionAttributeNames": {"#n": "n", "#l": "l", "#m": "m", "#a1": "errors"},
        "ExpressionAttributeValues": {
            ":zero": {"N": "0"},
            ":one": N,
            ":e": {"L": []},
            ":l": {"L": [{"S": "x"}]},
            ":m": {"M": {"a": {"N": "1"}, "b": {"SS": ["p", "q"]}}},
        },
        "ReturnValues": "ALL_NEW",
    },
    {
        "Key": {"pk": {"S": "all"}, "sk": {"S": "m#1"}},
        "UpdateExpression": "SET m.a = m.a + :one, l[0] = :y ADD m.c :one, tags :t DELETE m.b :p",
        "ExpressionAttributeValues": {":one": N, ":y": {"S": "y"}, ":t": {"SS": ["t1"]}, ":p": {"SS": ["p"]}},
        "ReturnValues": "UPDATED_OLD",
    },
    # errors: each must be moto's own, with moto's own message
    *(
        {
            "Key": {"pk": {"S": "all"}, "sk": {"S": sk}},
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        for sk, expression, values in [
            ("m#1", "SET a = :x, a = :x", {":x": N}),
            ("m#1", "ADD a :x ADD b :x", {":x": N}),
            ("m#1", "SET sk = :x", {":x": {"S": "z"}}),
            ("m#1", "ADD expires_at :x", {":x": {"S": "text"}}),
            ("m#1", "SET a = :missing", {":x": N}),
            ("m#2", "SET nope.a = :x", {":x": N}),
            ("m#1", "SET a = :x +", {":x": N}),
        ]
    ),
]


def apply_updates(client: Any) -> list[Any]:
    """Each update's answer (or its error code and message), then the whole table."""
    out: list[Any] = []
    for request in UPDATES:
        try:
            got = client.update_item(TableName=TABLE, **request)
            out.append(got.get("Attributes"))
        except client.exceptions.ClientError as exc:
            out.append((exc.response["Error"], exc.response.get("Item")))
    out.append(sorted(client.scan(TableName=TABLE)["Items"], key=lambda item: (item["pk"]["S"], item["sk"]["S"])))
    return out


@contextmanager
def moto_update_expressions() -> Iterator[None]:
    """moto's own UpdateExpression parsing, walks and copies for the duration."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    make, walk = UpdateExpressionParser.make, DepthFirstTraverser.traverse_node_recursively
    node_copy = Node.__deepcopy__  # type: ignore[attr-defined]
    UpdateExpressionParser.make = classmethod(make.__wrapped__.__func__)  # type: ignore[attr-defined, method-assign, assignment]
    DepthFirstTraverser.traverse_node_recursively = walk.__wrapped__  # type: ignore[attr-defined, method-assign]
    del Node.__deepcopy__  # type: ignore[attr-defined]
    try:
        yield
    finally:
        UpdateExpressionParser.make = make  # type: ignore[method-assign]
        DepthFirstTraverser.traverse_node_recursively = walk  # type: ignore[method-assign]
        Node.__deepcopy__ = node_copy  # type: ignore[attr-defined]


def test_update_items_answer_as_moto_does() -> None:
    assert patch_moto() == []
    answers = []
    for fixed in (True, False):
        with mock_aws(), nullcontext() if fixed else moto_update_expressions():
            client = boto3.client("dynamodb", region_name="us-east-1")
            create_table(client)
            answers.append(apply_updates(client))
    fixed_answers, moto_answers = answers
    assert fixed_answers == moto_answers
    errors = [a for a in moto_answers[:-1] if isinstance(a, tuple)]
    assert len(errors) == 8  # the repeated counter update, and the seven invalid ones
    assert {e["Code"] for e, _ in errors} == {"ConditionalCheckFailedException", "ValidationException"}
    assert moto_answers[-1][0]["m"]["M"]["a"] == {"N": "2"}  # the valid updates did apply
