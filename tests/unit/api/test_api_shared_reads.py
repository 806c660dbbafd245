"""Shared reads: one load per key per ttl, callers in flight wait for it, failures are not kept."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.clock import ManualClock

from clickstream.api.shared_reads import SharedCache


def test_concurrent_callers_of_one_key_share_a_single_load() -> None:
    cache: SharedCache[int] = SharedCache(1.0)
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow_load() -> int:
        calls.append(1)
        started.set()
        release.wait(5)
        return 42

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(cache.get, "k", slow_load) for _ in range(16)]
        assert started.wait(5)
        time.sleep(0.1)  # let the other 15 arrive while the first read is in flight
        release.set()
        assert [f.result(5) for f in futures] == [42] * 16
    assert len(calls) == 1 and cache.loads == 1


def test_a_value_is_reused_for_ttl_seconds_then_read_again() -> None:
    clock = ManualClock()
    cache: SharedCache[int] = SharedCache(1.0, clock=clock)
    values = iter([1, 2])
    assert cache.get("k", lambda: next(values)) == 1
    clock.now += 0.99
    assert cache.get("k", lambda: next(values)) == 1
    clock.now += 0.02
    assert cache.get("k", lambda: next(values)) == 2
    assert cache.get("other", lambda: 7) == 7 and cache.loads == 3


def test_a_failed_read_reaches_every_waiter_and_is_not_cached() -> None:
    cache: SharedCache[int] = SharedCache(10.0)
    started, release = threading.Event(), threading.Event()

    def failing() -> int:
        started.set()
        release.wait(5)
        raise TimeoutError("DynamoDB did not answer")

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.get, "k", failing)
        assert started.wait(5)
        second = pool.submit(cache.get, "k", lambda: 0)
        time.sleep(0.1)
        release.set()
        for future in (first, second):
            with pytest.raises(TimeoutError):
                future.result(5)
    assert cache.get("k", lambda: 5) == 5  # the next caller reads again


def test_ttl_zero_turns_sharing_off() -> None:
    cache: SharedCache[int] = SharedCache(0)
    values = iter([1, 2])
    assert [cache.get("k", lambda: next(values)) for _ in range(2)] == [1, 2]


def test_while_one_caller_refreshes_the_others_get_the_previous_answer_if_young_enough() -> None:
    clock = ManualClock()
    cache: SharedCache[int] = SharedCache(1.0, clock=clock)
    assert cache.get("k", lambda: 1) == 1
    clock.now += 1.5  # expired
    started, release = threading.Event(), threading.Event()

    def refresh() -> int:
        started.set()
        release.wait(5)
        return 2

    with ThreadPoolExecutor(1) as pool:
        leader = pool.submit(cache.get, "k", refresh)
        assert started.wait(5)
        assert cache.get("k", lambda: 99) == 1  # no wait, no second read
        clock.now += 4.0  # now too old to serve: a caller waits for the refresh
        waiter = threading.Thread(target=lambda: results.append(cache.get("k", lambda: 99)))
        results: list[int] = []
        waiter.start()
        time.sleep(0.1)
        assert results == []
        release.set()
        waiter.join(5)
        assert leader.result(5) == 2 and results == [2]
    assert cache.loads == 2
