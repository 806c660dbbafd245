"""Mergeable sketches over Apache DataSketches, as bytes for DynamoDB. Pure.

- Uniques: HyperLogLog, lg_k = 12 (4,096 registers, HLL_4: about 2.6 KB serialised once
  past the sparse modes). Relative standard error ≈ 1.04/√4096 = 1.6 %; `RSE` holds the
  library's own figure for a merged sketch. Estimates are reported with 2-sigma bounds (≈95 %).
- Top items: a frequent-items sketch (lg_max_k = 7: at most 96 items tracked exactly while a
  window has fewer distinct values, otherwise the heavy hitters with error bounds). Used to find
  *which* URLs/statuses to read; their exact counts come from their counter items.

Why merging the same batch twice changes nothing for HLL: the registers hold, per bucket, the
maximum of a hash statistic over the values seen, and a union takes the register-wise maximum,
which is idempotent (max(a, a) = a), commutative and associative; in the sparse modes the
sketch is a set of hashed coupons, and set union is idempotent too. One detail keeps the
*bytes and estimate* identical as well, not just the registers: a union fed a single sketch
returns a copy that keeps its in-order (HIP) estimator, and the next union switches to the
composite estimator. `merge_uniques` therefore feeds the batch's sketch to the union twice, so
every stored sketch uses the composite estimator from its first write on.

Frequent-items merges add counts and are *not* idempotent: the writer applies them at most once
per shard and batch (the same watermark rule as the counters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from datasketches import frequent_items_error_type, frequent_strings_sketch, hll_sketch, hll_union, tgt_hll_type

HLL_LG_K: Final = 12
HLL_TYPE: Final = tgt_hll_type.HLL_4
RSE: Final = abs(hll_sketch.get_rel_err(True, True, HLL_LG_K, 1))  # ≈ 0.0162, one standard deviation
BOUNDS_STD_DEV: Final = 2
TOP_LG_MAX_K: Final = 7


@dataclass(frozen=True, slots=True)
class Estimate:
    """A distinct-count estimate with its ≈95 % bounds (2 standard deviations)."""

    estimate: float
    lower: float
    upper: float

    @property
    def relative_error(self) -> float:
        """Half the bound width over the estimate (0 for an empty sketch)."""
        return (self.upper - self.lower) / 2 / self.estimate if self.estimate else 0.0


def uniques_sketch(values: Iterable[str]) -> hll_sketch:
    """An HLL sketch of `values` (lg_k = 12)."""
    sketch = hll_sketch(HLL_LG_K, HLL_TYPE)
    for value in values:
        sketch.update(value)
    return sketch


def merge_uniques(stored: bytes | None, batch: hll_sketch) -> bytes:
    """The union of a stored sketch (None: nothing yet) and a batch's sketch, serialised compact."""
    union = hll_union(HLL_LG_K)
    if stored is not None:
        union.update(hll_sketch.deserialize(stored))
    union.update(batch)
    union.update(batch)  # see the module docstring: composite estimator from the first write
    return bytes(union.get_result(HLL_TYPE).serialize_compact())


def estimate_uniques(data: bytes | None) -> Estimate:
    """The distinct-count estimate of a stored sketch, with 2-sigma bounds."""
    if not data:
        return Estimate(0.0, 0.0, 0.0)
    sketch = hll_sketch.deserialize(data)
    return Estimate(
        sketch.get_estimate(), sketch.get_lower_bound(BOUNDS_STD_DEV), sketch.get_upper_bound(BOUNDS_STD_DEV)
    )


def merge_top(stored: bytes | None, weights: Mapping[str, int]) -> bytes:
    """A stored frequent-items sketch with `weights` (value → count) added, serialised."""
    sketch = frequent_strings_sketch.deserialize(stored) if stored else frequent_strings_sketch(TOP_LG_MAX_K)
    for value, weight in weights.items():
        if weight > 0:
            sketch.update(value, weight)
    return bytes(sketch.serialize())


def union_uniques(blobs: Iterable[bytes]) -> bytes:
    """One HLL sketch of the union of stored sketches (the shards' sub-items of a window)."""
    union = hll_union(HLL_LG_K)
    for blob in blobs:
        union.update(hll_sketch.deserialize(blob))
    return bytes(union.get_result(HLL_TYPE).serialize_compact())


def union_top(blobs: Iterable[bytes]) -> bytes:
    """One frequent-items sketch with the counts of stored sketches added (the shards' sub-items)."""
    merged = frequent_strings_sketch(TOP_LG_MAX_K)
    for blob in blobs:
        merged.merge(frequent_strings_sketch.deserialize(blob))
    return bytes(merged.serialize())


def top_items(data: bytes | None, n: int) -> list[tuple[str, int]]:
    """Up to `n` (value, estimated count) pairs, largest first; none is missed that has a true
    count above the sketch's error bound (NO_FALSE_NEGATIVES)."""
    if not data:
        return []
    sketch = frequent_strings_sketch.deserialize(data)
    items = sketch.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES)
    return [(str(value), int(estimate)) for value, estimate, _lower, _upper in items[:n]]
