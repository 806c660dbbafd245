"""The versioned suite file is the contract's rules: regenerate it when the contract changes."""

from __future__ import annotations

from clickstream.catalog import EVENTS
from clickstream.events.schema import EVENT_TYPES, MAX_HTTP_STATUS, MIN_HTTP_STATUS, REQUIRED_FIELDS
from clickstream.quality.suite import FRAME_COLUMNS, SUITE_PATH, build_suite, load_suite, render_suite


def _rule(kind: str, column: str) -> dict:
    (found,) = [e for e in load_suite()["expectations"] if e["type"] == kind and e["kwargs"].get("column") == column]
    return found


def test_the_suite_file_in_the_repo_is_the_one_the_contract_builds() -> None:
    # WHEN this fails: python -m clickstream.quality.suite --write, and review the diff
    assert SUITE_PATH.read_text(encoding="utf-8") == render_suite(build_suite())


def test_the_suite_states_the_contract_rules() -> None:
    assert _rule("expect_column_values_to_be_in_set", "event_type")["kwargs"]["value_set"] == list(EVENT_TYPES)
    status = _rule("expect_column_values_to_be_between", "http_status")["kwargs"]
    assert (status["min_value"], status["max_value"]) == (MIN_HTTP_STATUS, MAX_HTTP_STATUS) == (100, 599)
    assert _rule("expect_column_values_to_be_between", "price")["kwargs"]["min_value"] == 0
    assert _rule("expect_column_values_to_be_between", "quantity")["kwargs"]["min_value"] == 1
    assert _rule("expect_column_values_to_be_between", "duration_ms")["kwargs"]["min_value"] == 0
    window = _rule("expect_column_values_to_be_between", "event_time")["kwargs"]
    assert window["min_value"] == {"$PARAMETER": "min_event_time"}
    assert window["max_value"] == {"$PARAMETER": "max_event_time"}
    not_null = {
        e["kwargs"]["column"]
        for e in load_suite()["expectations"]
        if e["type"] == "expect_column_values_to_not_be_null"
    }
    assert not_null == {"event_time" if f == "timestamp" else f for f in REQUIRED_FIELDS}
    unique = _rule("expect_column_values_to_be_unique", "event_id")
    assert unique["meta"]["action"] == "deduplicate" and unique["kwargs"]["mostly"] == 0.0


def test_the_frame_columns_are_the_curated_columns_plus_the_helpers() -> None:
    assert ("_row", *(col.name for col in EVENTS.columns), "_invalid_types") == FRAME_COLUMNS
    (columns,) = [e for e in load_suite()["expectations"] if e["type"] == "expect_table_columns_to_match_ordered_list"]
    assert columns["kwargs"]["column_list"] == list(FRAME_COLUMNS)
