"""What the DAGs take from Airflow, spelled for both releases they run on: 3.3 (self-managed, the
dev venv and the local stack) and 3.0.6 (MWAA's, docs/adr/0007-mwaa-airflow-version.md). Each
name is imported when asked for, so importing this module needs no Airflow.

Measured differences (3.0.6 in a venv of infra/cdk/airflow/constraints.txt, 3.3.2 in the dev venv):

- `CronDataIntervalTimetable` is in `airflow.sdk` from 3.1 on; 3.0.6 has it only in
  `airflow.timetables.interval` (in 3.3 that is a different, core class: the sdk's is the one
  DAG files should use).
- `retry_exponential_backoff` is a bool in 3.0.6 (True: delays double) and a multiplier in 3.3
  (2.0 doubles; True would be 1.0, a constant delay). The task exceptions live in
  `airflow.sdk.exceptions` in 3.3 (`airflow.exceptions` warns that it is deprecated there) and
  only in `airflow.exceptions` in 3.0.6.
"""

from __future__ import annotations

from typing import Any


def airflow_version() -> tuple[int, int]:
    import airflow

    major, minor = airflow.__version__.split(".")[:2]
    return int(major), int(minor)


def cron_data_interval_timetable() -> Any:
    try:
        from airflow.sdk import CronDataIntervalTimetable

        return CronDataIntervalTimetable
    except ImportError:  # Airflow 3.0
        from airflow.timetables import interval

        return interval.CronDataIntervalTimetable


def doubling_retry_backoff() -> bool | float:
    """The `retry_exponential_backoff` that doubles the delay after each try, in this Airflow."""
    return 2.0 if airflow_version() >= (3, 1) else True


def task_exceptions() -> Any:
    """The module holding AirflowFailException and AirflowSkipException."""
    try:
        from airflow.sdk import exceptions
    except ImportError:  # Airflow 3.0
        from airflow import exceptions  # type: ignore[no-redef]
    return exceptions
