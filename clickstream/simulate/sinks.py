"""Where simulated events go: the HTTP collector, the stream (Kinesis/Kafka) directly, or a file.

Every sink has `send(batch) -> SendResult` and `close()`. This module does I/O (it is the edge of
the simulator); heavy imports (httpx, the validator, the stream adapters) happen on first use.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from clickstream import constants as c
from clickstream.errors import ClickstreamError
from clickstream.settings import Settings

Event = dict[str, Any]
COLLECTOR_ROUTE = "/v1/events"
MAX_503_RETRIES = 5  # then the collector is considered down
MAX_RETRY_AFTER_S = 30.0  # never wait longer than this on one Retry-After
CONNECT_RETRIES = 3


@dataclass
class SendResult:
    accepted: int = 0
    rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    event_ids: list[str] = field(default_factory=list)  # of the accepted events, when the sink knows them

    def add(self, other: SendResult) -> None:
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.rejected_by_reason.update(other.rejected_by_reason)
        self.event_ids.extend(other.event_ids)


class Sink(Protocol):
    def send(self, batch: list[Event]) -> SendResult: ...

    def close(self) -> None: ...


class SinkError(ClickstreamError):
    """A sink could not deliver a batch (the message says why and what to check)."""


# --- collector -----------------------------------------------------------------------------
class CollectorSink:
    """POSTs batches to `<url>/v1/events` with the write key; honours 503 + Retry-After."""

    def __init__(
        self,
        url: str,
        write_key: str,
        *,
        client: Any = None,  # an httpx.Client; one keep-alive client is made when None
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = url.rstrip("/") + COLLECTOR_ROUTE
        self._headers = {"content-type": "application/json", "x-write-key": write_key}
        if client is None:
            import httpx

            client = httpx.Client(timeout=timeout)
        self._client = client
        self._sleep = sleep

    def send(self, batch: list[Event]) -> SendResult:
        """Send `batch` in requests of at most 500 events and 500 KB; the collector's verdict, summed."""
        result = SendResult()
        for body, count in request_bodies(batch):
            result.add(self._post(body, count))
        return result

    def close(self) -> None:
        self._client.close()

    def _post(self, body: bytes, count: int) -> SendResult:
        import httpx

        for attempt in range(1, MAX_503_RETRIES + 1):
            try:
                response = self._client.post(self.endpoint, content=body, headers=self._headers)
            except httpx.TransportError as exc:
                if attempt >= CONNECT_RETRIES:
                    raise SinkError(
                        f"cannot reach the collector at {self.endpoint}: {exc} (is it running? `clickstream local up`)"
                    ) from exc
                self._sleep(0.5 * attempt)
                continue
            if response.status_code == 503 and attempt < MAX_503_RETRIES:
                self._sleep(_retry_after(response.headers.get("retry-after"), attempt))
                continue
            return _collector_result(response, count)
        raise AssertionError("unreachable")  # the loop always returns or raises


def request_bodies(batch: Sequence[Event]) -> list[tuple[bytes, int]]:
    """JSON-array bodies of at most MAX_BATCH_EVENTS events and MAX_REQUEST_BYTES bytes each."""
    bodies: list[tuple[bytes, int]] = []
    parts: list[bytes] = []
    size = 2  # the brackets
    for event in batch:
        data = orjson.dumps(event)
        if parts and (len(parts) >= c.MAX_BATCH_EVENTS or size + len(data) + 1 > c.MAX_REQUEST_BYTES):
            bodies.append((b"[" + b",".join(parts) + b"]", len(parts)))
            parts, size = [], 2
        parts.append(data)
        size += len(data) + 1
    if parts:
        bodies.append((b"[" + b",".join(parts) + b"]", len(parts)))
    return bodies


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        seconds = float(header) if header else float(attempt)
    except ValueError:  # an HTTP date: not worth parsing for a local tool, back off instead
        seconds = float(attempt)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _collector_result(response: Any, count: int) -> SendResult:
    try:
        body = response.json()
    except ValueError:
        body = None
    is_verdict = isinstance(body, dict) and "accepted" in body and "rejected" in body
    if response.status_code in (200, 400) and is_verdict:  # 400 + verdict: every event was invalid
        reasons: Counter[str] = Counter()
        first: dict[int, str] = {}
        for err in body.get("errors") or ():
            first.setdefault(err.get("index", -1), str(err.get("reason", "unknown")))
        reasons.update(first.values())
        rejected = int(body["rejected"])
        if sum(reasons.values()) < rejected:
            reasons["unknown"] += rejected - sum(reasons.values())
        ids = [str(i) for i in body.get("event_ids") or ()]
        return SendResult(int(body["accepted"]), rejected, reasons, ids)
    if isinstance(body, dict) and "message" in body:
        detail = f"{body.get('error', 'error')}: {body['message']}"
    else:
        detail = response.text[:300]
    raise SinkError(f"the collector answered {response.status_code} to a batch of {count} events ({detail})")


