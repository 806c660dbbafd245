"""Process-level concerns of the stand-ins' entry points (the Firehose-like archiver, the stream
consumers): logging, stop signals, and starting again from the checkpoints after a transient error."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


def configure_logging(level: int | str = logging.INFO) -> None:
    """Log format for the archiver's entry points; client libraries only from WARNING up."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set `stop` on SIGTERM/SIGINT while inside the block (graceful stop: flush, checkpoint, exit 0)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are delivered to the main thread only; the caller stops us itself
        return

    def _handler(signum: int, frame: object) -> None:
        log.info("%s received: flushing and stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_until_stopped(
    run: Callable[[], T],
    stop: threading.Event,
    *,
    what: str,
    is_transient: Callable[[BaseException], bool],
    min_backoff: float = 1.0,
    max_backoff: float = 30.0,
    stable_after: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
) -> T | None:
    """`run()` again, after a doubling pause, whenever it fails with a transient error.

    `run` must build everything it uses from the checkpoints (a fresh reader, fresh buffers):
    what a failed run had read but not checkpointed is then read again, so a retry neither loses
    nor double-writes (the archiver's object keys and the speed layer's watermarks are keyed by
    stream position). Any other error is raised. Returns None when stopped while waiting.
    """
    failures = 0
    while True:
        started = clock()
        try:
            return run()
        except Exception as exc:
            if not is_transient(exc):
                raise
            failures = 1 if clock() - started >= stable_after else failures + 1
            wait = min(max_backoff, min_backoff * 2 ** (failures - 1))
            log.warning(
                "%s: %s: %s; starting again from the checkpoints in %.0f s (attempt %d)",
                what,
                type(exc).__name__,
                exc,
                wait,
                failures + 1,
            )
        if stop.wait(wait):
            return None
