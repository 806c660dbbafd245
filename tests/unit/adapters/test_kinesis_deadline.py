"""The Kinesis writer answers within its deadline: no PutRecords starts that could outlast it."""

from __future__ import annotations

from typing import Any

import pytest

from clickstream.adapters.streams.kinesis import KinesisWriter
from clickstream.adapters.streams.records import StreamRecord
from clickstream.deadline import RESPONSE_MARGIN_SECONDS, deadline_in
from clickstream.errors import StreamUnavailableError

CALL_BOUND = 4.0  # the deadline client's connect + read timeouts (2 x STREAM_CALL_TIMEOUT_SECONDS)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Throttled:
    """A stream that takes `latency` per call and throttles every record."""

    def __init__(self, clock: Clock, latency: float) -> None:
        self.clock, self.latency = clock, latency
        self.calls: list[float] = []  # when each call started

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(self.clock.now)
        self.clock.now += self.latency
        failed = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
        return {"FailedRecordCount": len(Records), "Records": [failed] * len(Records)}


def writer(client: Throttled, clock: Clock) -> KinesisWriter:
    return KinesisWriter("s", client=client, deadline_seconds=5.0, call_timeout_seconds=CALL_BOUND,
                         sleep=clock.sleep, monotonic=clock, jitter=lambda: 1.0)  # fmt: skip


RECORDS = [StreamRecord(key="u1", data=b'{"id":"1"}')]


@pytest.mark.parametrize("latency", [0.01, 0.5, 3.9])
def test_every_call_could_end_by_the_deadline_and_the_error_comes_by_then(latency: float) -> None:
    clock = Clock()
    stream = Throttled(clock, latency)
    start = clock.now
    with pytest.raises(StreamUnavailableError, match="not accepted"):
        writer(stream, clock).write(RECORDS)
    assert stream.calls and all(t - start + CALL_BOUND <= 5.0 for t in stream.calls)
    assert clock.now - start <= 5.0
    if latency < 0.1:
        assert len(stream.calls) > 2  # fast throttling still gets its retries


def test_a_request_deadline_shortens_the_write_and_too_little_time_writes_nothing() -> None:
    clock = Clock()
    stream = Throttled(clock, 0.01)
    with deadline_in(RESPONSE_MARGIN_SECONDS + CALL_BOUND + 0.5, clock=clock):
        start = clock.now
        with pytest.raises(StreamUnavailableError, match="not accepted"):
            writer(stream, clock).write(RECORDS)
        # 0.5 s + one call left: retries start in the first 0.5 s only
        assert stream.calls and all(t - start <= 0.5 for t in stream.calls)
    stream.calls.clear()
    # a Lambda with 4 s left: less than one call may take
    with (
        deadline_in(RESPONSE_MARGIN_SECONDS + 1.0, clock=clock),
        pytest.raises(StreamUnavailableError, match="nothing was written") as info,
    ):
        writer(stream, clock).write(RECORDS)
    assert stream.calls == [] and info.value.retry_after == 1.0
