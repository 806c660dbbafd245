"""Kinesis adapter: `KinesisWriter`, a `StreamWriter` over PutRecords.

PutRecords is not atomic: a 200 response can still carry per-record failures
(`FailedRecordCount`, `ErrorCode` = ProvisionedThroughputExceededException / InternalFailure).
The writer retries only the failed records, with exponential backoff and full jitter, until
every record has a sequence number or the deadline passes; then it raises
`StreamUnavailableError` and the caller must treat the whole `write()` as not acknowledged.
Retried records may land out of order relative to the ones that succeeded first, and a record
reported as InternalFailure may already be on the stream: delivery is at-least-once.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from clickstream.adapters.aws_errors import RETRYABLE_CODES, error_code
from clickstream.adapters.streams.records import StreamRecord
from clickstream.constants import KINESIS_RECORD_MAX_BYTES, PUT_RECORDS_MAX, PUT_RECORDS_MAX_BYTES
from clickstream.errors import PoisonRecordError, StreamUnavailableError

log = logging.getLogger(__name__)

PARTITION_KEY_MAX_CHARS = 256  # Kinesis: partition keys are 1..256 Unicode characters

# Call-level codes that no retry within seconds will fix: the stream cannot take records now
# (StreamUnavailableError with a long retry_after, where aws_errors.translate would say ConfigError).
_UNAVAILABLE_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "ResourceInUseException",
        "AccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSAccessDeniedException",
        "KMSNotFoundException",
        "KMSOptInRequired",
    }
)


class KinesisWriter:
    """Writes `StreamRecord`s to one Kinesis stream; `write()` returns only when all are durable."""

    def __init__(
        self,
        stream_name: str,
        *,
        client: Any,
        deadline_seconds: float = 5.0,
        base_delay: float = 0.05,
        max_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.stream_name = stream_name
        self._client = client
        self._deadline_seconds = deadline_seconds
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._monotonic = monotonic
        self._jitter = jitter

    def write(self, records: Sequence[StreamRecord]) -> None:
        """Put every record (chunked by the PutRecords limits); raise StreamUnavailableError if any is not durable."""
        if not records:
            return
        entries = [_entry(r) for r in records]  # size checks first: never send half a batch
        for chunk in chunk_entries(entries):
            self._put_chunk(chunk)

    def close(self) -> None:
        """Nothing to release: the boto3 client belongs to the caller."""

    def _put_chunk(self, entries: list[dict[str, Any]]) -> None:
        deadline = self._monotonic() + self._deadline_seconds
        pending = entries
        attempt = 0
        while True:
            cause: Exception | None = None
            try:
                response = self._client.put_records(StreamName=self.stream_name, Records=pending)
            except ClientError as exc:
                code = error_code(exc)
                if code in _UNAVAILABLE_CODES:
                    raise StreamUnavailableError(
                        f"Kinesis stream {self.stream_name!r} cannot accept records ({code}): {exc}", retry_after=30.0
                    ) from exc
                if code not in RETRYABLE_CODES:
                    raise
                failed, reason, cause = pending, code, exc
            except (BotoConnectionError, HTTPClientError) as exc:
                failed, reason, cause = pending, f"{type(exc).__name__}: {exc}", exc
            else:
                if not response.get("FailedRecordCount"):
                    return
                failed, reason = _failed_entries(pending, response["Records"])
                if not failed:
                    return
            attempt += 1
            delay = self._backoff(attempt)
            if self._monotonic() + delay > deadline:
                msg = (
                    f"{len(failed)} of {len(entries)} records not accepted by Kinesis stream "
                    f"{self.stream_name!r} after {attempt} attempts ({reason})"
                )
                raise StreamUnavailableError(msg, retry_after=1.0) from cause
            log.info("PutRecords: %d records failed (%s); retry %d in %.3fs", len(failed), reason, attempt, delay)
            self._sleep(delay)
            pending = failed

    def _backoff(self, attempt: int) -> float:
        # "Full jitter" (AWS Architecture Blog): spreads the retries of many writers over time.
        return self._jitter() * min(self._max_delay, self._base_delay * 2 ** (attempt - 1))


def chunk_entries(entries: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Split PutRecords entries into calls of at most 500 records and 5 MiB (data + partition keys)."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        n = _entry_size(entry)
        if chunk and (len(chunk) == PUT_RECORDS_MAX or size + n > PUT_RECORDS_MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(entry)
        size += n
    if chunk:
        yield chunk


def partition_key(key: str) -> str:
    """`key` if Kinesis accepts it as a partition key, else a stable digest (same key, same shard)."""
    if 0 < len(key) <= PARTITION_KEY_MAX_CHARS:
        return key
    return hashlib.sha256(key.encode()).hexdigest()


def _entry(record: StreamRecord) -> dict[str, Any]:
    entry = {"Data": record.data, "PartitionKey": partition_key(record.key)}
    if _entry_size(entry) > KINESIS_RECORD_MAX_BYTES:
        raise PoisonRecordError(
            "record_too_large", f"a record of {len(record.data)} bytes exceeds the Kinesis limit of 1 MiB"
        )
    return entry


def _entry_size(entry: dict[str, Any]) -> int:
    return len(entry["Data"]) + len(entry["PartitionKey"].encode())


def _failed_entries(sent: list[dict[str, Any]], results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The entries whose result carries an ErrorCode, and a short summary of the codes."""
    failed = [entry for entry, result in zip(sent, results, strict=True) if result.get("ErrorCode")]
    codes = sorted({r["ErrorCode"] for r in results if r.get("ErrorCode")})
    return failed, ", ".join(codes)
