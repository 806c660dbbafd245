"""Per-request NDJSON.gz stores in the lake: bad rows (`raw/bad/`) and identities (`raw/identities/`).

One object per request (`<prefix>/dt=YYYY-MM-DD/hour=HH/<source>-<uuid>.ndjson.gz`, by arrival
time), so a request's rows are written all or nothing and writers never contend for a key.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from clickstream.adapters.aws_errors import error_code
from clickstream.adapters.s3.lake_bucket import LakeBucket
from clickstream.constants import RAW_BAD_PREFIX
from clickstream.errors import RetryableError

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def request_object_key(prefix: str, received_at: datetime, source: str, token: str) -> str:
    """The object key for one request's rows under `prefix` (partitioned by UTC arrival hour)."""
    at = received_at.astimezone(UTC) if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    name = _UNSAFE.sub("-", source).strip("-") or "unknown"
    return f"{prefix}/dt={at:%Y-%m-%d}/hour={at:%H}/{name}-{token}.ndjson.gz"


def bad_rows_key(received_at: datetime, source: str, token: str) -> str:
    return request_object_key(RAW_BAD_PREFIX, received_at, source, token)


class RequestRowsStore:
    """Writes one request's rows as one object under `prefix`."""

    def __init__(self, bucket: LakeBucket, *, prefix: str, what: str) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._what = what  # for error messages: "bad rows", "identities"

    def put(self, rows: Sequence[dict[str, Any]], *, received_at: datetime, source: str) -> str | None:
        """Write `rows` (JSON-safe dicts) as one object; returns its key, or None when there is nothing to write.

        Raises RetryableError when S3 does not take the object (the caller decides whether to
        acknowledge the request).
        """
        if not rows:
            return None
        key = request_object_key(self._prefix, received_at, source, uuid.uuid4().hex)
        try:
            self._bucket.put_ndjson_gz(key, (orjson.dumps(row) for row in rows))
        except ClientError as exc:  # any refusal, not only throttling (see the docstring)
            code = error_code(exc)
            raise RetryableError(f"{self._what} not stored in s3://{self._bucket.name}/{key}: {code}") from exc
        except BotoCoreError as exc:
            raise RetryableError(f"{self._what} not stored in s3://{self._bucket.name}/{key}: {exc}") from exc
        return key


class BadRowsStore(RequestRowsStore):
    """Rejected records with their reasons, under `raw/bad/`."""

    def __init__(self, bucket: LakeBucket) -> None:
        super().__init__(bucket, prefix=RAW_BAD_PREFIX, what="bad rows")
