"""The stream-writer contract shared by the Kinesis and Kafka adapters.

`write()` returns only when every record is durable on the stream (Kinesis: PutRecords with
per-record failures retried; Kafka: acks=all and delivery confirmed); otherwise it raises
`StreamUnavailableError` (a RetryableError, carrying retry_after) and the caller must treat
the whole call as not acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from clickstream.settings import Settings


@dataclass(frozen=True, slots=True)
class StreamRecord:
    key: str  # partition key: the event's user_id, so one user's events stay in order
    data: bytes


class StreamWriter(Protocol):
    def write(self, records: Sequence[StreamRecord]) -> None: ...

    def close(self) -> None: ...


def stream_writer(settings: Settings) -> StreamWriter:
    """The writer for `settings.transport`."""
    if settings.transport == "kafka":
        from clickstream.adapters.kafka import KafkaWriter

        return KafkaWriter(settings.require_kafka(), settings.names.topic)
    from clickstream.adapters import _clients
    from clickstream.adapters.kinesis import KinesisWriter
    from clickstream.constants import STREAM_WRITE_DEADLINE_SECONDS as DEADLINE

    # Each PutRecords call times out within the writer's deadline, so a write is answered
    # (durable, or StreamUnavailableError) within about twice the deadline, however slow the stream.
    kinesis = _clients.deadline_client("kinesis", settings, seconds=DEADLINE)
    return KinesisWriter(settings.names.stream, client=kinesis, deadline_seconds=DEADLINE)


class NullWriter:
    """Accepts and drops everything: the benchmark's way to show where the time goes."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, records: Sequence[StreamRecord]) -> None:
        self.count += len(records)

    def close(self) -> None:
        pass
