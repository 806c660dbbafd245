"""The bounded retry policy of a batch (Lambda's MaximumRetryAttempts, with backoff). Pure.

A batch is invoked once and retried up to `max_retries` times; a partial failure counts as a
failed attempt too (Lambda's rule). When the attempts are exhausted the batch goes to the
dead-letter queue and the shard moves on. Backoff is exponential with "equal jitter" (half
fixed, half random) so a failing shard never hammers a throttled table, yet the wait has a
floor the tests can rely on. `jitter` is passed in: no RNG here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3  # retries after the first invocation (Lambda allows 0..10,000)
    base_delay: float = 0.5  # seconds before the first retry (half of it at least)
    max_delay: float = 10.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if not 0 <= self.base_delay <= self.max_delay:
            raise ValueError(f"expected 0 <= base_delay <= max_delay, got {self.base_delay}, {self.max_delay}")

    def exhausted(self, failures: int) -> bool:
        """True once the first invocation and every retry have failed."""
        return failures > self.max_retries

    def delay(self, failures: int, *, jitter: float, retry_after: float | None = None) -> float:
        """Seconds to wait after `failures` failed attempts (>= 1); `jitter` in [0, 1).

        A handler's `RetryableError.retry_after` (e.g. DynamoDB throttling) raises the wait, up to
        `max_delay`.
        """
        cap = min(self.max_delay, self.base_delay * 2 ** max(failures - 1, 0))
        wait = cap / 2 + jitter * cap / 2
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait
