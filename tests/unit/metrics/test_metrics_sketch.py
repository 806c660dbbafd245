"""Sketches: HLL merges are idempotent and within the stated error; top items find the heavy hitters."""

from __future__ import annotations

import pytest

from clickstream.metrics.sketch import (
    HLL_LG_K,
    RSE,
    estimate_uniques,
    merge_top,
    merge_uniques,
    top_items,
    uniques_sketch,
)


def test_stated_error() -> None:
    assert HLL_LG_K == 12
    assert pytest.approx(1.04 / 64, rel=0.01) == RSE  # ≈ 1.6 %


@pytest.mark.parametrize("n", [5, 300, 5_000, 50_000])
def test_merging_the_same_batch_again_changes_nothing(n: int) -> None:
    batch = uniques_sketch(f"user-{i}" for i in range(n))
    other = uniques_sketch(f"other-{i}" for i in range(n))
    once = merge_uniques(merge_uniques(None, batch), other)
    again = merge_uniques(once, other)
    assert estimate_uniques(again) == estimate_uniques(once)
    if n >= 5_000:  # dense (HLL) mode: identical bytes too; sparse modes may order coupons differently
        assert again == once
    # and a first write merged again
    first = merge_uniques(None, batch)
    assert estimate_uniques(merge_uniques(first, batch)) == estimate_uniques(first)


def test_10000_distinct_users_across_batches_within_the_stated_error() -> None:
    # GIVEN 10 000 distinct users spread over 8 batches, each user seen in two batches
    users = [f"user-{i:05d}" for i in range(10_000)]
    stored: bytes | None = None
    for b in range(8):
        part = users[b * 1250 : (b + 1) * 1250] + users[((b + 1) % 8) * 1250 : ((b + 1) % 8) * 1250 + 300]
        stored = merge_uniques(stored, uniques_sketch(part))
    estimate = estimate_uniques(stored)
    # THEN the estimate is within 3 RSE and the ≈95 % bounds hold the truth
    assert abs(estimate.estimate - 10_000) <= 3 * RSE * 10_000
    assert estimate.lower <= 10_000 <= estimate.upper
    assert 0.02 < estimate.relative_error < 0.05  # 2 sigma ≈ 3.2 %
    assert len(stored or b"") < 3_000  # fits a DynamoDB item many times over


def test_empty() -> None:
    assert estimate_uniques(None).estimate == 0
    assert top_items(None, 5) == []


def test_top_items_exact_while_few_and_additive() -> None:
    blob = merge_top(None, {"/a": 5, "/b": 1, "/c": 3, "/zero": 0})
    blob = merge_top(blob, {"/b": 4})
    assert top_items(blob, 10) == [("/a", 5), ("/b", 5), ("/c", 3)] or top_items(blob, 10) == [
        ("/b", 5),
        ("/a", 5),
        ("/c", 3),
    ]
    assert len(top_items(blob, 1)) == 1


def test_top_items_keep_the_heavy_hitters_among_many() -> None:
    weights = {f"/p/{i}": 1 + i % 7 for i in range(2_000)}
    weights["/hot"] = 5_000
    weights["/warm"] = 2_500
    top = top_items(merge_top(None, weights), 2)
    assert [value for value, _ in top] == ["/hot", "/warm"]
