"""The live feed's items in the realtime table: pk `definitions.RECENT_PK`, sk = shard.

Each item holds one shard's newest accepted events as one JSON string (`events`), the stream
position of the batch that wrote it (`last`, fixed-width text as the counters' watermarks: a
Kinesis sequence number has 56 digits, DynamoDB numbers 38) and a TTL of a day, so the item of a shard that was
split or merged away expires. A write is a put that only a later batch may make: a retried or
replayed older batch never rolls the list back. Readers find the shards in the freshness item,
which every applied batch updates first, then fetch the lists with one BatchGetItem: no Query,
so the read costs two point reads however big the table is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson
from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import error_code
from clickstream.adapters.dynamodb.counters import encode_position
from clickstream.adapters.dynamodb.tables import call
from clickstream.metrics import definitions as d
from clickstream.metrics import recent
from clickstream.resources import TTL_ATTRIBUTE

KEEP_SECONDS: Final = 86_400  # an idle shard's feed disappears after a day (TTL)


class RecentFeed:
    """Read and write the per-shard feed items of the realtime table."""

    def __init__(self, table: str, *, client: Any, clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self._client = client
        self._clock = clock

    def load(self, shard: str) -> list[dict[str, Any]]:
        """The shard's stored list (empty when there is none)."""
        got = call(
            self._client,
            "get_item",
            what=f"table {self.table}",
            TableName=self.table,
            Key=_key(shard),
            ConsistentRead=True,
        )
        raw = got.get("Item", {}).get("events", {}).get("S")
        return list(orjson.loads(raw)) if raw else []

    def store(self, shard: str, *, last: int, events: Sequence[Mapping[str, Any]]) -> bool:
        """Replace the shard's list, unless a batch at or after `last` already wrote it (False)."""
        item = {
            **_key(shard),
            "events": {"S": orjson.dumps(list(events)).decode()},
            "last": {"S": encode_position(last)},
            TTL_ATTRIBUTE: {"N": str(int(self._clock()) + KEEP_SECONDS)},
        }
        try:
            call(
                self._client,
                "put_item",
                what=f"table {self.table}",
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(#last) OR #last < :last",
                ExpressionAttributeNames={"#last": "last"},
                ExpressionAttributeValues={":last": {"S": encode_position(last)}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def newest(self, n: int, *, active_within_s: float = KEEP_SECONDS) -> list[dict[str, Any]]:
        """The `n` newest events over every shard that applied a batch within `active_within_s`."""
        freshness = call(
            self._client,
            "get_item",
            what=f"table {self.table}",
            TableName=self.table,
            Key={"pk": {"S": d.FRESHNESS_PK}, "sk": {"S": d.FRESHNESS_SK}},
        ).get("Item", {})
        since_ms = (self._clock() - active_within_s) * 1000
        shards = sorted(
            name[len(d.FRESHNESS_ARRIVAL) :]
            for name, value in freshness.items()
            if name.startswith(d.FRESHNESS_ARRIVAL) and float(value.get("N", 0)) >= since_ms
        )
        lists: list[list[dict[str, Any]]] = []
        for start in range(0, len(shards), 100):  # BatchGetItem takes 100 keys
            request = {self.table: {"Keys": [_key(s) for s in shards[start : start + 100]]}}
            while request:
                got = call(self._client, "batch_get_item", what=f"table {self.table}", RequestItems=request)
                for raw in got.get("Responses", {}).get(self.table, []):
                    lists.append(orjson.loads(raw["events"]["S"]))
                request = got.get("UnprocessedKeys") or {}
                if request:
                    time.sleep(0.05)  # throttled: the rest after a pause
        return recent.newest(lists, n)


def _key(shard: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": d.RECENT_PK}, "sk": {"S": shard}}
