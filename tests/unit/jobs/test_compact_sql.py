"""The compaction's statements (clickstream/jobs/compact_sql.py), run on the local engine over
small in-memory batches: the gate's verdicts in the stage, first-seen dedupe, the anti-join with
what is published, and Athena's 100-partition limit per UNLOAD. The whole job, on the embedded
AWS server, is tests/integration/test_compact_job.py."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from clickstream.adapters.query.local import LocalEngine
from clickstream.adapters.query.sources import PATH_COLUMN
from clickstream.jobs import compact_sql as sql
from clickstream.jobs.compact_write import CURATED_SCHEMA
from clickstream.quality.compiled import compile_suite
from clickstream.quality.suite import MAX_EVENT_TIME, MIN_EVENT_TIME, load_suite

HOUR = ("2026-11-22", "10")
RULES = compile_suite(
    load_suite(), {MIN_EVENT_TIME: "2026-11-22T09:00:00.000Z", MAX_EVENT_TIME: "2026-11-22T11:05:00.000Z"}
)


def line(event_id: str, minute: int, received: int, **extra: object) -> str:
    import json

    event = {
        "event_id": event_id,
        "event_type": "page_view",
        "user_id": "u1",
        "timestamp": f"2026-11-22T10:{minute:02d}:00Z",
        "http_status": 200,
        "received_at": f"2026-11-22T10:{received:02d}:00Z",
        "schema_version": 1,
        **extra,
    }
    return json.dumps(event)


def staged(objects: dict[str, list[str]]) -> pa.Table:
    """The stage statement's rows for raw objects {key: lines}."""
    rows = [(text, *HOUR, f"s3://b/{key}") for key, lines in objects.items() for text in lines]
    raw = pa.table({name: [r[i] for r in rows] for i, name in enumerate(["line", "dt", "hour", PATH_COLUMN])})
    select = sql.stage_select([(HOUR, key) for key in objects], "b", RULES)
    out = LocalEngine.over({"raw_lines": raw}).execute(select)
    return out.append_column("run", pa.array(["r"] * out.num_rows))


def test_the_stage_keeps_each_row_with_the_expectations_it_fails_and_skips_blank_lines() -> None:
    batch = staged({"k1": [line("a", 1, 2), "", "not json", line("b", 2, 3, http_status=700)]})
    by_id = {r["event_id"]: r for r in batch.to_pylist()}
    assert batch.num_rows == 3  # the blank line is not a record
    assert by_id["a"]["_failed"] is None and by_id["a"]["_raw"] is None
    assert by_id["b"]["_failed"] == "expect_column_values_to_be_between:http_status"
    assert by_id["b"]["_raw"].startswith('{"event_id": "b"')
    assert by_id[None]["_failed"] == sql.MALFORMED_JSON and by_id[None]["_malformed"]
    assert by_id["a"]["event_time"] == datetime(2026, 11, 22, 10, 1)  # a plain timestamp, UTC, as Athena returns it


def test_an_event_time_with_an_offset_is_stored_as_its_utc_time() -> None:
    batch = staged({"k1": [line("a", 1, 2).replace("10:01:00Z", "12:01:00+02:00")]})
    assert batch.column("event_time").to_pylist() == [datetime(2026, 11, 22, 10, 1)]
    # the text says so for Athena too, whose CAST to timestamp would keep 12:01
    select = sql.stage_select([(HOUR, "k1")], "b", RULES)
    assert """CAST("event_time" AT TIME ZONE 'UTC' AS timestamp)""" in select


def test_the_first_seen_copy_wins_and_published_events_are_not_new() -> None:
    batch = staged(
        {
            "k1": [line("a", 1, 5), line("a", 1, 2), line("b", 2, 3)],  # a retry of a, received later
            "k2": [line("a", 1, 1), line("c", 3, 4)],  # a later object: its copy of a loses
        }
    )
    published = (
        CURATED_SCHEMA.empty_table()
        .append_column("dt", pa.array([], pa.string()))
        .append_column("hour", pa.array([], pa.string()))
    )
    engine = LocalEngine.over({"compaction_batch": batch, "events": published})
    firsts = engine.execute(sql.firsts_select("r")).to_pylist()
    assert firsts == [{"dt": "2026-11-22", "hour": "10", "n_rows": 3}]
    rows = engine.execute(sql.publish_select("r", [], [HOUR])).to_pylist()
    a = next(r for r in rows if r["event_id"] == "a")
    assert a["received_at"] == datetime(2026, 11, 22, 10, 2)  # k1, the earliest received there

    c_published = pa.Table.from_pylist([{**rows[2], "dt": "2026-11-22", "hour": "10"}])
    engine.add_source("events", c_published.cast(published.schema))
    assert engine.execute(sql.counts_select("r", [HOUR])).to_pylist() == [
        {"dt": "2026-11-22", "hour": "10", "n_rows": 2}
    ]


def test_an_unload_writes_at_most_athenas_100_partitions() -> None:
    many = [("2026-11-22", f"{h:02d}") for h in range(24)] * 5
    assert [len(chunk) for chunk in sql.chunks(many)] == [100, 20]
    with pytest.raises(ValueError, match="1 to 100 partitions"):
        sql.publish_select("r", [], many)
