"""Long-running services start over from their checkpoints after a transient failure, and stop on
any other: `run_until_stopped` and `is_transient`."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from clickstream.adapters.aws_errors import is_transient
from clickstream.emulated.runtime import run_until_stopped
from clickstream.errors import ConfigError, RetryableError


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutRecords")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:4566"), True),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:4566"), True),
        (client_error("ProvisionedThroughputExceededException"), True),
        (client_error("ThrottlingException"), True),
        (client_error("Whatever", 503), True),
        (RetryableError("throttled"), True),
        (client_error("ResourceNotFoundException"), False),
        (client_error("ValidationException"), False),
        (ConfigError("no table"), False),
        (ValueError("a bug"), False),
    ],
)
def test_what_counts_as_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_transient_failures_start_over_with_doubling_waits() -> None:
    # GIVEN a run that times out twice, then finishes
    attempts, waits = [], []
    stop = threading.Event()
    stop.wait = lambda timeout=None: waits.append(timeout) or False  # type: ignore[method-assign]

    def run() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ReadTimeoutError(endpoint_url="http://aws")
        return "done"

    # THEN it is started three times, waiting 1 s then 2 s, and its result comes back
    assert run_until_stopped(run, stop, what="t", is_transient=is_transient, clock=lambda: 0.0) == "done"
    assert (len(attempts), waits) == (3, [1.0, 2.0])


def test_a_run_that_was_stable_before_failing_waits_the_shortest_time_again() -> None:
    times, waits = iter([0.0, 100.0, 100.0, 300.0, 300.0, 300.0]), []
    stop = threading.Event()
    stop.wait = lambda timeout=None: waits.append(timeout) or False  # type: ignore[method-assign]
    failures = iter([True, True, False])

    def run() -> int:
        if next(failures):
            raise RetryableError("throttled")
        return 1

    run_until_stopped(run, stop, what="t", is_transient=is_transient, clock=lambda: next(times))
    assert waits == [1.0, 1.0]


def test_other_errors_are_raised_and_a_stop_ends_the_wait() -> None:
    stop = threading.Event()
    with pytest.raises(ValueError):
        run_until_stopped(lambda: (_ for _ in ()).throw(ValueError("bug")), stop, what="t", is_transient=is_transient)
    stop.set()
    calls = []

    def fails() -> None:
        calls.append(1)
        raise RetryableError("down")

    assert run_until_stopped(fails, stop, what="t", is_transient=is_transient) is None
    assert calls == [1]
