"""Drive a simulation: generate, batch, pace (optional), send to a sink, summarise.

`run_simulation` is what `clickstream simulate` and the demo call. The clock and sleep are
injectable so pacing is testable without waiting.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

from clickstream.simulate.generator import SimConfig, generate
from clickstream.simulate.sinks import Event, Sink

DEFAULT_BATCH_SIZE = 500  # the collector's per-request limit
BATCHES_PER_SECOND = 5  # when paced, send small batches often so the rate is smooth


@dataclass
class SimSummary:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0  # of the sent events, how many were injected duplicates
    late: int = 0  # ... and how many were held back and sent late
    errors: int = 0  # ... and how many carry an HTTP error status (>= 400)
    sessions: int = 0
    users: int = 0
    seed: int = 0
    elapsed_s: float = 0.0
    stopped_by: str = "events"  # "events" or "duration"

    @property
    def rate(self) -> float:
        """Events sent per second of wall time."""
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the reasons as a dict, the rate rounded)."""
        out = asdict(self)
        out["rejected_by_reason"] = dict(self.rejected_by_reason)
        out["elapsed_s"] = round(self.elapsed_s, 3)
        out["rate"] = round(self.rate, 1)
        return out


class TokenBucket:
    """`rate` tokens per second, at most `capacity` banked: `wait(n)` says how long until n are there."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(capacity, 1.0)
        self.tokens = self.capacity  # start full: the first batch goes at once
        self.stamp = now

    def wait(self, n: int, now: float) -> float:
        """Seconds to wait before taking `n` tokens (0 when they are there); takes them."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= n
        return max(0.0, -self.tokens / self.rate)


def run_simulation(
    config: SimConfig,
    sink: Sink,
    *,
    rate: float | None = None,
    duration: float | None = None,
    progress: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> SimSummary:
    """Send `config.events` events to `sink` (closed at the end), stopping early after `duration` s.

    With `rate` (events/s) sending is paced by a token bucket; otherwise it goes as fast as the
    sink takes batches. For timestamps that track the send time, build `config` with
    `start=now`, `span=events/rate` and `diurnal=False` (as the CLI does).
    """
    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive")
    if rate is not None:
        batch_size = max(1, min(batch_size, int(rate / BATCHES_PER_SECOND)))
    stream = generate(config)
    summary = SimSummary(seed=config.seed)
    started = clock()
    deadline = started + duration if duration is not None else None
    bucket = TokenBucket(rate, batch_size, started) if rate is not None else None
    bar = _progress_bar(config.events) if progress else None
    try:
        while summary.sent < config.events:
            n = min(batch_size, config.events - summary.sent)
            pause = bucket.wait(n, clock()) if bucket is not None else 0.0
            if deadline is not None and clock() + pause >= deadline:
                summary.stopped_by = "duration"
                break
            if pause > 0:
                sleep(pause)
            batch: list[Event] = list(islice(stream, n))  # pulled only when it will be sent
            result = sink.send(batch)
            summary.sent += len(batch)
            summary.accepted += result.accepted
            summary.rejected += result.rejected
            summary.rejected_by_reason.update(result.rejected_by_reason)
            if bar is not None:
                bar.advance(len(batch), summary)
    finally:
        if bar is not None:
            bar.stop()
        sink.close()
    stats = stream.stats
    summary.duplicates, summary.late, summary.errors = stats.duplicates, stats.late, stats.errors
    summary.sessions, summary.users = stats.sessions, stats.users_seen
    summary.elapsed_s = clock() - started
    return summary


class _ProgressBar:
    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("simulate"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("accepted {task.fields[accepted]} · rejected {task.fields[rejected]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task("simulate", total=total, accepted=0, rejected=0)
        self._progress.start()

    def advance(self, n: int, summary: SimSummary) -> None:
        self._progress.update(self._task, advance=n, accepted=summary.accepted, rejected=summary.rejected)

    def stop(self) -> None:
        self._progress.stop()


def _progress_bar(total: int) -> _ProgressBar:
    return _ProgressBar(total)
