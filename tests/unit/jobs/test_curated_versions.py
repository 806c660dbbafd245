"""The names and dates behind curated versions (ADR 0008); the I/O is in test_compact_job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clickstream.catalog import EVENTS
from clickstream.jobs import curated_versions as cv

T = datetime(2026, 11, 22, 8, 5, 1, 123456, tzinfo=UTC)


def test_version_names_sort_by_publish_time_and_differ_for_a_rerun_of_the_same_run() -> None:
    first, rerun = cv.version_name(T, "run-1"), cv.version_name(T + timedelta(microseconds=1), "run-1")
    assert first == "20261122T080501123456Z-run-1"
    assert first < rerun < cv.version_name(T + timedelta(seconds=1), "a")


def test_a_retirement_names_its_due_time_partition_and_version_and_round_trips() -> None:
    prefix = EVENTS.version_prefix({"dt": "2026-11-22", "hour": "07"}, "20261122T080501123456Z-run-1")
    retired = cv.Retired(("2026-11-22", "07"), prefix, T + cv.RETIRE_AFTER)
    assert retired.key() == (
        "manifests/compact_raw_events/retired/20261122T130501123456Z/2026-11-22/07/20261122T080501123456Z-run-1.json"
    )
    assert cv.Retired.parse(retired.body()) == retired
    legacy = cv.Retired(("2026-11-22", "07"), EVENTS.partition_prefix({"dt": "2026-11-22", "hour": "07"}), T, True)
    assert legacy.key().endswith("/2026-11-22/07/legacy.json")


def test_key_prefix_only_for_the_lake_bucket() -> None:
    assert cv.key_prefix("s3://lake/curated/events/v=x/dt=d/hour=h", "lake") == "curated/events/v=x/dt=d/hour=h/"
    assert cv.key_prefix("s3://other/curated/events/v=x/", "lake") is None
    assert cv.key_prefix("file:///tmp/x/", "lake") is None


def test_retire_after_outlasts_the_longest_athena_query() -> None:
    assert cv.RETIRE_AFTER > cv.ATHENA_MAX_DML_TIMEOUT == timedelta(minutes=240)
