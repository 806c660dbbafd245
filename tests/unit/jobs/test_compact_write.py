"""Dedupe, partitioning, merge and Parquet encoding of the compaction job (pure, no server)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from clickstream.jobs import compact_write as w
from clickstream.jobs.compact_parse import FRAME_SCHEMA

T0 = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)


def frame(*specs: tuple[int, str, str, datetime]) -> pa.Table:
    """(row, event_id, user_id, event_time) → a batch frame with the other columns defaulted."""
    data = {name: [None] * len(specs) for name in FRAME_SCHEMA.names}
    data["_row"] = [s[0] for s in specs]
    data["event_id"] = [s[1] for s in specs]
    data["user_id"] = [s[2] for s in specs]
    data["event_time"] = [s[3] for s in specs]
    data["received_at"] = [s[3] + timedelta(seconds=s[0]) for s in specs]
    data["http_status"] = [200] * len(specs)
    data["schema_version"] = [1] * len(specs)
    data["_obj"] = [0] * len(specs)
    data["_rec"] = [s[0] + 1 for s in specs]
    return pa.table(data, schema=FRAME_SCHEMA)


def test_first_seen_keeps_the_smallest_row_of_each_event_id() -> None:
    batch = frame((5, "a", "u", T0), (2, "a", "u", T0), (3, "b", "u", T0), (9, "b", "u", T0), (1, "c", "u", T0))
    kept, dropped = w.first_seen(batch)
    assert dropped == 2
    assert sorted(zip(kept.column("event_id").to_pylist(), kept.column("_row").to_pylist(), strict=True)) == [
        ("a", 2),
        ("b", 3),
        ("c", 1),
    ]


def test_rows_are_split_by_event_hour() -> None:
    batch = frame((0, "a", "u", T0), (1, "b", "u", T0 - timedelta(hours=25)), (2, "c", "u", T0 + timedelta(minutes=45)))
    parts = w.split_by_hour(batch)
    assert {k: v.column("event_id").to_pylist() for k, v in parts.items()} == {
        ("2026-11-21", "09"): ["b"],
        ("2026-11-22", "10"): ["a"],
        ("2026-11-22", "11"): ["c"],
    }
    assert list(parts) == sorted(parts)


def test_merge_keeps_the_published_row_and_sorts_by_user_session_time_id() -> None:
    existing, _ = w.merge_partition(None, frame((0, "a", "u2", T0), (1, "b", "u1", T0)))
    new = frame((7, "a", "u2", T0 + timedelta(minutes=1)), (8, "c", "u1", T0 - timedelta(minutes=1)))
    merged, dropped = w.merge_partition(existing, new)
    assert dropped == 1
    assert merged.schema == w.CURATED_SCHEMA
    assert merged.column("event_id").to_pylist() == ["c", "b", "a"]
    assert merged.column("event_time").to_pylist()[2] == T0  # the published "a", not the later copy


def test_parquet_files_are_deterministic_zstd_and_capped() -> None:
    rows, _ = w.merge_partition(None, frame(*((i, f"e{i:03d}", f"u{i % 7}", T0) for i in range(25))))
    first = w.parquet_files(rows, max_rows=10)
    assert first == w.parquet_files(rows, max_rows=10) and len(first) == 3
    meta = pq.ParquetFile(io.BytesIO(first[0])).metadata
    assert meta.num_rows == 10 and meta.row_group(0).column(0).compression == "ZSTD"
    back = w.read_parquet(first)
    assert back is not None and back.equals(rows)
    assert w.file_name(3) == "part-00003.parquet"
