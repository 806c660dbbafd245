"""`stream_writer(settings)`: the writer of the configured transport (Kinesis or Kafka)."""

from __future__ import annotations

from clickstream.adapters import _clients
from clickstream.adapters.streams.kafka import KafkaWriter
from clickstream.adapters.streams.kinesis import KinesisWriter
from clickstream.adapters.streams.records import StreamWriter
from clickstream.constants import STREAM_WRITE_DEADLINE_SECONDS as DEADLINE
from clickstream.settings import Settings


def stream_writer(settings: Settings) -> StreamWriter:
    """The writer for `settings.transport`."""
    if settings.transport == "kafka":
        return KafkaWriter(settings.require_kafka(), settings.names.topic)
    # Each PutRecords call times out within the writer's deadline, so a write is answered
    # (durable, or StreamUnavailableError) within about twice the deadline, however slow the stream.
    kinesis = _clients.deadline_client("kinesis", settings, seconds=DEADLINE)
    return KinesisWriter(settings.names.stream, client=kinesis, deadline_seconds=DEADLINE)
