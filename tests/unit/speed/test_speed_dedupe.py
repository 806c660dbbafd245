"""RecentIds: bounded per-shard memory of the first carrier of each event id."""

from __future__ import annotations

import pytest

from clickstream.speed.dedupe import RecentIds


def test_remembers_committed_ids_with_their_first_position_per_shard() -> None:
    recent = RecentIds(per_shard=100)
    assert recent.seen("s1").get("a") is None
    recent.commit("s1", [("a", 1), ("b", 2)])
    recent.commit("s1", [("a", 7)])  # a later carrier does not replace the first
    assert recent.seen("s1").get("a") == 1
    assert recent.seen("s1").get("b") == 2
    assert recent.seen("s2").get("a") is None  # shards are separate


def test_memory_is_bounded_and_recent_ids_survive() -> None:
    recent = RecentIds(per_shard=1_000)
    recent.commit("s", [(f"id{i}", i) for i in range(10_000)])
    seen = recent.seen("s")
    assert all(seen.get(f"id{i}") == i for i in range(9_500, 10_000))  # the last half window at least
    assert sum(seen.get(f"id{i}") is not None for i in range(10_000)) <= 1_000
    assert seen.get("id0") is None


def test_least_recently_used_shards_are_forgotten() -> None:
    recent = RecentIds(per_shard=10, max_shards=2)
    recent.commit("a", [("x", 1)])
    recent.commit("b", [("x", 1)])
    recent.seen("a")  # touch a
    recent.commit("c", [("x", 1)])
    assert recent.seen("b").get("x") is None
    assert recent.seen("a").get("x") == 1
    recent.forget("a")
    assert recent.seen("a").get("x") is None


def test_rejects_useless_sizes() -> None:
    with pytest.raises(ValueError):
        RecentIds(per_shard=1)
