"""`clickstream.deadline`: work started for a request stops before the request's deadline."""

from __future__ import annotations

from support.clock import ManualClock

from clickstream.deadline import RESPONSE_MARGIN_SECONDS, budget, deadline_in


def test_without_a_deadline_the_timeout_stands() -> None:
    assert budget(300.0) == 300.0


def test_a_deadline_shortens_the_wait_by_the_time_left_less_the_margin() -> None:
    clock = ManualClock()
    with deadline_in(29.0, clock=clock):
        assert budget(30.0, clock=clock) == 29.0 - RESPONSE_MARGIN_SECONDS  # the query API's case
        assert budget(5.0, clock=clock) == 5.0  # a shorter timeout of its own stands
        clock.now += 25.0
        assert budget(30.0, clock=clock) == 4.0 - RESPONSE_MARGIN_SECONDS
        clock.now += 10.0
        assert budget(30.0, clock=clock) == 0.0  # past it: nothing, never negative
    assert budget(30.0, clock=clock) == 30.0  # the block's end clears it


def test_nested_deadlines_restore_the_outer_one() -> None:
    clock = ManualClock()
    with deadline_in(20.0, clock=clock):
        with deadline_in(10.0, clock=clock):
            assert budget(60.0, clock=clock) == 10.0 - RESPONSE_MARGIN_SECONDS
        assert budget(60.0, clock=clock) == 20.0 - RESPONSE_MARGIN_SECONDS
