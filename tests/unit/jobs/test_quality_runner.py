"""GX attributes each failing row to the expectations it failed (real GX, a small frame)."""

from __future__ import annotations

import pyarrow as pa

from clickstream.jobs.compact_parse import parse_objects
from clickstream.quality.runner import validate_frame
from clickstream.quality.suite import FRAME_COLUMNS, load_suite

WINDOW = {"min_event_time": "2026-11-21T10:00:00.000Z", "max_event_time": "2026-11-22T11:05:00.000Z"}


def line(event_id: str, **fields: object) -> str:
    import json

    base = {
        "event_id": event_id,
        "event_type": "click",
        "user_id": "u1",
        "timestamp": "2026-11-22T10:30:00.000Z",
        "http_status": 200,
        "received_at": "2026-11-22T10:30:01.000Z",
        "schema_version": 1,
    }
    return json.dumps({**base, **fields})


def validate(lines: list[str]) -> tuple[pa.Table, object]:
    frame = parse_objects(["\n".join(lines).encode()]).frame
    result = validate_frame(
        frame.select(list(FRAME_COLUMNS)).to_pandas(), load_suite(), parameters=WINDOW, run_name="unit"
    )
    return frame, result


def test_each_failing_row_is_attributed_to_the_rules_it_broke() -> None:
    _, result = validate(
        [
            line("ok"),
            line("status", http_status=600),
            line("kind", event_type="hover", quantity=0),
            line("late", timestamp="2026-11-20T10:00:00Z"),
            line("future", timestamp="2026-11-22T11:06:00Z"),
            line("typed", http_status="200"),
            line("ok"),  # a duplicate: reported, never quarantined
        ]
    )
    between = "expect_column_values_to_be_between"
    assert result.failures == {
        1: [f"{between}:http_status"],
        2: ["expect_column_values_to_be_in_set:event_type", f"{between}:quantity"],
        3: [f"{between}:event_time"],
        4: [f"{between}:event_time"],
        5: ["expect_column_values_to_not_be_null:http_status", "expect_column_values_to_be_null:_invalid_types"],
    }
    assert result.batch_failures == []
    assert result.duplicates_reported == 2
    assert result.success is False and result.evaluated == 7
    assert result.html.lstrip().startswith("<!DOCTYPE html>")
    assert result.results["statistics"]["evaluated_expectations"] == len(load_suite()["expectations"])


def test_a_clean_batch_passes_with_no_failures() -> None:
    _, result = validate([line("a"), line("b", price=0.0, quantity=1, duration_ms=0)])
    assert result.success is True and result.failures == {}


def test_a_frame_with_other_columns_fails_the_whole_batch() -> None:
    frame = parse_objects([line("a").encode()]).frame
    pandas_frame = frame.select(list(FRAME_COLUMNS)).to_pandas().drop(columns=["referrer"])
    result = validate_frame(pandas_frame, load_suite(), parameters=WINDOW, run_name="unit")
    assert result.batch_failures == ["expect_table_columns_to_match_ordered_list"]
