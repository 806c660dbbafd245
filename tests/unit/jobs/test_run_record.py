"""recorded_run: one run record per job run, success or failure, and the job's own error re-raised."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import pytest

from clickstream.jobs.run_record import ERROR_MAX_CHARS, recorded_run
from clickstream.quality import DataQualityError
from clickstream.settings import Settings

JOB = "some_job"
SETTINGS: Any = object()  # the writer is a fake: settings only pass through


class Writes:
    """A fake `record_run`: keeps every call, or raises `error` on each."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[Any, str, dict[str, Any]]] = []
        self.error = error

    def __call__(self, settings: Settings, job: str, **record: Any) -> None:
        self.calls.append((settings, job, record))
        if self.error:
            raise self.error


def test_a_successful_run_records_its_fields_and_summary() -> None:
    writes = Writes()
    with recorded_run(SETTINGS, JOB, write=writes, interval="2026-11-22/2026-11-23", run_id="r1") as run:
        assert writes.calls == []  # nothing is written before the run ends
        run.summary = {"rows": 3, "run_id": "r1", "pass_rate": 0.5}

    assert writes.calls == [
        (
            SETTINGS,
            JOB,
            {"status": "success", "interval": "2026-11-22/2026-11-23", "run_id": "r1", "rows": 3, "pass_rate": 0.5},
        )
    ]


def test_a_failed_run_records_the_error_and_re_raises_it_unchanged() -> None:
    writes = Writes()
    error = ValueError("end 2026-11-22 is before start 2026-11-23")

    with pytest.raises(ValueError) as caught, recorded_run(SETTINGS, JOB, write=writes, interval="a/b") as run:
        run.summary = {"rows": 3}  # a summary set before the failure is not a success's numbers
        raise error

    assert caught.value is error
    assert writes.calls == [
        (
            SETTINGS,
            JOB,
            {"status": "failed", "interval": "a/b", "error": "ValueError: end 2026-11-22 is before start 2026-11-23"},
        )
    ]


def test_a_data_quality_failure_records_the_numbers_it_carries() -> None:
    writes = Writes()
    with pytest.raises(DataQualityError), recorded_run(SETTINGS, JOB, write=writes, run_id="r1"):
        raise DataQualityError("too many bad rows", summary={"quarantined": 3, "pass_rate": 0.7})

    (_, _, record) = writes.calls[0]
    assert record == {
        "status": "failed",
        "run_id": "r1",
        "quarantined": 3,
        "pass_rate": 0.7,
        "error": "DataQualityError: too many bad rows",
    }


def test_a_long_error_is_cut_so_the_record_stays_small() -> None:
    writes = Writes()
    with pytest.raises(RuntimeError), recorded_run(SETTINGS, JOB, write=writes):
        raise RuntimeError("x" * 10_000)

    error = writes.calls[0][2]["error"]
    assert len(error) == ERROR_MAX_CHARS and error.startswith("RuntimeError: xxx")


def test_a_failed_record_write_never_hides_the_jobs_own_error(caplog: pytest.LogCaptureFixture) -> None:
    writes = Writes(error=ConnectionError("DynamoDB is down"))
    with (
        caplog.at_level(logging.ERROR),
        pytest.raises(KeyError, match="missing"),
        recorded_run(SETTINGS, JOB, write=writes),
    ):
        raise KeyError("missing")

    assert len(writes.calls) == 1
    assert f"{JOB}: could not record the failed run" in caplog.text and "DynamoDB is down" in caplog.text


def test_a_successful_run_whose_record_cannot_be_written_fails_so_the_scheduler_retries() -> None:
    writes = Writes(error=ConnectionError("DynamoDB is down"))
    with pytest.raises(ConnectionError), recorded_run(SETTINGS, JOB, write=writes) as run:
        run.summary = {"rows": 1}

    assert [record["status"] for _, _, record in writes.calls] == ["success"]  # not also recorded as failed


def test_importing_the_helper_or_the_jobs_stays_free_of_boto3() -> None:
    # DAG files import the jobs at parse time; the adapter (boto3) is imported only when a run is recorded
    jobs = "clickstream.jobs.compact, clickstream.jobs.batch_metrics, clickstream.jobs.reconcile"
    code = f"import sys, clickstream.jobs.run_record, {jobs}; print('boto3' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
