"""The event-source-mapping stand-in's Kinesis reads: list shards, open iterators, GetRecords per shard.

The raw archiver's `KinesisReader` reads every shard round-robin and keeps only what the archive
needs; the stream processor needs one shard at a time (the ones it leases), the partition keys
(they are in the Lambda event) and iterators re-opened at any sequence number after a failed
batch. So this is a thinner, per-shard interface; the shard model (`ShardInfo`,
`readable_shards`: parents before children) and the Kinesis limits are both readers', in
`clickstream.emulated.stream_reading`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import error_code, raise_clean
from clickstream.emulated.event_source_mapping.events import KinesisRecord
from clickstream.emulated.stream_reading import (
    GET_RECORDS_MAX,
    GET_RECORDS_PER_SHARD_PER_SECOND,
    GET_RECORDS_THROTTLED,
    ShardInfo,
    list_shards,
    readable_shards,
)
from clickstream.errors import StreamUnavailableError

# The stream cannot be read now: StreamUnavailableError, where aws_errors.translate would say ConfigError.
_UNAVAILABLE = frozenset({"ResourceNotFoundException", "ResourceInUseException", "AccessDeniedException"})


@dataclass
class ShardRead:
    records: list[KinesisRecord] = field(default_factory=list)
    next_iterator: str | None = None  # None: a closed shard read to its end (AWS)
    millis_behind: int | None = None
    expired: bool = False  # the iterator expired: open a new one
    throttled: bool = False


class KinesisShards:
    min_read_interval = 1.0 / GET_RECORDS_PER_SHARD_PER_SECOND  # between two reads of one shard

    def __init__(self, stream: str, *, client: Any) -> None:
        self.stream = stream
        self._client = client

    def stream_arn(self) -> str:
        summary = self._call("describe_stream_summary", StreamName=self.stream)
        return str(summary["StreamDescriptionSummary"]["StreamARN"])

    def list_shards(self) -> list[ShardInfo]:
        """Every shard the stream lists (open and closed), with parents and the ending sequence number."""
        return list_shards(lambda **kwargs: self._call("list_shards", **kwargs), self.stream)

    def leasable(self, finished: Collection[str]) -> tuple[list[str], dict[str, int | None]]:
        """Shards to process now (parents before children) and every listed shard's ending sequence number."""
        shards = self.list_shards()
        return readable_shards(shards, finished), {s.shard_id: s.ending_sequence for s in shards}

    def iterator(self, shard_id: str, after: int | None) -> str:
        """An iterator just after `after` (the checkpoint), or at TRIM_HORIZON without one."""
        kwargs: dict[str, Any] = {"StreamName": self.stream, "ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=str(after))
        return str(self._call("get_shard_iterator", **kwargs)["ShardIterator"])

    def read(self, iterator: str, *, limit: int = GET_RECORDS_MAX) -> ShardRead:
        """One GetRecords call. Throttling and expiry are reported, not raised."""
        try:
            resp = self._client.get_records(ShardIterator=iterator, Limit=min(limit, GET_RECORDS_MAX))
        except ClientError as exc:
            code = error_code(exc)
            if code == "ExpiredIteratorException":
                return ShardRead(next_iterator=iterator, expired=True)
            if code in GET_RECORDS_THROTTLED:
                return ShardRead(next_iterator=iterator, throttled=True)
            _raise_clean(exc, f"stream {self.stream}: GetRecords")
        records = [
            KinesisRecord(
                int(r["SequenceNumber"]), r["PartitionKey"], r["Data"], _epoch(r["ApproximateArrivalTimestamp"])
            )
            for r in resp.get("Records", ())
        ]
        return ShardRead(records, resp.get("NextShardIterator"), resp.get("MillisBehindLatest"))

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except ClientError as exc:
            _raise_clean(exc, f"stream {self.stream}: {operation}")


def _raise_clean(exc: ClientError, what: str) -> NoReturn:
    """StreamUnavailableError for a stream that cannot be read now, else as `aws_errors.raise_clean`."""
    code = error_code(exc)
    if code in _UNAVAILABLE:
        raise StreamUnavailableError(f"{what}: {code}", retry_after=5.0) from exc
    raise_clean(exc, what=what)


def _epoch(ts: datetime | float) -> float:
    if isinstance(ts, datetime):
        return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()
    return float(ts)
