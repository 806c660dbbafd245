"""The identities store: Segment identify/group/alias calls, as NDJSON.gz under `raw/identities/`.

They are not clickstream events (nothing to count), but they link anonymous ids to users and
users to groups, so they are kept: one object per request
(`raw/identities/dt=YYYY-MM-DD/hour=HH/<source>-<uuid>.ndjson.gz`, by arrival time), the same
pattern as the bad-rows store. A resent request writes its records again; readers dedupe by
`message_id`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from clickstream.adapters.s3 import LakeBucket
from clickstream.errors import RetryableError

RAW_IDENTITIES_PREFIX = "raw/identities"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def identities_key(received_at: datetime, source: str, token: str) -> str:
    """The object key for one request's identity records (partitioned by UTC arrival hour)."""
    at = received_at.astimezone(UTC) if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    name = _UNSAFE.sub("-", source).strip("-") or "unknown"
    return f"{RAW_IDENTITIES_PREFIX}/dt={at:%Y-%m-%d}/hour={at:%H}/{name}-{token}.ndjson.gz"


class IdentitiesStore:
    def __init__(self, bucket: LakeBucket) -> None:
        self._bucket = bucket

    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> str | None:
        """Write `rows` (JSON-safe dicts) as one object; returns its key, or None when there is nothing to write.

        Raises RetryableError when S3 does not take the object (the request is then not acknowledged).
        """
        if not rows:
            return None
        key = identities_key(received_at, source, uuid.uuid4().hex)
        try:
            self._bucket.put_ndjson_gz(key, (orjson.dumps(row) for row in rows))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise RetryableError(f"identities not stored in s3://{self._bucket.name}/{key}: {code}") from exc
        except BotoCoreError as exc:
            raise RetryableError(f"identities not stored in s3://{self._bucket.name}/{key}: {exc}") from exc
        return key
