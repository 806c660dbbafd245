"""A run's interval: the data interval, unless a manual run names one in its conf."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clickstream.jobs.intervals import run_interval

START, END = datetime(2026, 11, 22, 10, tzinfo=UTC), datetime(2026, 11, 22, 11, tzinfo=UTC)


@pytest.mark.parametrize("conf", [None, {}, {"other": 1}])
def test_scheduled_runs_use_their_data_interval(conf: dict[str, object] | None) -> None:
    assert run_interval(START, END, conf) == (START, END)


def test_a_manual_run_names_an_open_hour_in_its_conf() -> None:
    conf = {"interval_start": "2026-11-22T21:00:00+00:00", "interval_end": "2026-11-22T22:00:00Z"}
    assert run_interval(START, END, conf) == (
        datetime(2026, 11, 22, 21, tzinfo=UTC),
        datetime(2026, 11, 22, 22, tzinfo=UTC),
    )


def test_a_half_named_interval_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match="expected ISO interval_start and interval_end"):
        run_interval(START, END, {"interval_start": "2026-11-22T21:00:00Z"})


def test_a_manual_run_with_neither_a_logical_date_nor_a_conf_says_how_to_trigger_it() -> None:
    with pytest.raises(ValueError, match="trigger it with a logical date, or with the conf"):
        run_interval(None, None, None)
