"""Kafka adapter: `KafkaWriter`, a `StreamWriter` over a confluent-kafka (librdkafka) Producer.

Durability: `acks=all` + `enable.idempotence=true` (librdkafka retries internally without
duplicating or reordering within a partition). `write()` produces every record, flushes, and
checks the delivery report of EVERY message it produced; a single failure, or a report that does
not arrive in time (broker down: `message.timeout.ms` is kept short), raises
`StreamUnavailableError`. Messages produced before a failure may still be delivered: the caller
resends the whole request, so delivery is at-least-once (the batch layer dedupes by event_id).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from clickstream.adapters.streams.records import StreamRecord
from clickstream.errors import StreamUnavailableError

log = logging.getLogger(__name__)

DEFAULT_MESSAGE_TIMEOUT_MS = 5_000  # how long a record may wait for a broker before the write fails
DEFAULT_LINGER_MS = 5  # batch records of concurrent requests into fewer produce requests
_REPORT_GRACE_SECONDS = 1.0  # beyond message.timeout.ms: time for the timed-out reports to be served
_POLL_SECONDS = 0.05


class _Deliveries:
    """Delivery reports of one `write()`; callbacks may run on any thread that polls the producer."""

    def __init__(self, expected: int) -> None:
        self.pending = expected
        self.errors: list[Any] = []  # confluent_kafka.KafkaError
        self._lock = threading.Lock()

    def __call__(self, err: Any, msg: Any) -> None:
        with self._lock:
            self.pending -= 1
            if err is not None:
                self.errors.append(err)


class KafkaWriter:
    """Writes `StreamRecord`s to one topic; `write()` returns only when every record is acknowledged."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        message_timeout_ms: int = DEFAULT_MESSAGE_TIMEOUT_MS,
        linger_ms: int = DEFAULT_LINGER_MS,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._timeout = message_timeout_ms / 1000 + _REPORT_GRACE_SECONDS
        self._config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "client.id": "clickstream-collector",
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": linger_ms,
            "message.timeout.ms": message_timeout_ms,
            **(config or {}),
        }
        self._producer: Any = None
        self._lock = threading.Lock()

    def write(self, records: Sequence[StreamRecord]) -> None:
        """Produce every record (key = partition key), flush, and raise StreamUnavailableError unless all are acked."""
        if not records:
            return
        producer = self._get_producer()
        deliveries = _Deliveries(len(records))
        deadline = time.monotonic() + self._timeout
        for record in records:
            self._produce(producer, record, deliveries, deadline)
        producer.flush(max(0.0, deadline - time.monotonic()))
        # flush() may return while another thread is still running our callbacks: wait for our own count.
        while deliveries.pending > 0 and time.monotonic() < deadline:
            producer.poll(_POLL_SECONDS)
        if deliveries.pending > 0:
            raise StreamUnavailableError(
                f"{deliveries.pending} of {len(records)} records not confirmed by Kafka ({self.bootstrap}, "
                f"topic {self.topic!r}) within {self._timeout:.1f}s",
                retry_after=self._timeout,
            )
        if deliveries.errors:
            if any(err.fatal() for err in deliveries.errors):
                self._discard(producer)  # an idempotent producer cannot recover from a fatal error
            first = deliveries.errors[0]
            raise StreamUnavailableError(
                f"{len(deliveries.errors)} of {len(records)} records not delivered to Kafka topic {self.topic!r}: "
                f"{first.name()}: {first.str()}",
                retry_after=1.0,
            )

    def close(self) -> None:
        """Deliver what is queued (bounded by the message timeout) and drop the producer."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.flush(self._timeout)

    def _get_producer(self) -> Any:
        with self._lock:
            if self._producer is None:
                from confluent_kafka import Producer

                self._producer = Producer(self._config, logger=log, error_cb=_log_error)
            return self._producer

    def _discard(self, producer: Any) -> None:
        with self._lock:
            if self._producer is producer:
                self._producer = None

    def _produce(self, producer: Any, record: StreamRecord, deliveries: _Deliveries, deadline: float) -> None:
        from confluent_kafka import KafkaException

        while True:
            try:
                producer.produce(self.topic, value=record.data, key=record.key, on_delivery=deliveries)
                return
            except BufferError as exc:  # the local queue is full: let deliveries drain it
                if time.monotonic() >= deadline:
                    raise StreamUnavailableError(
                        f"Kafka producer queue stayed full for {self._timeout:.1f}s", retry_after=self._timeout
                    ) from exc
                producer.poll(_POLL_SECONDS)
            except KafkaException as exc:
                raise StreamUnavailableError(f"Kafka refused a record for topic {self.topic!r}: {exc}") from exc


def _log_error(err: Any) -> None:
    # Broker-down and similar client-level errors: librdkafka keeps retrying; the per-message
    # timeout decides when a write fails, so these are only logged.
    log.warning("kafka client error: %s", err)
