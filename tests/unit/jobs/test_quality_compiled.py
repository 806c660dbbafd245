"""The suite compiled to SQL gives GX's verdicts, row for row, and GX's results (ADR 0009)."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from clickstream.jobs.compact_quality import gx_validator, sql_validator
from clickstream.quality import compiled
from clickstream.quality.suite import MAX_EVENT_TIME, MIN_EVENT_TIME, load_suite


@pytest.fixture(scope="module")
def faulty_frame():  # type: ignore[no-untyped-def]
    """3,000 generated raw events, parsed as the job parses them, with every rule broken somewhere."""
    from benchmarks.batch import compaction as b
    from benchmarks.batch.gate_spike import with_faults
    from clickstream.jobs.compact_parse import gunzip, parse_objects

    with tempfile.TemporaryDirectory() as tmp:
        inp = b.write_input(3000, Path(tmp))
        payloads = [gunzip((inp.directory / k).read_bytes())[0] for k in inp.keys]
    parameters = {
        MIN_EVENT_TIME: (b.START - timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
        MAX_EVENT_TIME: (b.START + timedelta(hours=1, seconds=300)).isoformat().replace("+00:00", "Z"),
    }
    return with_faults(parse_objects(payloads).frame), parameters


def test_the_compiled_suite_quarantines_the_rows_gx_does_for_the_same_reasons(faulty_frame) -> None:  # type: ignore[no-untyped-def]
    frame, parameters = faulty_frame
    gx = gx_validator(frame, parameters, "gx")
    sql = sql_validator(frame, parameters, "sql")
    assert len(sql.failures) > 20  # every fault kind is in there (one row in 997 each, and more)
    reasons = {name for names in sql.failures.values() for name in names}
    assert len(reasons) >= 9, reasons
    assert sql.failures == gx.failures and sql.batch_failures == gx.batch_failures == []


def test_the_results_carry_gx_s_counts_and_render_as_data_docs(faulty_frame) -> None:  # type: ignore[no-untyped-def]
    frame, parameters = faulty_frame
    gx = orjson.loads(gx_validator(frame, parameters, "gx").results_json)
    verdict = sql_validator(frame, parameters, "sql")
    ours = orjson.loads(verdict.results_json)
    assert ours["statistics"] == gx["statistics"]
    assert ours["success"] is gx["success"] is False

    def ident(r: dict) -> tuple[str, str]:  # GX orders its results its own way
        return r["expectation_config"]["type"], str(r["expectation_config"]["kwargs"].get("column"))

    theirs_by = {ident(r): r for r in gx["results"]}
    assert sorted(theirs_by) == sorted(ident(r) for r in ours["results"])
    for mine in ours["results"]:
        theirs = theirs_by[ident(mine)]
        assert mine["success"] == theirs["success"], mine["expectation_config"]
        for key in ("element_count", "unexpected_count", "missing_count"):
            if key in theirs["result"]:
                assert mine["result"][key] == theirs["result"][key], (mine["expectation_config"], key)
    assert verdict.html.lstrip().startswith("<!DOCTYPE html>") and "http_status" in verdict.html


def test_a_rule_the_compiler_does_not_know_is_refused_not_skipped() -> None:
    suite = load_suite()
    suite["expectations"].append({"type": "expect_column_values_to_match_regex", "kwargs": {"column": "url"}})
    with pytest.raises(compiled.UnsupportedExpectation, match="expect_column_values_to_match_regex"):
        compiled.compile_suite(suite, {MIN_EVENT_TIME: "2026-01-01T00:00:00Z", MAX_EVENT_TIME: "2026-01-02T00:00:00Z"})
