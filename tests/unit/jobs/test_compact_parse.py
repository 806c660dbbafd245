"""Raw NDJSON bytes → the typed batch frame: types, malformed lines, numbering (pure, no server)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from clickstream.jobs.compact_parse import FRAME_SCHEMA, gunzip, parse_objects, record_offsets

FULL = {
    "event_id": "e1",
    "event_type": "purchase",
    "user_id": "u1",
    "session_id": None,
    "timestamp": "2026-11-22T10:00:00.123Z",
    "url": "/cart",
    "referrer": None,
    "user_agent": None,
    "browser": None,
    "os": None,
    "device": None,
    "ip_address": "10.0.0.0",
    "http_status": 200,
    "product_id": "p1",
    "order_id": "o1",
    "currency": "EUR",
    "price": 9.5,
    "quantity": 2,
    "duration_ms": 1200,
    "properties": {"coupon": "X", "tags": [1, 2]},
    "received_at": "2026-11-22T10:00:01.000Z",
    "schema_version": 1,
}


def rows(*lines: bytes) -> list[dict]:
    return parse_objects([b"\n".join(lines)]).frame.sort_by("_row").to_pylist()


def test_a_normalised_event_becomes_one_typed_row() -> None:
    batch = parse_objects([json.dumps(FULL).encode() + b"\n"])
    assert batch.frame.schema == FRAME_SCHEMA and batch.raw_rows == 1 and batch.malformed == []
    (row,) = batch.frame.to_pylist()
    assert row["event_time"] == datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)
    assert (row["http_status"], row["price"], row["quantity"], row["duration_ms"]) == (200, 9.5, 2, 1200)
    assert json.loads(row["properties"]) == FULL["properties"]
    assert row["_invalid_types"] is None and (row["_row"], row["_obj"], row["_rec"]) == (0, 0, 1)


@pytest.mark.parametrize(
    ("field", "value", "column"),
    [
        ("event_id", 42, "event_id"),
        ("user_id", {"id": 1}, "user_id"),
        ("url", ["/a"], "url"),
        ("http_status", "200", "http_status"),
        ("http_status", 200.5, "http_status"),
        ("http_status", True, "http_status"),
        ("quantity", 1.5, "quantity"),
        ("duration_ms", 2**64 - 1, "duration_ms"),
        ("price", "9.5", "price"),
        ("properties", [1, 2], "properties"),
        ("timestamp", "yesterday", "event_time"),
        ("timestamp", 1_795_000_000, "event_time"),
        ("received_at", None, None),  # JSON null is absent, not a type error (the suite's not-null rule decides)
    ],
)
def test_a_value_of_the_wrong_json_type_is_nulled_and_named(field: str, value: object, column: str | None) -> None:
    (row,) = rows(json.dumps({**FULL, field: value}).encode())
    assert row["_invalid_types"] == column
    if column:
        assert row[column] is None


def test_missing_fields_are_nulls_and_extra_fields_are_ignored() -> None:
    (row,) = rows(b'{"event_id": "x", "surprise": 1}')
    assert row["event_id"] == "x" and row["user_id"] is None and row["_invalid_types"] is None


def test_lines_that_are_not_json_objects_are_malformed_with_their_position() -> None:
    good = json.dumps(FULL).encode()
    batch = parse_objects([b"\n".join([good, b'{"event_id": "tr', b"[1, 2]", b'"text"', b"\xff\xfe{}", good])])
    assert batch.raw_rows == 6 and batch.frame.num_rows == 2
    assert [(m.rec, m.row, m.reason) for m in batch.malformed] == [
        (2, 1, "malformed_json"),
        (3, 2, "malformed_json"),
        (4, 3, "malformed_json"),
        (5, 4, "malformed_json"),
    ]
    assert batch.malformed[0].text == '{"event_id": "tr'
    assert sorted(batch.frame.column("_rec").to_pylist()) == [1, 6]


def test_rows_are_numbered_across_objects_and_blank_lines_are_not_records() -> None:
    a, b = b'{"event_id": "a"}', b'{"event_id": "b"}'
    batch = parse_objects([b"\n\n" + a + b"\n\n\n" + b + b"\n", b"", a + b"\r\n"])
    got = sorted((r["_row"], r["_obj"], r["_rec"], r["event_id"]) for r in batch.frame.to_pylist())
    assert got == [(0, 0, 1, "a"), (1, 0, 2, "b"), (2, 2, 1, "a")]
    assert batch.line(0, 2) == b and batch.raw_rows == 3


def test_record_offsets_of_an_object_without_a_trailing_newline() -> None:
    assert record_offsets(b"x\ny").tolist() == [0, 2, 3]
    assert record_offsets(b"").tolist() == [0]
    assert record_offsets(b"\n\n").tolist() == [0]


def test_gunzip_reads_every_member_and_flags_a_truncated_stream() -> None:
    two = gzip.compress(b"a\n") + gzip.compress(b"b\n")
    assert gunzip(two) == (b"a\nb\n", True)
    data, complete = gunzip(gzip.compress(b'{"event_id": "a"}\n{"event_id": "b"}\n' * 50)[:-20])
    assert complete is False and data.startswith(b'{"event_id": "a"}')
    assert gunzip(b"not gzip") == (b"", False)


def test_an_empty_batch_has_the_frame_schema() -> None:
    batch = parse_objects([])
    assert batch.frame.schema == FRAME_SCHEMA and batch.frame.num_rows == 0 and batch.raw_rows == 0
    assert isinstance(batch.frame, pa.Table)
