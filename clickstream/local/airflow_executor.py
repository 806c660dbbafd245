"""The local Airflow's executor: Airflow's LocalExecutor, with the batch jobs' libraries imported
before its worker processes start.

Airflow 3 on Linux runs a task in a process forked, without exec, from a LocalExecutor worker,
which is itself forked from the scheduler when the executor starts. A task therefore inherits
every module the scheduler had imported. By itself the scheduler imports none of what our tasks
need, so every task imported it again. `compact_raw_events` spent about 10 s of its 8 to 14 s
per run importing Great Expectations and building its context on a busy 2-core laptop (its task
log, docs/BENCHMARKS.md "Test suite wall time"); the import alone took 6.2 s in one measurement
with other work running.
Importing those libraries once, in the scheduler, before the workers are forked, takes that off
every task.

Measured (docs/BENCHMARKS.md "Test suite wall time"): a compaction task 6.5-8.0 s before, 2.1-2.8
s after; the scheduler starts about 7 s later. Where Airflow does not fork tasks that way (macOS
spawns its workers and execs its tasks), importing here would only slow the start, so it is
skipped.

The executor also shortens the scheduler's fixed 30 s timer that marks finished backfills
complete (`faster_backfill_completion`): the executor starts in the scheduler process just before
its loop sets up that timer.

Only the laptop's Airflow uses this (`clickstream.local.airflow.airflow_env`). MWAA runs its
own executor and is not affected. If an import fails, the executor still starts, and the task
imports the module itself (and fails there, with the task's own log).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import sys
import time
from typing import Any, Final

from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)

# What the DAGs' tasks import (clickstream.jobs.* and the libraries they load lazily).
WARM_MODULES: Final[tuple[str, ...]] = (
    "great_expectations",
    "pyarrow.parquet",
    "duckdb",
    "sqlglot",
    "clickstream.jobs.compact",
    "clickstream.jobs.compact_quality",
    "clickstream.quality.runner",
    "clickstream.jobs.batch_metrics",
    "clickstream.jobs.reconcile",
    "clickstream.adapters.query.local",
)


def warm_imports(modules: tuple[str, ...] = WARM_MODULES) -> dict[str, float]:
    """Import `modules` now; returns the seconds each took (a module that fails is logged and skipped)."""
    took: dict[str, float] = {}
    for name in modules:
        began = time.perf_counter()
        try:
            importlib.import_module(name)
        except Exception as exc:  # the task will import it and report the failure in its own log
            log.warning("warm import of %s failed (%s): tasks will import it themselves", name, exc)
            continue
        took[name] = time.perf_counter() - began
    return took


# Airflow 3.3's scheduler marks a finished backfill complete on a fixed 30 s timer (no setting:
# `timers.call_regular_interval(30, self._mark_backfills_complete)` in `_run_scheduler_loop`).
# Until then the UI shows it running and a new backfill of the same DAG is refused with a 409.
# On the laptop the check is a cheap query: every few seconds is fine.
BACKFILL_CHECK_S: Final = 3.0


def faster_backfill_completion(interval: float = BACKFILL_CHECK_S) -> bool:
    """Make this process's scheduler check for finished backfills every `interval` seconds.
    True when patched (or already); False when Airflow no longer has the hook (a warning)."""
    try:
        from airflow.utils.event_scheduler import EventScheduler
    except ImportError:
        return False
    original = EventScheduler.call_regular_interval
    if getattr(original, "_clickstream_backfill_check", False):
        return True

    def call_regular_interval(self: Any, delay: float, action: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(action, "__name__", "") == "_mark_backfills_complete":
            delay = min(delay, interval)
        return original(self, delay, action, *args, **kwargs)

    call_regular_interval._clickstream_backfill_check = True  # type: ignore[attr-defined]
    EventScheduler.call_regular_interval = call_regular_interval  # type: ignore[method-assign]
    return True


class WarmLocalExecutor(LocalExecutor):
    """LocalExecutor whose workers, and so every task they fork, start with WARM_MODULES imported,
    and whose scheduler marks finished backfills complete within BACKFILL_CHECK_S."""

    def start(self) -> None:
        if tasks_inherit_imports():
            took = warm_imports()
            log.info("imported %d modules for the tasks in %.1f s", len(took), sum(took.values()))
        if not faster_backfill_completion():
            log.warning("Airflow has no EventScheduler.call_regular_interval: backfills complete on its 30 s timer")
        super().start()


def tasks_inherit_imports() -> bool:
    """Whether a task starts with the scheduler's modules: workers forked, tasks forked without exec (Linux)."""
    return sys.platform.startswith("linux") and multiprocessing.get_start_method() == "fork"
