"""Partial batch responses read the way Lambda reads them."""

from __future__ import annotations

from typing import Any

import pytest

from clickstream.emulated.event_source_mapping.responses import kafka_verdict, kinesis_verdict

POSITIONS = [101, 105, 110, 120]


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}, {"other": 1}])
def test_complete_success(response: Any) -> None:
    assert not kinesis_verdict(response, POSITIONS).failed


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemIdentifer": "105"}]},  # a bad key name
        {"batchItemFailures": [{"itemIdentifier": "999"}]},  # not in the batch
        {"batchItemFailures": [{"itemIdentifier": "abc"}]},
        {"batchItemFailures": "105"},
        "ok",
        ["105"],
    ],
)
def test_complete_failure(response: Any) -> None:
    verdict = kinesis_verdict(response, POSITIONS)
    assert verdict.failed and verdict.first_failed is None and verdict.reason


def test_partial_failure_retries_from_the_lowest_failed_record() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "120"}, {"itemIdentifier": "105"}]}

    verdict = kinesis_verdict(response, POSITIONS)

    assert verdict.failed and verdict.first_failed == 105
    assert "2 of 4" in verdict.reason


def test_kafka_partition_qualified_and_bare_offsets() -> None:
    offsets = {"clicks-0": [4, 5, 6], "clicks-1": [5, 6], "clicks-2": [1]}

    named = kafka_verdict({"batchItemFailures": [{"itemIdentifier": "clicks-1:6"}]}, offsets)
    bare = kafka_verdict({"batchItemFailures": [{"itemIdentifier": "6"}, {"itemIdentifier": "5"}]}, offsets)

    assert named.first_failed == {"clicks-1": 6} and named.whole is None
    # a bare offset is ambiguous: every partition holding it retries from there (safe, never skips)
    assert bare.first_failed == {"clicks-0": 5, "clicks-1": 5}
    assert not kafka_verdict({"batchItemFailures": []}, offsets).failed


@pytest.mark.parametrize("ident", ["clicks-9:1", "77", "clicks-0:x", ""])
def test_kafka_unknown_identifiers_fail_the_whole_batch(ident: str) -> None:
    verdict = kafka_verdict({"batchItemFailures": [{"itemIdentifier": ident}]}, {"clicks-0": [1, 2]})
    assert verdict.failed and verdict.whole is not None and not verdict.first_failed
