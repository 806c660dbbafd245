"""The stand-ins' stream checkpoints in DynamoDB: the last archived or processed position per shard or
partition (on AWS, Firehose and the event source mapping keep theirs inside the service).

Table `settings.names.checkpoints_table`: pk = `<consumer>#<stream or topic>`, sk = shard id or
partition number. Items: `position` (the decimal sequence number or offset), `position_key`
(the same number zero-padded so DynamoDB's string order is numeric order; Kinesis sequence
numbers have up to 129 digits, more than a DynamoDB number holds), `closed` (a Kinesis shard
archived to its end) and `updated_at`. The write is conditional on `position_key` not going
back, so an older checkpoint never overwrites a newer one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import error_code
from clickstream.adapters.dynamodb import call, query_partition

POSITION_DIGITS = 129  # Kinesis: SequenceNumber matches 0|([1-9]\d{0,128})


@dataclass(frozen=True)
class Checkpoint:
    shard: str
    position: int | None  # None: a shard closed before anything was archived from it
    closed: bool = False


class CheckpointStore:
    """Checkpoints of one consumer on one stream or topic."""

    def __init__(self, table: str, *, consumer: str, source: str, client: Any) -> None:
        self.table = table
        self.pk = f"{consumer}#{source}"
        self._client = client

    def load(self) -> dict[str, Checkpoint]:
        """Every shard's checkpoint (strongly consistent: a restart must see its own last write)."""
        out: dict[str, Checkpoint] = {}
        for item in query_partition(self._client, self.table, self.pk, what=f"checkpoint table {self.table}"):
            shard = item["sk"]["S"]
            raw = item.get("position", {}).get("S")
            out[shard] = Checkpoint(
                shard=shard,
                position=int(raw) if raw else None,
                closed=item.get("closed", {}).get("BOOL", False),
            )
        return out

    def save(self, shard: str, position: int) -> bool:
        """Record `position` as archived; False (and no write) if a newer one is already stored."""
        try:
            self._call(
                "update_item",
                TableName=self.table,
                Key=self._key(shard),
                UpdateExpression="SET #p = :p, position_key = :k, updated_at = :t",
                ConditionExpression="attribute_not_exists(position_key) OR position_key <= :k",
                ExpressionAttributeNames={"#p": "position"},
                ExpressionAttributeValues={
                    ":p": {"S": str(position)},
                    ":k": {"S": position_key(position)},
                    ":t": {"N": str(int(time.time()))},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def close_shard(self, shard: str) -> None:
        """Mark a closed shard as archived to its end (its children may start)."""
        self._call(
            "update_item",
            TableName=self.table,
            Key=self._key(shard),
            UpdateExpression="SET closed = :c, updated_at = :t",
            ExpressionAttributeValues={":c": {"BOOL": True}, ":t": {"N": str(int(time.time()))}},
        )

    def _key(self, shard: str) -> dict[str, Any]:
        return {"pk": {"S": self.pk}, "sk": {"S": shard}}

    def _call(self, operation: str, **kwargs: Any) -> Any:
        return call(self._client, operation, what=f"checkpoint table {self.table}", **kwargs)


def position_key(position: int) -> str:
    """A position as a string whose lexicographic order is numeric order."""
    if position < 0:
        raise ValueError(f"positions are non-negative, got {position}")
    return f"{position:0{POSITION_DIGITS}d}"
