"""The pure part of the raw archiver: buffers, the arrival-hour split, object names, replay safety."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clickstream.emulated.firehose.batching import (
    MS_PER_HOUR,
    FlushPolicy,
    RawRecord,
    ShardBuffer,
    hour_partition,
    hours_of,
    object_key,
    partition_of_key,
    plan_objects,
    positions_in,
    shard_prefix,
)

BASE_MS = 1_795_000_000_000 // MS_PER_HOUR * MS_PER_HOUR  # an hour boundary in 2026


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def _records(n: int, *, start: int = 1, arrival_ms: int = BASE_MS, size: int = 10) -> list[RawRecord]:
    return [RawRecord(start + i, arrival_ms, b"x" * size) for i in range(n)]


# --- names -------------------------------------------------------------------------------------


def test_object_key_follows_the_layout_and_pads_the_position() -> None:
    hour = _ms("2026-11-22T13:05:00") // MS_PER_HOUR
    key = object_key("clickstream-local-events", "shardId-000000000001", hour, 42, digits=8)
    assert key == "raw/events/dt=2026-11-22/hour=13/clickstream-local-events-shardId-000000000001-00000042.ndjson.gz"


def test_padded_keys_sort_in_stream_order() -> None:
    positions = [7, 10, 99, 100, 1234, 5]
    keys = [object_key("t", "0", 0, p, digits=20) for p in positions]
    assert [keys.index(k) for k in sorted(keys)] == [positions.index(p) for p in sorted(positions)]


@pytest.mark.parametrize(
    ("when", "partition"),
    [
        ("2026-11-22T23:59:59.999", "dt=2026-11-22/hour=23"),
        ("2026-11-23T00:00:00.000", "dt=2026-11-23/hour=00"),
        ("2024-02-29T07:30:00", "dt=2024-02-29/hour=07"),
    ],
)
def test_hour_partition_is_utc_and_exact_at_the_edges(when: str, partition: str) -> None:
    assert hour_partition(_ms(when) // MS_PER_HOUR) == partition


def test_partition_of_key_reads_back_what_object_key_wrote() -> None:
    key = object_key("s", "shardId-1", _ms("2026-01-02T03:04:05") // MS_PER_HOUR, 1, digits=4)
    assert partition_of_key(key) == ("2026-01-02", "03")
    assert partition_of_key("raw/events/dt=2026-01-02/hour=03/_SUCCESS") is None
    assert partition_of_key("raw/bad/dt=2026-01-02/hour=03/x.ndjson.gz") is None


# --- the hour split ----------------------------------------------------------------------------


def test_one_object_per_arrival_hour_each_named_by_its_own_first_position() -> None:
    h0, h1 = BASE_MS, BASE_MS + MS_PER_HOUR
    records = [
        RawRecord(10, h0 + 5, b"a"),
        RawRecord(11, h1, b"b"),
        RawRecord(12, h0 + 9, b"c"),
        RawRecord(13, h1, b"d"),
    ]
    objects = plan_objects(records, source="s", shard="0", digits=3)
    assert [(o.key.rsplit("/", 2)[1], o.first_position, o.last_position, o.lines) for o in objects] == [
        (hour_partition(h0 // MS_PER_HOUR).split("/")[1], 10, 12, [b"a", b"c"]),
        (hour_partition(h1 // MS_PER_HOUR).split("/")[1], 11, 13, [b"b", b"d"]),
    ]
    assert objects[0].key.endswith("/s-0-010.ndjson.gz")
    assert objects[1].key.endswith("/s-0-011.ndjson.gz")


# --- buffers -----------------------------------------------------------------------------------


def test_buffer_cuts_full_flushes_at_the_record_bound_and_keeps_the_rest() -> None:
    buf = ShardBuffer(FlushPolicy(max_records=3, max_bytes=10**6, max_age_seconds=60))
    buf.add(_records(7), now=0.0)
    assert buf.is_due(0.0)
    flushes = buf.take(0.0)
    assert [[r.position for r in f] for f in flushes] == [[1, 2, 3], [4, 5, 6]]
    assert [r.position for r in buf.take(0.0, force=True)[0]] == [7]
    assert len(buf) == 0 and buf.nbytes == 0


def test_buffer_cuts_at_the_byte_bound_and_an_oversized_record_goes_alone() -> None:
    buf = ShardBuffer(FlushPolicy(max_records=100, max_bytes=25, max_age_seconds=60))
    buf.add([RawRecord(1, BASE_MS, b"x" * 9), RawRecord(2, BASE_MS, b"x" * 9), RawRecord(3, BASE_MS, b"y" * 40)], 0.0)
    buf.add([RawRecord(4, BASE_MS, b"z" * 3)], 0.0)
    flushes = buf.take(0.0)
    assert [[r.position for r in f] for f in flushes] == [[1, 2], [3]]
    assert all(sum(len(r.data) + 1 for r in f) <= 25 for f in flushes[:1])
    assert len(buf) == 1 and buf.nbytes == 4


def test_buffer_age_bound_flushes_a_small_buffer_and_survives_a_size_cut() -> None:
    buf = ShardBuffer(FlushPolicy(max_records=2, max_bytes=10**6, max_age_seconds=5))
    buf.add(_records(3), now=100.0)
    assert [len(f) for f in buf.take(101.0)] == [2]  # the size cut; record 3 stays
    assert not buf.is_due(104.9)
    buf.add(_records(1, start=4), now=104.0)
    # record 3 was read at t=100: it must go at t=105 even though record 4 came later
    assert buf.is_due(105.0)
    assert [[r.position for r in f] for f in buf.take(105.0)] == [[3, 4]]
    assert not buf.is_due(1e9)


def test_flush_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        FlushPolicy(max_records=0)


# --- replay safety (the argument in the module docstring) ---------------------------------------

record_specs = st.lists(st.tuples(st.integers(1, 1000), st.integers(0, 4 * MS_PER_HOUR - 1)), min_size=1, max_size=80)


def _build(specs: list[tuple[int, int]], monotonic: bool) -> list[RawRecord]:
    out, position, arrival = [], 0, BASE_MS
    for gap, offset in specs:
        position += gap
        arrival = arrival + offset // 50 if monotonic else BASE_MS + offset
        out.append(RawRecord(position, arrival, str(position).encode()))
    return out


def _write(
    store: dict[str, list[bytes]], records: list[RawRecord], only: int | None = None, *, listing: bool = True
) -> None:
    """One flush as the archiver does it (rule 2's listing optional); `only`: a bitmask of the objects
    that were written before a crash."""
    existing = {}
    if listing:
        for hour in hours_of(records):
            key_prefix = shard_prefix("src", "shardId-0", hour)
            existing[hour] = positions_in(store, key_prefix)
    objects = plan_objects(records, source="src", shard="shardId-0", digits=6, existing=existing)
    for i, obj in enumerate(objects):
        if only is None or only >> i & 1:
            store[obj.key] = obj.lines


def _assert_exactly_once(store: dict[str, list[bytes]], records: list[RawRecord]) -> None:
    lines = Counter(line for lines in store.values() for line in lines)
    assert lines == Counter(r.data for r in records)
    by_data = {r.data: r for r in records}
    for key, key_lines in store.items():
        for line in key_lines:
            assert f"/{hour_partition(by_data[line].arrival_ms // MS_PER_HOUR)}/" in key


@pytest.mark.parametrize("listing", [True, False], ids=["with-listing", "without-listing"])
@given(
    specs=record_specs,
    monotonic=st.booleans(),
    crashed=st.integers(1, 80),
    replay=st.lists(st.integers(1, 30), min_size=1),
)
def test_crashed_cut_then_any_other_cut_keeps_every_record_exactly_once(
    listing: bool, specs: list[tuple[int, int]], monotonic: bool, crashed: int, replay: list[int]
) -> None:
    """GIVEN a flush that wrote its objects and crashed before its checkpoint
    WHEN the restart cuts the same records into flushes differently
    THEN the surviving objects (same keys overwritten) hold each record exactly once."""
    records = _build(specs, monotonic)
    store: dict[str, list[bytes]] = {}
    _write(store, records[:crashed], listing=listing)  # crash: objects written, checkpoint not moved
    cursor, sizes = 0, iter(replay)
    while cursor < len(records):
        n = next(sizes, len(records))
        _write(store, records[cursor : cursor + n], listing=listing)
        cursor += n
    _assert_exactly_once(store, records)


history = st.lists(st.tuples(st.integers(1, 25), st.booleans(), st.integers(0, 15)), max_size=25)


def _run(
    store: dict[str, list[bytes]], records: list[RawRecord], attempts, final: int, *, listing: bool = True
) -> None:
    """A run from the start: flushes of the given sizes, some crashing after writing a subset of
    their objects (the checkpoint stays), then a drain in flushes of `final` records."""
    cursor = 0  # the checkpoint: flushes always start right after it
    for n, crashes, written in attempts:
        chunk = records[cursor : cursor + n]
        if not chunk:
            break
        _write(store, chunk, only=written if crashes else None, listing=listing)
        if not crashes:
            cursor += len(chunk)
    while cursor < len(records):
        _write(store, records[cursor : cursor + final], listing=listing)
        cursor += final


@pytest.mark.parametrize("listing", [True, False], ids=["with-listing", "without-listing"])
@given(specs=record_specs, monotonic=st.booleans(), attempts=history, final=st.integers(1, 40))
def test_any_history_of_crashes_and_partial_writes_keeps_every_record_exactly_once(
    listing: bool, specs: list[tuple[int, int]], monotonic: bool, attempts: list[tuple[int, bool, int]], final: int
) -> None:
    """Repeated crashes, each after writing any subset of its objects, then a drain."""
    records = _build(specs, monotonic)
    store: dict[str, list[bytes]] = {}
    _run(store, records, attempts, final, listing=listing)
    _assert_exactly_once(store, records)


@given(
    specs=record_specs,
    monotonic=st.booleans(),
    first=history,
    first_final=st.integers(1, 40),
    second=history,
    second_final=st.integers(1, 40),
)
def test_a_rerun_from_the_start_with_other_bounds_overwrites_instead_of_duplicating(
    specs: list[tuple[int, int]],
    monotonic: bool,
    first: list[tuple[int, bool, int]],
    first_final: int,
    second: list[tuple[int, bool, int]],
    second_final: int,
) -> None:
    """GIVEN a complete archive WHEN the checkpoints are wiped and the stream is archived again from
    TRIM_HORIZON with other flush bounds and other crashes THEN every record is still there once."""
    records = _build(specs, monotonic)
    store: dict[str, list[bytes]] = {}
    _run(store, records, first, first_final)
    _run(store, records, second, second_final)
    _assert_exactly_once(store, records)


def test_without_the_listing_a_rerun_with_other_bounds_would_duplicate() -> None:
    """Why rule 2 lists existing objects: the same rerun, planned blind, keeps stale objects."""
    records = _build([(1, 0)] * 10, monotonic=True)
    store: dict[str, list[bytes]] = {}
    _run(store, records, [], 4, listing=False)  # objects at 1, 5, 9
    _run(store, records, [], 3, listing=False)  # objects at 1, 4, 7, 10: 5 and 9 survive
    with pytest.raises(AssertionError):
        _assert_exactly_once(store, records)
    _run(store, records, [], 3, listing=True)  # cut at 1, 4, 5, 7, 9, 10: every stale key overwritten
    _assert_exactly_once(store, records)


def test_a_group_is_cut_at_existing_objects_even_between_records() -> None:
    records = _records(5, start=10)  # positions 10..14
    objects = plan_objects(
        records, source="s", shard="0", digits=2, existing={BASE_MS // MS_PER_HOUR: [3, 10, 12, 13, 99]}
    )
    assert [(o.first_position, o.last_position) for o in objects] == [(10, 11), (12, 12), (13, 14)]
    assert positions_in(["p-01.ndjson.gz", "p-x.ndjson.gz", "q-02.ndjson.gz", "p-3.ndjson.gz"], "p-") == [1, 3]


def test_a_key_per_flush_would_duplicate_which_is_why_names_come_from_positions() -> None:
    """Sanity check of the test itself: name objects by attempt instead and a replay duplicates."""
    records = _build([(1, 0)] * 10, monotonic=True)
    store = {"attempt-1": [r.data for r in records[:6]], "attempt-2": [r.data for r in records]}
    with pytest.raises(AssertionError):
        _assert_exactly_once(store, records)


def test_the_pure_modules_import_no_aws_or_kafka_client() -> None:
    code = (
        "import sys, clickstream.emulated.firehose.batching, clickstream.emulated.firehose.reading, "
        "clickstream.emulated.firehose.archiver; "
        "bad = [m for m in ('boto3', 'botocore', 'kafka', 'confluent_kafka') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
