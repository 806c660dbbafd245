"""The contract between the archiver loop and the stream adapters (Kinesis, Kafka), the bucket
and the checkpoint table. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from clickstream.emulated.firehose.batching import RawRecord


@dataclass
class ShardBatch:
    """What one read of one shard returned."""

    shard: str
    records: list[RawRecord]
    millis_behind: int | None = None  # Kinesis MillisBehindLatest
    records_behind: int | None = None  # Kafka: high watermark minus next offset
    shard_end: bool = False  # Kinesis: a closed shard has been read to its end


@dataclass
class Poll:
    batches: list[ShardBatch] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)  # Kafka partitions taken away by a rebalance


class StreamReader(Protocol):
    source: str  # stream or topic name: the first part of object names
    key_digits: int  # zero-padding of positions in object names

    def poll(self) -> Poll: ...

    def archived(self, positions: dict[str, int]) -> None:
        """Every record up to `positions[shard]` is archived and checkpointed (Kafka: commit)."""

    def finished(self, shard: str) -> None:
        """A closed shard is archived to its end (Kinesis: its children may start)."""

    def caught_up(self) -> bool:
        """True when every shard has been read to the end of what the stream holds."""

    def close(self) -> None: ...


class ObjectSink(Protocol):
    def put_ndjson_gz(self, key: str, lines: Iterable[bytes]) -> int: ...

    def list_keys(self, prefix: str) -> Iterable[str]: ...


class CheckpointWriter(Protocol):
    def save(self, shard: str, position: int) -> bool: ...

    def close_shard(self, shard: str) -> None: ...
