"""DynamoDB adapter: table housekeeping (counters and checkpoints get their own classes)."""

from __future__ import annotations

from typing import Any


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
