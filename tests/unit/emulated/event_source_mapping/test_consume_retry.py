"""The bounded retry policy: attempts and backoff."""

from __future__ import annotations

import pytest

from clickstream.emulated.event_source_mapping.retry import RetryPolicy


def test_first_invocation_plus_max_retries_then_exhausted() -> None:
    policy = RetryPolicy(max_retries=2)
    assert [policy.exhausted(n) for n in range(4)] == [False, False, False, True]
    assert RetryPolicy(max_retries=0).exhausted(1)


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
def test_backoff_doubles_with_equal_jitter_and_is_capped(jitter: float) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    delays = [policy.delay(n, jitter=jitter) for n in range(1, 6)]
    caps = [1.0, 2.0, 4.0, 5.0, 5.0]
    for delay, cap in zip(delays, caps, strict=True):
        assert cap / 2 <= delay <= cap


def test_retry_after_raises_the_wait_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=3.0)
    assert policy.delay(1, jitter=0.0, retry_after=2.0) == 2.0
    assert policy.delay(1, jitter=0.0, retry_after=60.0) == 3.0


@pytest.mark.parametrize("kwargs", [{"max_retries": -1}, {"base_delay": 5, "max_delay": 1}, {"base_delay": -1}])
def test_invalid_policies(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
