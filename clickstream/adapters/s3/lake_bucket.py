"""The lake bucket: NDJSON.gz objects for the raw archive and the bad-rows store."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from clickstream.settings import Settings


class LakeBucket:
    def __init__(self, name: str, *, client: Any) -> None:
        self.name = name
        self._client = client

    def put_ndjson_gz(self, key: str, lines: Iterable[bytes]) -> int:
        """Write one gzip NDJSON object (overwrites `key`); returns the number of lines."""
        lines = list(lines)
        body = gzip.compress(b"".join(line + b"\n" for line in lines), compresslevel=6, mtime=0)
        self._client.put_object(
            Bucket=self.name, Key=key, Body=body, ContentType="application/x-ndjson", ContentEncoding="gzip"
        )
        return len(lines)

    def get_ndjson_gz(self, key: str) -> list[bytes]:
        body = self._client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return [line for line in gzip.decompress(body).split(b"\n") if line]

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.name, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"]

    def exists(self) -> bool:
        try:
            self._client.head_bucket(Bucket=self.name)
        except ClientError:
            return False
        return True


def lake_bucket(settings: Settings) -> LakeBucket:
    """The platform's lake bucket for `settings`, with the shared S3 client."""
    from clickstream.adapters import _clients

    return LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
