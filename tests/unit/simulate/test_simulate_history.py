"""`clickstream.simulate.history`: the past laid out as the archiver would have written it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from clickstream.errors import ConfigError
from clickstream.events.validate import validate_event
from clickstream.simulate.history import (
    BUFFER_S,
    HistoryConfig,
    HistoryReport,
    RawObject,
    describe,
    history_objects,
    parse_duration,
)

END = datetime(2026, 12, 7, 5, tzinfo=UTC)


def objects(config: HistoryConfig) -> tuple[list[RawObject], HistoryReport]:
    report = HistoryReport()
    return list(history_objects(config, report)), report


@pytest.fixture(scope="module")
def two_days() -> tuple[list[RawObject], HistoryReport]:
    return objects(HistoryConfig(end=END, duration=timedelta(days=2), users=1000, events_per_hour=400, seed=4))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7d", timedelta(days=7)), ("36h", timedelta(hours=36)), ("90m", timedelta(minutes=90)), ("0", timedelta(0))],
)
def test_durations_read_as_users_write_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_a_duration_is_described_as_it_was_written() -> None:
    assert [describe(parse_duration(t)) for t in ("7d", "1d", "36h", "90m", "1.5h")] == [
        "7 days",
        "1 day",
        "36 hours",
        "90 minutes",
        "90 minutes",
    ]


@pytest.mark.parametrize("text", ["7", "a week", "7w", "-1d", ""])
def test_a_duration_without_a_known_unit_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ConfigError, match=r"e\.g\. 7d, 36h or 90m"):
        parse_duration(text)


def test_every_event_is_archived_in_its_arrival_hour_before_the_end_and_valid_there(
    two_days: tuple[list[RawObject], HistoryReport],
) -> None:
    objs, report = two_days
    assert report.rejected == Counter()
    lines = 0
    for obj in objs:
        dt, hour, name = obj.key.split("/")[2:]
        assert obj.key.startswith("raw/events/") and name.startswith("history-simulated-")
        for line in obj.lines:
            event = orjson.loads(line)
            received = datetime.fromisoformat(event["received_at"].replace("Z", "+00:00"))
            assert (f"dt={received:%Y-%m-%d}", f"hour={received:%H}") == (dt, hour)
            assert END - timedelta(days=2, minutes=5) <= received < END
            stamp = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
            assert stamp <= received  # arrives after it happened
            # the collector's rules at the arrival time: the line is already the normalised event
            check = validate_event({k: v for k, v in event.items() if v is not None}, received_at=received)
            assert check.ok, check.errors
            lines += 1
    # the timeline's last few events fall at or after `end`: the live traffic's time, not history
    assert 2 * 24 * 400 - 20 <= lines == report.events <= 2 * 24 * 400
    # (at a few events an hour a night hour can be empty, as in a real small shop; not at this rate)
    assert len(report.hours) == 48 and len(objs) == report.objects
    # an object holds at most one buffer's arrivals (5 minutes)
    assert len(objs) >= 48 * 3600 / BUFFER_S * 0.9


def test_late_events_arrive_hours_later_and_retries_repeat_an_event_id(
    two_days: tuple[list[RawObject], HistoryReport],
) -> None:
    objs, report = two_days
    events = [orjson.loads(line) for obj in objs for line in obj.lines]
    delays = [
        datetime.fromisoformat(e["received_at"].replace("Z", "+00:00"))
        - datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
        for e in events
    ]
    on_time = sum(d < timedelta(seconds=60) for d in delays)
    assert on_time / len(events) > 0.95
    assert sum(d > timedelta(minutes=30) for d in delays) > 0.002 * len(events)  # a mobile app flushing late
    ids = Counter(e["event_id"] for e in events)
    assert report.distinct == len(ids) < len(events) and report.duplicates > 0


def test_users_return_across_days_and_the_traffic_follows_the_time_of_day(
    two_days: tuple[list[RawObject], HistoryReport],
) -> None:
    objs, report = two_days
    events = [orjson.loads(line) for obj in objs for line in obj.lines]
    days_of: dict[str, set[str]] = {}
    for e in events:
        days_of.setdefault(e["user_id"], set()).add(e["timestamp"][:10])
    assert sum(len(d) > 1 for d in days_of.values()) > 0.1 * len(days_of)  # returning users
    per_hour = Counter(int(e["timestamp"][11:13]) for e in events)
    assert per_hour[20] > 3 * per_hour[4]  # the evening peak against the night trough
    assert report.users == len(days_of)


def test_the_same_seed_writes_the_same_bytes() -> None:
    config = HistoryConfig(end=END, duration=timedelta(hours=3), users=50, events_per_hour=60, seed=11)
    first, second = objects(config)[0], objects(config)[0]
    assert [(o.key, o.lines) for o in first] == [(o.key, o.lines) for o in second]
    assert first  # and not trivially: the same bytes of a non-empty history


def test_a_history_needs_an_aware_end_and_a_positive_duration() -> None:
    with pytest.raises(ConfigError, match="timezone-aware"):
        HistoryConfig(end=datetime(2026, 12, 7), duration=timedelta(days=1)).sim_config()
    with pytest.raises(ConfigError, match="positive"):
        HistoryConfig(end=END, duration=timedelta(0)).sim_config()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--history", "a week"], "e.g. 7d, 36h or 90m"),
        (["--history", "0"], "must be positive"),
        (["--history", "7d", "--rate", "50"], "drop --rate"),
        (["--history", "7d", "--forever"], "drop --forever"),
    ],
)
def test_simulate_history_says_what_is_wrong_with_its_options(args: list[str], message: str) -> None:
    from click.testing import CliRunner

    from clickstream.commands.simulate import simulate

    done = CliRunner().invoke(simulate, args)
    assert done.exit_code == 2, done.output  # a usage error, not a traceback
    assert message in done.output


def test_simulate_history_defaults_to_a_small_shops_week_before_this_hour() -> None:
    from clickstream.commands.simulate import history_config

    now = datetime(2026, 12, 7, 5, 42, tzinfo=UTC)
    config = history_config({"history": "7d", "seed": 3}, now=now)
    assert (config.end, config.duration) == (datetime(2026, 12, 7, 5, tzinfo=UTC), timedelta(days=7))
    assert (config.users, config.events, config.seed) == (3000, 7 * 24 * 400, 3)
    assert history_config({"history": "2d", "events": 960, "users": 50}, now=now).events_per_hour == 20


def test_an_explicit_zero_late_or_duplicate_fraction_is_kept_with_history() -> None:
    from clickstream.commands.simulate import build_config, history_config

    now = datetime(2026, 12, 7, 5, 42, tzinfo=UTC)
    config = history_config({"history": "1d", "late_fraction": 0.0, "duplicate_fraction": 0.0}, now=now)
    assert (config.late_fraction, config.duplicate_fraction) == (0.0, 0.0)
    config = history_config({"history": "1d", "late_fraction": None, "duplicate_fraction": None}, now=now)
    assert (config.late_fraction, config.duplicate_fraction) == (0.02, 0.01)
    live, _, _ = build_config({"seed": 1, "late_fraction": None, "duplicate_fraction": None}, now=now)
    assert (live.late_fraction, live.duplicate_fraction) == (0.0, 0.0)
