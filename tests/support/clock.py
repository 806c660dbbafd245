"""A clock tests move by hand, for code that takes a `clock` (and a `sleep`) to stay testable."""

from __future__ import annotations


class ManualClock:
    """Call it for the time; `sleep` moves it forward by at least `min_sleep` (so a loop that
    sleeps 0 s still advances), and tests may also set `now` directly."""

    def __init__(self, start: float = 100.0, *, min_sleep: float = 0.0) -> None:
        self.now = start
        self.min_sleep = min_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, self.min_sleep)
