"""Job leases in the batch table: at most one holder of a job at a time, whatever started it.

Item: pk = `lock#<job>`, sk = `lease`; attributes `owner` (the holder's run id) and `expires_at`
(epoch seconds). A holder renews its lease while it works; a crashed holder's lease runs out and
the next run takes it. Every change is one conditional write, so two runs that race for a free
lease cannot both win.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import ClientError

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb.tables import call
from clickstream.settings import Settings

LOCK_PK_PREFIX: Final = "lock"
LEASE_SK: Final = "lease"


class JobLease:
    """One job's lease, held (or sought) by `owner`."""

    def __init__(
        self, settings: Settings, job: str, owner: str, *, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = _clients.client("dynamodb", settings)
        self._table = settings.names.batch_table
        self._key = {"pk": {"S": f"{LOCK_PK_PREFIX}#{job}"}, "sk": {"S": LEASE_SK}}
        self.job, self.owner, self.ttl_s, self._clock = job, owner, ttl_s, clock

    def try_acquire(self) -> dict[str, Any] | None:
        """Take the lease if it is free, expired or already ours: None; else the holder's item
        ({"owner", "expires_at"})."""
        now = self._clock()
        try:
            self._put(now)
            return None
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        return self.holder() or {"owner": "?", "expires_at": now}

    def renew(self) -> bool:
        """Extend our lease; False when it is no longer ours (it expired and another run took it)."""
        try:
            self._put(self._clock(), only_ours=True)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False

    def release(self) -> None:
        """Give the lease up (a no-op when it is not ours any more)."""
        try:
            call(
                self._client,
                "delete_item",
                what=f"table {self._table}",
                TableName=self._table,
                Key=self._key,
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": self.owner}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def holder(self) -> dict[str, Any] | None:
        got = call(
            self._client,
            "get_item",
            what=f"table {self._table}",
            TableName=self._table,
            Key=self._key,
            ConsistentRead=True,
        )
        item = got.get("Item")
        if not item:
            return None
        return {"owner": item["owner"]["S"], "expires_at": float(item["expires_at"]["N"])}

    def _put(self, now: float, *, only_ours: bool = False) -> None:
        condition = "#o = :me" if only_ours else "attribute_not_exists(pk) OR #o = :me OR expires_at < :now"
        values: dict[str, Any] = {":me": {"S": self.owner}}
        if not only_ours:
            values[":now"] = {"N": repr(now)}
        call(
            self._client,
            "put_item",
            what=f"table {self._table}",
            TableName=self._table,
            Item={
                **self._key,
                "owner": {"S": self.owner},
                "expires_at": {"N": repr(now + self.ttl_s)},
            },
            ConditionExpression=condition,
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues=values,
        )
