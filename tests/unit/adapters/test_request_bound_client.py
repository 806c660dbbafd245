"""`_clients.RequestBoundClient`: inside a request's deadline no AWS call can outlast the invocation."""

from __future__ import annotations

import pytest
from support.clock import ManualClock

from clickstream.adapters import _clients
from clickstream.deadline import CALL_MARGIN_SECONDS, deadline_in
from clickstream.errors import RequestDeadlineError, RetryableError
from clickstream.settings import Settings

SETTINGS = Settings(stage="local", region="us-east-1", endpoint_url="http://127.0.0.1:1")


def _timeouts(client: object) -> tuple[float, float, int]:
    """(connect timeout, read timeout, retries) of a botocore client."""
    config = client._client_config  # type: ignore[attr-defined]
    return config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"] - 1  # retries


def test_outside_a_deadline_calls_go_to_the_plain_client() -> None:
    plain = _clients.client("kinesis", SETTINGS)
    assert plain.current() is _clients.client("kinesis", SETTINGS).current()  # the one cached client
    assert _timeouts(plain.current()) == (5, 30, 5)  # botocore's own retries, 30 s each
    assert plain.meta.service_model.service_name == "kinesis"  # attributes pass through


def test_inside_a_deadline_each_call_ends_the_call_margin_before_it() -> None:
    clock = ManualClock()
    bound = _clients.RequestBoundClient(
        "kinesis", SETTINGS, default=_clients.client("kinesis", SETTINGS).current(), clock=clock
    )
    with deadline_in(10.0, clock=clock):  # the collector Lambda's timeout
        connect, read, retries = _timeouts(bound.current())
        assert retries == 0 and connect == read == 4.5  # (10 - 1) / 2: connect + read end by 9 s
        assert connect + read <= 10.0 - CALL_MARGIN_SECONDS
        clock.now += 4.2
        assert _timeouts(bound.current())[:2] == (2.0, 2.0)  # 5.8 s left: (5.8 - 1) / 2 = 2.4, in 0.5 s steps
        clock.now += 3.9  # 1.9 s left: not even 0.5 s each fits before the margin
        with pytest.raises(RequestDeadlineError, match=r"kinesis: 1\.9 s left") as refused:
            bound.put_records  # noqa: B018 - the attribute a call would use
        assert isinstance(refused.value, RetryableError)  # the handler answers 503 + Retry-After
    with deadline_in(29.0, clock=clock):  # the query API's invocation: 28 s fit two 10 s attempts
        assert _timeouts(bound.current()) == (5.0, 5.0, 1)
    with deadline_in(60.0, clock=clock):
        assert _timeouts(bound.current()) == (5.0, 5.0, 3)  # 4 x 10 s + 1 + 2 + 4 s of backoff <= 59 s


def test_attempts_fit_their_timeouts_and_backoff_in_the_time_left() -> None:
    assert _clients.attempts_within(7.0, 3.5) == 1  # never fewer than one
    assert _clients.attempts_within(21.0, 5.0) == 2  # 2 x 10 s + 1 s
    assert _clients.attempts_within(20.9, 5.0) == 1
    assert _clients.attempts_within(1_000.0, 5.0) == _clients.DEFAULT_ATTEMPTS
    assert _clients.attempts_within(1_000.0, 5.0, most=1) == 1


def test_a_deadline_client_keeps_its_own_shorter_cap() -> None:
    writer_client = _clients.deadline_client("kinesis", SETTINGS, seconds=2.0)
    assert _timeouts(writer_client.current()) == (2.0, 2.0, 0)
    with deadline_in(10.0):
        assert _timeouts(writer_client.current()) == (2.0, 2.0, 0)  # the writer retries by itself
