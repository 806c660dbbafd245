"""Lease planning: N workers converge on ~shards/N each, free and expired leases first, one steal a round."""

from __future__ import annotations

from collections import Counter

import pytest

from clickstream.emulated.event_source_mapping.leases import Lease, plan_leases

NOW = 1_000.0


def lease(
    shard: str, owner: str | None, *, expires: float = NOW + 10, counter: int = 1, finished: bool = False
) -> Lease:
    return Lease(shard, owner, counter, expires if owner else 0.0, finished=finished)


def shards(n: int) -> list[str]:
    return [f"shardId-{i:012d}" for i in range(n)]


def test_a_lone_worker_takes_every_free_lease() -> None:
    plan = plan_leases([lease(s, None) for s in shards(4)], me="a", now=NOW)
    assert [le.shard for le in plan.take] == shards(4) and plan.steal is None
    assert (plan.target, plan.workers) == (4, 1)


def test_expired_leases_are_free_and_our_own_come_first() -> None:
    leases = [
        lease("s0", "dead", expires=NOW - 1),
        lease("s1", "a", expires=NOW - 1),
        lease("s2", "b"),
        lease("s3", "b"),
    ]
    plan = plan_leases(leases, me="a", now=NOW)
    # live workers: b and us -> target 2; we hold none live, take our own expired one first
    assert [le.shard for le in plan.take] == ["s1", "s0"]


def test_a_newcomer_steals_one_lease_a_round_from_the_most_loaded() -> None:
    leases = [lease(s, "a") for s in shards(4)]
    plan = plan_leases(leases, me="b", now=NOW)
    assert plan.take == () and plan.steal is not None and plan.steal.owner == "a"
    assert (plan.target, plan.workers) == (2, 2)


def test_finished_shards_are_never_leased() -> None:
    leases = [lease("s0", None, finished=True), lease("s1", None)]
    plan = plan_leases(leases, me="a", now=NOW)
    assert [le.shard for le in plan.take] == ["s1"]


def simulate(n_shards: int, workers: list[str], rounds: int = 30) -> Counter[str]:
    """Every worker plans in turn and applies its plan (takes win, like the conditional writes)."""
    table = {s: lease(s, None) for s in shards(n_shards)}
    for _ in range(rounds):
        for me in workers:
            plan = plan_leases(list(table.values()), me=me, now=NOW)
            for le in [*plan.take, *([plan.steal] if plan.steal else [])]:
                table[le.shard] = Lease(le.shard, me, le.counter + 1, NOW + 10)
    return Counter(le.owner for le in table.values() if le.owner)


@pytest.mark.parametrize(("n_shards", "n_workers"), [(2, 1), (2, 2), (4, 2), (4, 3), (5, 2), (8, 3), (3, 4), (16, 5)])
def test_workers_converge_to_a_balanced_split_and_stop_moving(n_shards: int, n_workers: int) -> None:
    workers = [f"w{i}" for i in range(n_workers)]
    held = simulate(n_shards, workers)
    assert sum(held.values()) == n_shards
    assert max(held.values()) - min(held.get(w, 0) for w in workers[: min(n_workers, n_shards)]) <= 1
    # stable: another round changes nothing
    again = simulate(n_shards, workers, rounds=31)
    assert again == held


def test_a_dead_workers_shards_go_to_the_survivor() -> None:
    leases = [
        lease("s0", "a"),
        lease("s1", "a"),
        lease("s2", "b", expires=NOW - 0.1),
        lease("s3", "b", expires=NOW - 0.1),
    ]
    plan = plan_leases(leases, me="a", now=NOW)
    assert sorted(le.shard for le in plan.take) == ["s2", "s3"]
