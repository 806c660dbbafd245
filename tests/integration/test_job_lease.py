"""The batch jobs' lease (`jobs.exclusive`, `adapters.dynamodb.locks`) on the real AWS server:
one holder at a time, racing runs cannot both win, a crashed holder's lease runs out, and a
second run waits for the first and then runs."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from clickstream.adapters.dynamodb.locks import JobLease
from clickstream.jobs.exclusive import JobBusyError, LeaseLostError, exclusive, lease_owner
from clickstream.settings import Settings

JOB = "compact_raw_events"


def test_racing_runs_for_a_free_lease_have_exactly_one_winner(settings: Settings) -> None:
    leases = [JobLease(settings, JOB, f"run-{i}", ttl_s=60) for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda lease: lease.try_acquire(), leases))
    winners = [lease.owner for lease, holder in zip(leases, outcomes, strict=True) if holder is None]
    assert len(winners) == 1, outcomes
    assert {h["owner"] for h in outcomes if h is not None} == set(winners)
    assert leases[0].holder()["owner"] == winners[0]  # type: ignore[index]


def test_a_lease_is_reentrant_for_its_owner_released_only_by_it_and_runs_out(settings: Settings) -> None:
    clock = [1_000.0]
    mine = JobLease(settings, JOB, "run-a", ttl_s=30, clock=lambda: clock[0])
    other = JobLease(settings, JOB, "run-b", ttl_s=30, clock=lambda: clock[0])
    assert mine.try_acquire() is None
    assert mine.try_acquire() is None  # an Airflow retry of the same run id
    assert other.try_acquire() == {"owner": "run-a", "expires_at": 1_030.0}
    other.release()  # not its lease: nothing happens
    assert mine.holder() == {"owner": "run-a", "expires_at": 1_030.0}
    clock[0] += 20
    assert mine.renew()
    clock[0] += 29  # 49 s after taking it, but renewed at 20 s
    assert other.try_acquire() is not None
    clock[0] += 2  # the holder crashed: nobody renewed
    assert other.try_acquire() is None
    assert not mine.renew()  # it is run-b's now
    mine.release()
    assert other.holder()["owner"] == "run-b"  # type: ignore[index]
    other.release()
    assert other.holder() is None


def test_a_second_run_waits_for_the_first_then_runs(settings: Settings) -> None:
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with exclusive(settings, JOB, "run-1", poll_s=0.05):
            first_in.set()
            order.append("first starts")
            time.sleep(0.5)
            order.append("first ends")

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with exclusive(settings, JOB, "run-2", poll_s=0.05, wait_s=30):
        order.append("second starts")
    thread.join()
    assert order == ["first starts", "first ends", "second starts"]
    assert JobLease(settings, JOB, "x", ttl_s=1).holder() is None  # both released


def test_a_run_that_cannot_get_the_lease_in_time_names_the_holder(settings: Settings) -> None:
    assert JobLease(settings, JOB, "manual__2026-12-07T05:00", ttl_s=600).try_acquire() is None
    with (
        pytest.raises(JobBusyError, match=r"running as manual__2026-12-07T05:00.*retry once"),
        exclusive(settings, JOB, "scheduled__x", wait_s=0.2, poll_s=0.05),
    ):
        pytest.fail("ran without the lease")


def test_a_holder_whose_lease_was_taken_fails_so_that_its_rerun_publishes(settings: Settings) -> None:
    with pytest.raises(LeaseLostError, match="rerun"), exclusive(settings, JOB, "slow-run", ttl_s=0.3, poll_s=0.05):
        # the holder stalls: another run finds the lease expired and takes it
        stolen = JobLease(settings, JOB, "next-run", ttl_s=600, clock=lambda: time.time() + 1)
        assert stolen.try_acquire() is None
        time.sleep(0.4)  # the holder's next renewal finds the lease gone
    assert JobLease(settings, JOB, "x", ttl_s=1).holder()["owner"] == "next-run"  # type: ignore[index]


def test_two_dags_runs_of_the_same_run_id_do_not_share_a_lease(settings: Settings) -> None:
    # the hourly and the daily DAG both name a backfill run `backfill__2026-12-01T00:00:00+00:00`;
    # each process owns its lease, so the second waits instead of passing for the holder
    import multiprocessing

    run_id = "backfill__2026-12-01T00:00:00+00:00"
    assert JobLease(settings, JOB, lease_owner(run_id), ttl_s=60).try_acquire() is None
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        other = pool.apply(lease_owner, (run_id,))
    assert other != lease_owner(run_id) and other.startswith(run_id)
    assert JobLease(settings, JOB, other, ttl_s=60).try_acquire() == {
        "owner": lease_owner(run_id),
        "expires_at": pytest.approx(time.time() + 60, abs=5),
    }
