"""`exclusive(settings, job, owner)`: one run of a job at a time, however it was started.

Airflow serialises a task within its own DAG (`max_active_tis_per_dag`), not across DAGs, nor
against a manual `clickstream airflow run`. Two compactions that merge into the same event-hour
partition would each publish a version without the other's rows, so the compaction takes the
job's lease in the batch table (`clickstream.adapters.dynamodb.locks`) for the whole run:
a second run waits for it (up to `wait_s`, then fails with the holder's run id, and Airflow
retries it), a holder renews it every `ttl_s / 3`, and a crashed holder's lease runs out after
`ttl_s`. A holder that lost its lease (a stall longer than `ttl_s`) fails at the end, so its
rerun publishes whatever a racing run's version left out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from clickstream.errors import RetryableError

if TYPE_CHECKING:
    from clickstream.settings import Settings

log = logging.getLogger(__name__)

LEASE_TTL_S: Final = 600.0  # a crashed holder blocks the job at most this long
WAIT_S: Final = 1800.0  # a second run waits this long for the holder to finish
POLL_S: Final = 2.0


class Lease(Protocol):
    owner: str

    def try_acquire(self) -> dict[str, Any] | None: ...
    def renew(self) -> bool: ...
    def release(self) -> None: ...


class JobBusyError(RetryableError):
    """Another run holds the job's lease: retry once it finished."""


class LeaseLostError(RetryableError):
    """The run's lease expired while it worked and another run may have published beside it."""


def lease_owner(run_id: str) -> str:
    """The lease's owner for a run in this process: its run id (what an operator recognises) and
    the process. Run ids repeat across DAGs (the hourly and the daily DAG both have a run
    `backfill__2026-12-01T00:00:00+00:00`), and a retried attempt may start while the attempt
    Airflow gave up on still runs; neither may pass for the holder."""
    return f"{run_id} (pid {os.getpid()} on {socket.gethostname()})"


@contextmanager
def exclusive(
    settings: Settings,
    job: str,
    owner: str,
    *,
    wait_s: float = WAIT_S,
    ttl_s: float = LEASE_TTL_S,
    poll_s: float = POLL_S,
    lease: Lease | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold `job`'s lease as `owner` (`lease_owner(run_id)`) for the block; see the module doc."""
    if lease is None:
        from clickstream.adapters.dynamodb.locks import JobLease

        lease = JobLease(settings, job, owner, ttl_s=ttl_s)
    deadline = time.monotonic() + wait_s
    waited = False
    while (holder := lease.try_acquire()) is not None:
        if time.monotonic() >= deadline:
            until = datetime.fromtimestamp(float(holder["expires_at"]), UTC).isoformat(timespec="seconds")
            raise JobBusyError(
                f"{job} is running as {holder['owner']} (its lease runs until {until} unless renewed); "
                f"waited {wait_s:.0f} s: retry once that run has finished"
            )
        if not waited:
            log.info("%s: waiting for run %s to finish (one run at a time)", job, holder["owner"])
            waited = True
        sleep(poll_s)
    stop, lost = threading.Event(), threading.Event()

    def keep_alive() -> None:
        while not stop.wait(ttl_s / 3):
            try:
                if not lease.renew():
                    lost.set()
                    return
            except Exception:  # a failed renewal is retried at the next beat; the lease outlives two
                log.warning("%s: renewing the lease of %s failed", job, owner, exc_info=True)

    beat = threading.Thread(target=keep_alive, name=f"lease-{job}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        if not lost.is_set():
            lease.release()
    if lost.is_set():
        raise LeaseLostError(f"{job} {owner}: its lease expired while it ran; rerun it to publish what may be missing")
