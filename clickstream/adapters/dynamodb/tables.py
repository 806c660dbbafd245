"""DynamoDB adapter: table housekeeping, and the call/query helpers the table classes share
(checkpoints, leases; the counters table has its own batching writer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import raise_clean


def call(client: Any, operation: str, *, what: str, **kwargs: Any) -> Any:
    """`client.<operation>(**kwargs)` with throttling as RetryableError and a missing table as a
    ConfigError that says what to do; any other ClientError is re-raised for the caller."""
    try:
        return getattr(client, operation)(**kwargs)
    except ClientError as exc:
        raise_clean(exc, what=what)


def query_partition(client: Any, table: str, pk: str, *, what: str) -> Iterator[dict[str, Any]]:
    """Every item whose `pk` is `pk`, all pages, strongly consistent (a restart must see its own writes)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ConsistentRead": True,
    }
    while True:
        page = call(client, "query", what=what, **kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class TableAdmin:
    def __init__(self, client: Any) -> None:
        self._client = client

    def ensure_ttl(self, table: str, attribute: str) -> bool:
        """Enable TTL on `attribute` if it is not already; True when it was changed."""
        desc = self._client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        if desc.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and desc.get("AttributeName") == attribute:
            return False
        self._client.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        )
        return True
