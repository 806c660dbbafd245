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
from typing import Final

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


class WarmLocalExecutor(LocalExecutor):
    """LocalExecutor whose workers, and so every task they fork, start with WARM_MODULES imported."""

    def start(self) -> None:
        if tasks_inherit_imports():
            took = warm_imports()
            log.info("imported %d modules for the tasks in %.1f s", len(took), sum(took.values()))
        super().start()


def tasks_inherit_imports() -> bool:
    """Whether a task starts with the scheduler's modules: workers forked, tasks forked without exec (Linux)."""
    return sys.platform.startswith("linux") and multiprocessing.get_start_method() == "fork"
