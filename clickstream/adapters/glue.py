"""Glue Data Catalog adapter."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class GlueCatalog:
    def __init__(self, client: Any) -> None:
        self._client = client

    def ensure_database(self, name: str, *, description: str = "clickstream lake") -> bool:
        """Create the database if it is missing; True when it was created."""
        try:
            self._client.create_database(DatabaseInput={"Name": name, "Description": description})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "AlreadyExistsException":
                return False
            raise
        return True
