"""The batch jobs' and the API's S3 operations on the lake bucket: list, get (in parallel), put,
copy, delete, and download links.

Kept apart from the job's logic so the pure steps never see a client. (A sibling of
`clickstream.adapters.s3.LakeBucket`, which holds the NDJSON.gz verbs of the raw archive.)
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Final

from botocore.exceptions import ClientError

from clickstream.adapters import _clients
from clickstream.adapters.aws_errors import error_code
from clickstream.errors import ClickstreamError
from clickstream.settings import Settings

GET_THREADS: Final = 8  # S3 GETs are latency-bound; gunzip (zlib) releases the GIL too
DELETE_MAX: Final = 1000  # S3 DeleteObjects: at most 1000 keys per call
NO_SUCH_KEY: Final = frozenset({"NoSuchKey", "404"})  # GetObject of a missing key (404 when HEAD-like)


class ArchivedObjectError(ClickstreamError):
    """A raw object sits in an archive storage class and must be restored before it can be read."""


ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})  # read only once restored


class LakeObjects:
    def __init__(self, bucket: str, *, client: Any) -> None:
        self.bucket = bucket
        self._client = client

    def _listing(self, prefix: str) -> Iterator[dict[str, Any]]:
        """ListObjectsV2's entries under `prefix`, every page, in key order."""
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def list_keys(self, prefix: str) -> Iterator[str]:
        for obj in self._listing(prefix):
            yield obj["Key"]

    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size in bytes) of every object under `prefix`, in key order."""
        for obj in self._listing(prefix):
            yield obj["Key"], int(obj["Size"])

    def get(self, key: str) -> bytes:
        """The object's bytes; ArchivedObjectError for an object in an archive class (Glacier Flexible
        Retrieval, Deep Archive) that was not restored: S3 answers InvalidObjectState."""
        try:
            body: bytes = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) != "InvalidObjectState":
                raise
            raise self.archived(key, exc.response.get("Error", {}).get("StorageClass", "Glacier")) from exc
        return body

    def check_readable(self, prefix: str) -> list[str]:
        """The keys under `prefix`, once none of them is archived: an object in an archive class
        (Glacier Flexible Retrieval, Deep Archive) that is not restored is ArchivedObjectError.
        A query engine cannot read it either (Athena skips such objects: events would be lost)."""
        keys = []
        for obj in self._listing(prefix):
            storage = obj.get("StorageClass", "STANDARD")
            if storage in ARCHIVE_CLASSES:
                restore = self._client.head_object(Bucket=self.bucket, Key=obj["Key"]).get("Restore", "")
                if 'ongoing-request="false"' not in restore:  # not restored, or not yet
                    raise self.archived(obj["Key"], storage)
            keys.append(obj["Key"])
        return keys

    def archived(self, key: str, storage_class: str) -> ArchivedObjectError:
        return ArchivedObjectError(
            f"s3://{self.bucket}/{key} is archived ({storage_class})"
            " and cannot be read until it is restored: `aws s3api restore-object --bucket "
            f"{self.bucket} --key {key} --restore-request Days=7`, then rerun. The lake's lifecycle moves raw/ "
            "to Glacier Instant Retrieval, which needs no restore; objects archived by an older lifecycle do"
        )

    def get_if_exists(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        try:
            return self.get(key)
        except ClientError as exc:
            if error_code(exc) not in NO_SUCH_KEY:
                raise
            return None

    def download(self, key: str, into: BinaryIO, *, chunk_bytes: int = 8 * 1024 * 1024) -> None:
        """Stream the object into `into` from one GetObject (one version of it, whatever replaces it meanwhile)."""
        body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        for chunk in body.iter_chunks(chunk_bytes):
            into.write(chunk)

    def get_many(self, keys: Sequence[str]) -> list[bytes]:
        """The objects' bytes, in the order of `keys`."""
        if len(keys) <= 1:
            return [self.get(k) for k in keys]
        with ThreadPoolExecutor(max_workers=min(GET_THREADS, len(keys))) as pool:
            return list(pool.map(self.get, keys))

    def put(self, key: str, body: bytes, *, content_type: str, content_encoding: str | None = None) -> None:
        extra = {"ContentEncoding": content_encoding} if content_encoding else {}
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **extra)

    def put_ndjson_gz(self, key: str, lines: Sequence[bytes]) -> None:
        body = gzip.compress(b"".join(line + b"\n" for line in lines), compresslevel=6, mtime=0)
        self.put(key, body, content_type="application/x-ndjson", content_encoding="gzip")

    def copy(self, source: str, target: str) -> None:
        """Server-side copy (one atomic PUT of `target` as far as readers are concerned)."""
        self._client.copy_object(Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source})

    def download_url(self, key: str, *, expires_s: int) -> str:
        """A link that downloads the object without credentials for `expires_s` seconds (signed
        with the caller's; it works for as long as they may read it, and at most 7 days)."""
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )
        return url

    def delete(self, keys: Sequence[str]) -> None:
        for i in range(0, len(keys), DELETE_MAX):
            chunk = keys[i : i + DELETE_MAX]
            self._client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )


def lake_objects(settings: Settings) -> LakeObjects:
    return LakeObjects(settings.names.bucket, client=_clients.client("s3", settings))
