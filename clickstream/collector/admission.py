"""Back-pressure at the collector's door: a bounded number of stream writes at once.

When the stream (or the server behind it) is slower than the traffic, requests would otherwise
queue behind each other until clients time out, with no way to tell "try later" from "lost".
Here a request that cannot start its write within `wait_seconds` is answered 503 with
Retry-After at once, before anything of it was written; a request that got a slot is answered
within the writer's own deadline (`STREAM_WRITE_DEADLINE_SECONDS`), 2xx only once it is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from clickstream.errors import RetryableError


class WritesBackedUpError(RetryableError):
    """Every write slot stayed busy for the whole wait: the stream is not keeping up."""


class WriteGate:
    def __init__(self, slots: int, *, wait_seconds: float, retry_after: float = 1.0) -> None:
        if slots < 1 or wait_seconds < 0:
            raise ValueError(f"expected slots >= 1 and wait_seconds >= 0, got {slots}, {wait_seconds}")
        self.slots, self.wait_seconds, self.retry_after = slots, wait_seconds, retry_after
        self._free = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one write slot for the block; WritesBackedUpError if none frees up in time."""
        if not self._free.acquire(timeout=self.wait_seconds):
            raise WritesBackedUpError(
                f"all {self.slots} stream writes busy for {self.wait_seconds:g}s: the stream is not keeping up",
                retry_after=self.retry_after,
            )
        try:
            yield
        finally:
            self._free.release()
