"""Cutting a shard's records into batches: size, payload, window, retries and replayed ranges."""

from __future__ import annotations

from clickstream.emulated.event_source_mapping.batches import ShardBatches
from clickstream.emulated.event_source_mapping.events import KinesisRecord


def recs(*seqs: int, size: int = 1) -> list[KinesisRecord]:
    return [KinesisRecord(s, "k", b"x" * size, 0.0) for s in seqs]


def batches(size: int = 3, window: float = 0.0, max_bytes: int = 10**9) -> ShardBatches:
    return ShardBatches(batch_size=size, window=window, record_bytes=lambda r: len(r.data), max_bytes=max_bytes)


def seqs(batch: list[KinesisRecord] | None) -> list[int] | None:
    return None if batch is None else [r.sequence for r in batch]


def test_window_zero_invokes_whatever_is_there_up_to_the_batch_size() -> None:
    b = batches(size=3)
    b.add(recs(1, 2, 3, 4, 5), now=0)
    assert seqs(b.next_batch(0)) == [1, 2, 3]
    assert seqs(b.next_batch(0)) == [1, 2, 3]  # in flight until it is done with
    assert b.succeeded() == 3
    assert seqs(b.next_batch(0)) == [4, 5]


def test_a_batching_window_waits_for_a_full_batch_or_the_window() -> None:
    b = batches(size=3, window=2.0)
    b.add(recs(1), now=10)
    assert b.next_batch(11) is None
    b.add(recs(2), now=11.5)
    assert seqs(b.next_batch(12)) == [1, 2]
    b.succeeded()
    b.add(recs(3, 4, 5), now=12)
    assert seqs(b.next_batch(12)) == [3, 4, 5]  # full: no waiting


def test_the_shard_end_flushes_a_partial_batch() -> None:
    b = batches(size=10, window=60)
    b.add(recs(1, 2), now=0)
    assert b.next_batch(1) is None
    assert seqs(b.next_batch(1, shard_end=True)) == [1, 2]


def test_the_payload_limit_cuts_a_batch_but_never_to_nothing() -> None:
    b = batches(size=100, max_bytes=25)
    b.add(recs(1, 2, 3, size=10), now=0)
    assert seqs(b.next_batch(0)) == [1, 2]
    b.succeeded()
    b.add(recs(4, size=50), now=0)
    assert seqs(b.next_batch(0)) == [3]
    b.succeeded()
    assert seqs(b.next_batch(0)) == [4]  # one record larger than the limit still goes alone


def test_a_partial_failure_keeps_the_rest_of_the_same_batch() -> None:
    b = batches(size=4)
    b.add(recs(1, 2, 3, 4, 5, 6), now=0)
    b.next_batch(0)
    assert b.partially_failed(3) == 2  # checkpoint up to 2
    assert seqs(b.next_batch(0)) == [3, 4]  # not topped up with 5, 6: same boundaries
    assert b.partially_failed(3) is None  # the first record failed again: nothing to checkpoint
    assert b.succeeded() == 4
    assert seqs(b.next_batch(0)) == [5, 6]


def test_a_replayed_range_is_cut_exactly_whatever_the_size_and_window() -> None:
    b = batches(size=3, window=60)
    b.replay(4)
    b.add(recs(1, 2, 3), now=0)
    assert b.next_batch(0) is None  # the range is not all read yet
    b.add(recs(4, 5, 6), now=0)
    assert seqs(b.next_batch(0)) == [1, 2, 3, 4]  # larger than the batch size, cut at 4
    b.succeeded()
    assert b.next_batch(0) is None  # back to the window for the rest
    assert seqs(b.next_batch(60)) == [5, 6]


def test_wants_more_bounds_reading_ahead_and_clear_forgets_everything() -> None:
    b = batches(size=2)
    assert b.wants_more()
    b.add(recs(1, 2), now=0)
    assert not b.wants_more()
    b.next_batch(0)
    b.clear()
    assert len(b) == 0 and b.batch is None and b.next_batch(0) is None