# --- stream (Kinesis / Kafka) -----------------------------------------------------------------
class StreamSink:
    """Validates each event like the collector would, then writes the valid ones to the stream.

    The producer path without the HTTP hop: the same contract (`validate_event`), the same
    encoding, partition key = user_id. Invalid events are counted by reason and, like the
    collector does, kept in the bad-rows store (`raw/bad/`, source "producer") once the valid
    ones are durable on the stream.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        writer: Any = None,  # a StreamWriter; `stream_writer(settings)` when None
        validate: Callable[..., Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        bad_rows: Any = None,  # a BadRowsStore; the lake bucket's when None
    ) -> None:
        if bad_rows is None:
            from clickstream.adapters.s3 import BadRowsStore, lake_bucket

            bad_rows = BadRowsStore(lake_bucket(settings))
        if writer is None:
            from clickstream.adapters.streams import stream_writer

            writer = stream_writer(settings)
        if validate is None:
            from clickstream.events.validate import validate_event

            validate = validate_event
        self._writer = writer
        self._bad_rows = bad_rows
        self._validate: Callable[..., Any] = validate
        self._limits = settings.limits
        self._clock = clock

    def send(self, batch: list[Event]) -> SendResult:
        """Validate, then write every valid event in one `write()` (durable when it returns)."""
        from clickstream.adapters.streams import StreamRecord
        from clickstream.events.badrow import bad_row
        from clickstream.events.codec import encode_event

        received_at = self._clock()
        records = []
        bad: list[dict[str, Any]] = []
        accepted_ids: list[str] = []
        reasons: Counter[str] = Counter()
        for raw in batch:
            result = self._validate(raw, received_at=received_at, limits=self._limits)
            if result.ok:
                event = result.event
                records.append(StreamRecord(key=event["user_id"], data=encode_event(event)))
                accepted_ids.append(event["event_id"])
            else:
                reasons[result.errors[0].reason if result.errors else "unknown"] += 1
                bad.append(bad_row(raw, result.errors, received_at=received_at, source="producer"))
        if records:
            self._writer.write(records)
        if bad:
            self._bad_rows.put(bad, received_at=received_at, source="producer")
        return SendResult(len(records), len(batch) - len(records), reasons, accepted_ids)

    def close(self) -> None:
        self._writer.close()


# --- file ----------------------------------------------------------------------------------
class FileSink:
    """NDJSON, one raw event per line, to `path` (or stdout for "-")."""

    def __init__(self, path: str | Path) -> None:
        self._own = str(path) != "-"
        self._out: IO[bytes] = open(path, "wb") if self._own else sys.stdout.buffer  # noqa: SIM115 (closed in close())

    def send(self, batch: list[Event]) -> SendResult:
        """Write every event; a file takes everything."""
        self._out.write(b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in batch))
        return SendResult(accepted=len(batch))

    def close(self) -> None:
        if self._own:
            self._out.close()
        else:
            self._out.flush()


SINKS = ("collector", "kinesis", "kafka", "file")
