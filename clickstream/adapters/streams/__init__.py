"""The event stream, written: Kinesis (PutRecords) or Kafka (an idempotent producer), one contract.

`stream_writer(settings)` returns the configured transport's writer; `write()` returns only when
every record is durable. Reading the stream is AWS's job (Lambda's event source mapping,
Firehose), or off AWS their stand-ins' (`clickstream.emulated`).
"""

from clickstream.adapters.streams.kafka import KafkaWriter
from clickstream.adapters.streams.kinesis import KinesisWriter
from clickstream.adapters.streams.records import NullWriter, StreamRecord, StreamWriter
from clickstream.adapters.streams.writer import stream_writer

__all__ = ["KafkaWriter", "KinesisWriter", "NullWriter", "StreamRecord", "StreamWriter", "stream_writer"]
