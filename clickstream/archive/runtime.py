"""Process-level concerns of the raw archiver's entry points: logging and stop signals."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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
