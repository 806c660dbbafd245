"""Shard leases of the event-source-mapping stand-in in DynamoDB (the checkpoint table, its own pk prefix).

Table `settings.names.checkpoints_table` (pk/sk strings, shared with the checkpoints of
`clickstream.emulated.checkpoints`): pk = `lease#<consumer>#<stream>`, sk = shard id. Item:
`owner` (absent when free), `counter` (bumped by every write), `expires_at` (epoch seconds),
`batch_first`/`batch_last` (the batch the holder was invoking, decimal strings: Kinesis
sequence numbers do not fit a DynamoDB number) and `finished` (closed shard done). Every change
is conditional on the `counter` the writer last saw, and a holder's writes on still being the
owner, so a lease taken by someone else is noticed at the holder's next write. The pure rules
(who takes what) are in `clickstream.emulated.event_source_mapping.leases`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import error_code
from clickstream.adapters.dynamodb import call, query_partition
from clickstream.emulated.event_source_mapping.leases import Lease

LEASE_PREFIX = "lease"


class LeaseTable:
    """The leases of one consumer on one stream."""

    def __init__(self, table: str, *, consumer: str, stream: str, client: Any, duration: float = 10.0) -> None:
        if duration <= 0:
            raise ValueError(f"lease duration must be positive, got {duration}")
        self.table, self.duration = table, duration
        self.pk = f"{LEASE_PREFIX}#{consumer}#{stream}"
        self._client = client

    def load(self) -> dict[str, Lease]:
        """Every lease of the stream (strongly consistent)."""
        out: dict[str, Lease] = {}
        for item in query_partition(self._client, self.table, self.pk, what=f"lease table {self.table}"):
            lease = _lease(item)
            out[lease.shard] = lease
        return out

    def ensure(self, shard: str) -> None:
        """Create a free lease for `shard` unless one exists."""
        with contextlib.suppress(_Conflict):  # someone else created it first: fine
            self._call(
                "put_item",
                TableName=self.table,
                Item={**self._key(shard), "counter": {"N": "0"}, "expires_at": {"N": "0"}},
                ConditionExpression="attribute_not_exists(pk)",
            )

    def take(self, lease: Lease, *, me: str, now: float) -> Lease | None:
        """Become the owner of a lease as it was seen (free, or stolen); None if it changed meanwhile."""
        return self._update(
            lease.shard,
            "SET #o = :me, expires_at = :exp, #c = #c + :one",
            "#c = :seen",
            {":me": {"S": me}, ":exp": _num(now + self.duration), ":seen": _num(lease.counter)},
        )

    def renew(self, lease: Lease, *, me: str, now: float) -> Lease | None:
        """Extend a lease we hold; None if it was taken from us."""
        return self._update(
            lease.shard,
            "SET expires_at = :exp, #c = #c + :one",
            "#o = :me AND #c = :seen",
            {":me": {"S": me}, ":exp": _num(now + self.duration), ":seen": _num(lease.counter)},
        )

    def record_batch(self, lease: Lease, first: int, last: int, *, me: str, now: float) -> Lease | None:
        """Note the batch about to be invoked (and renew); None if the lease was taken from us."""
        return self._update(
            lease.shard,
            "SET batch_first = :f, batch_last = :l, expires_at = :exp, #c = #c + :one",
            "#o = :me AND #c = :seen",
            {
                ":me": {"S": me},
                ":f": {"S": str(first)},
                ":l": {"S": str(last)},
                ":exp": _num(now + self.duration),
                ":seen": _num(lease.counter),
            },
        )

    def release(self, lease: Lease, *, me: str) -> bool:
        """Give a lease up (graceful stop) so another worker takes it at once."""
        return (
            self._update(
                lease.shard,
                "REMOVE #o SET expires_at = :zero, #c = #c + :one",
                "#o = :me AND #c = :seen",
                {":me": {"S": me}, ":zero": {"N": "0"}, ":seen": _num(lease.counter)},
            )
            is not None
        )

    def finish(self, lease: Lease, *, me: str) -> bool:
        """Mark a closed shard processed to its end; its lease is never taken again."""
        return (
            self._update(
                lease.shard,
                "REMOVE #o SET finished = :t, expires_at = :zero, #c = #c + :one",
                "#o = :me AND #c = :seen",
                {":me": {"S": me}, ":t": {"BOOL": True}, ":zero": {"N": "0"}, ":seen": _num(lease.counter)},
            )
            is not None
        )

    def _update(self, shard: str, update: str, condition: str, values: dict[str, Any]) -> Lease | None:
        names = {"#c": "counter"}
        if "#o" in update or "#o" in condition:
            names["#o"] = "owner"
        try:
            resp = self._call(
                "update_item",
                TableName=self.table,
                Key=self._key(shard),
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists(pk) AND {condition}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            )
        except _Conflict:
            return None
        return _lease(resp["Attributes"])

    def _key(self, shard: str) -> dict[str, Any]:
        return {"pk": {"S": self.pk}, "sk": {"S": shard}}

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return call(self._client, operation, what=f"lease table {self.table}", **kwargs)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise _Conflict() from exc
            raise


class _Conflict(Exception):
    """A conditional write lost: the lease is not as we saw it."""


def _lease(item: dict[str, Any]) -> Lease:
    def opt_int(name: str) -> int | None:
        raw = item.get(name, {}).get("S")
        return int(raw) if raw else None

    return Lease(
        shard=item["sk"]["S"],
        owner=item.get("owner", {}).get("S"),
        counter=int(item.get("counter", {}).get("N", "0")),
        expires_at=float(item.get("expires_at", {}).get("N", "0")),
        batch_first=opt_int("batch_first"),
        batch_last=opt_int("batch_last"),
        finished=item.get("finished", {}).get("BOOL", False),
    )


def _num(value: float) -> dict[str, str]:
    return {"N": repr(round(value, 3)) if isinstance(value, float) else str(value)}
