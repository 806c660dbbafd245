"""The stream-writer contract shared by the Kinesis and Kafka writers: `StreamRecord`, `StreamWriter`.

`write()` returns only when every record is durable on the stream (Kinesis: PutRecords with
per-record failures retried; Kafka: acks=all and delivery confirmed); otherwise it raises
`StreamUnavailableError` (a RetryableError, carrying retry_after) and the caller must treat
the whole call as not acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StreamRecord:
    key: str  # partition key: the event's user_id, so one user's events stay in order
    data: bytes


class StreamWriter(Protocol):
    def write(self, records: Sequence[StreamRecord]) -> None: ...

    def close(self) -> None: ...


class NullWriter:
    """Accepts and drops everything: the benchmark's way to show where the time goes."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, records: Sequence[StreamRecord]) -> None:
        self.count += len(records)

    def close(self) -> None:
        pass
