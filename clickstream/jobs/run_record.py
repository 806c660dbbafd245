"""`recorded_run`: every batch job's run record, written the same way (`clickstream.adapters.dynamodb.runs`).

    with recorded_run(settings, JOB, interval="2026-11-22/2026-11-23") as run:
        report = _compute(...)
        run.summary = report.summary()

On success the record is `fields` + `run.summary` with status "success". On an exception it is
`fields` + the numbers a `DataQualityError` carries + `error`, with status "failed", and the
exception is re-raised unchanged for the scheduler. A failed run whose record cannot be written
still raises its own error (the bookkeeping error is only logged); a successful run whose record
cannot be written raises, so the scheduler retries the (idempotent) job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from clickstream.quality import DataQualityError

if TYPE_CHECKING:
    from clickstream.settings import Settings

log = logging.getLogger(__name__)

SUCCESS: Final = "success"
FAILED: Final = "failed"
# Enough to name the cause; an error that embeds a query or a key list stays far below
# DynamoDB's 400 KB item limit, so the failure record itself cannot fail on size.
ERROR_MAX_CHARS: Final = 1000

# record_run(settings, job, *, status, **fields): the adapter, or a fake in unit tests.
RecordWriter = Callable[..., Any]


@dataclass
class RunRecord:
    """The open run: `fields` go into every record, `summary` (set by the job) into the success one."""

    job: str
    fields: dict[str, Any]
    summary: Mapping[str, Any] = field(default_factory=dict)


def error_text(exc: BaseException) -> str:
    """`Type: message`, cut to ERROR_MAX_CHARS."""
    return f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]


def success_fields(run: RunRecord) -> dict[str, Any]:
    """A successful run's record (without status): the job's summary wins over `fields`."""
    return {**run.fields, **run.summary}


def failure_fields(run: RunRecord, exc: BaseException) -> dict[str, Any]:
    """A failed run's record (without status): `fields`, the numbers a DataQualityError carries, `error`."""
    carried = exc.summary if isinstance(exc, DataQualityError) else {}
    return {**run.fields, **carried, "error": error_text(exc)}


@contextmanager
def recorded_run(
    settings: Settings, job: str, *, write: RecordWriter | None = None, **fields: Any
) -> Iterator[RunRecord]:
    """Record the run of `job` in the batch table when the block ends (see the module docstring).

    `fields` (the interval, a run id) go into the record whatever the outcome; `write` defaults
    to `clickstream.adapters.dynamodb.runs.record_run`, imported here so importing a job stays boto3-free.
    """
    if write is None:
        from clickstream.adapters.dynamodb import record_run

        write = record_run
    run = RunRecord(job, dict(fields))
    try:
        yield run
    except Exception as exc:
        try:
            write(settings, job, status=FAILED, **failure_fields(run, exc))
        except Exception:  # never hide the job's own error behind a bookkeeping one
            log.exception("%s: could not record the failed run", job)
        raise
    write(settings, job, status=SUCCESS, **success_fields(run))
