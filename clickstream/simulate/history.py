"""A lake's past: days of simulated traffic laid out in the raw archive as if it had arrived live. Pure.

`history_objects(config)` runs the generator over the past (`SimConfig` with the diurnal curve,
returning users, late events and producer retries) and yields the raw objects the archiver
would have written: each event validated and normalised the way the collector does at its
arrival time, grouped by arrival hour into NDJSON objects of at most `BUFFER_S` of arrivals,
the Firehose buffer. The caller writes them (`clickstream.commands.simulate`); the batch DAGs
then compact them through an Airflow backfill.

When an event arrives: its timestamp plus a delivery delay of `DELIVERY_MIN_S`..`DELIVERY_MAX_S`,
and never before the events sent ahead of it. A late event (held back by the generator and sent
minutes to hours after its timestamp) therefore lands in a later arrival hour, and a producer
retry lands beside the original's: the compaction's dedupe and late-object rules see what they
see live.

The live speed layer never sees these events (its lateness policy would rightly reject week-old
ones), so the hours they cover are recorded (`HistoryReport.hours`) and reconciliation leaves
them out (`clickstream.jobs.reconcile`).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from clickstream import constants as c
from clickstream.errors import ConfigError
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Limits
from clickstream.simulate.generator import SimConfig, generate

HISTORY_SOURCE: Final = "history"  # object names: raw/events/dt=…/hour=…/history-<shard>-<position>.ndjson.gz
HISTORY_SHARD: Final = "simulated"
POSITION_DIGITS: Final = 12
BUFFER_S: Final = 300.0  # one object per 5 minutes of arrivals, Firehose's longest buffer
DELIVERY_MIN_S, DELIVERY_MAX_S = 0.05, 2.0  # collector → stream → archive, for an event sent on time
HOUR_S: Final = 3600
DEFAULT_EVENTS_PER_HOUR: Final = 400  # a small shop's average hour (the diurnal curve shapes each one)
DEFAULT_USERS: Final = 3000
DEFAULT_LATE_FRACTION: Final = 0.02
DEFAULT_DUPLICATE_FRACTION: Final = 0.01

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$")
_UNIT_S: Final = {"d": 86400, "h": 3600, "m": 60}


def parse_duration(text: str) -> timedelta:
    """`7d`, `36h`, `90m` → a timedelta; `0` or `0d` → zero (no history)."""
    if text.strip() == "0":
        return timedelta(0)
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"history {text!r}: expected a number and a unit, e.g. 7d, 36h or 90m (0: none)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


def describe(duration: timedelta) -> str:
    """`7 days`, `36 hours`, `90 minutes`: a duration as `parse_duration` reads it."""
    seconds = duration.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds / 3600:g} hours"


@dataclass(frozen=True)
class HistoryConfig:
    """Simulate [end - duration, end): `end` is usually the start of the current hour."""

    end: datetime
    duration: timedelta
    users: int = DEFAULT_USERS
    events_per_hour: int = DEFAULT_EVENTS_PER_HOUR
    seed: int = 0
    late_fraction: float = DEFAULT_LATE_FRACTION
    duplicate_fraction: float = DEFAULT_DUPLICATE_FRACTION

    @property
    def start(self) -> datetime:
        return self.end - self.duration

    @property
    def events(self) -> int:
        return round(self.events_per_hour * self.duration.total_seconds() / HOUR_S)

    def sim_config(self) -> SimConfig:
        if self.end.tzinfo is None:
            raise ConfigError("HistoryConfig.end must be timezone-aware (UTC)")
        if self.duration.total_seconds() <= 0:
            raise ConfigError("history duration must be positive")
        return SimConfig(
            start=self.start.astimezone(UTC),
            users=self.users,
            events=self.events,
            seed=self.seed,
            span=self.duration,
            late_fraction=self.late_fraction,
            duplicate_fraction=self.duplicate_fraction,
        )


@dataclass(frozen=True)
class RawObject:
    key: str
    lines: list[bytes]


@dataclass
class HistoryReport:
    """What `history_objects` produced (filled in as objects are yielded)."""

    events: int = 0  # archived (valid) events, duplicates included
    distinct: int = 0  # distinct event ids among them: what the curated table holds once compacted
    objects: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> events the contract refused
    hours: set[str] = field(default_factory=set)  # arrival hours written, "YYYY-MM-DDTHH"
    event_hours: set[str] = field(default_factory=set)  # event-time hours the events fall in
    sessions: int = 0
    users: int = 0
    late: int = 0
    duplicates: int = 0


def arrival_hour_key(epoch_hour: int, position: int) -> str:
    """The object key, in the archiver's layout: `raw/events/dt=…/hour=…/<source>-<shard>-<position>.ndjson.gz`."""
    hour = datetime.fromtimestamp(epoch_hour * HOUR_S, UTC)
    return (
        f"{c.RAW_EVENTS_PREFIX}/dt={hour:%Y-%m-%d}/hour={hour:%H}/"
        f"{HISTORY_SOURCE}-{HISTORY_SHARD}-{position:0{POSITION_DIGITS}d}.ndjson.gz"
    )


def history_objects(config: HistoryConfig, report: HistoryReport, limits: Limits | None = None) -> Iterator[RawObject]:
    """The raw objects of the simulated past, in arrival order (see the module doc)."""
    sim = config.sim_config()
    rng = random.Random(config.seed ^ 0x5EED)
    stream = generate(sim)
    last_arrival = config.end.timestamp() - 0.001
    clock = 0.0  # the latest arrival so far: nothing arrives before what was sent ahead of it
    window = -1  # the current object's buffer window (arrival epoch // BUFFER_S)
    lines: list[bytes] = []
    ids: set[str] = set()
    position = 0
    first_position = 0
    limits = limits or Limits()
    for raw in stream:
        sent = _epoch(raw["timestamp"])
        if sent > last_arrival:  # the timeline's last moments reach past `end`: live traffic's time
            continue
        # arrivals stay before `end`: what the live stack receives from then on is not history
        clock = min(max(clock, sent) + rng.uniform(DELIVERY_MIN_S, DELIVERY_MAX_S), last_arrival)
        slot = int(clock // BUFFER_S)
        if slot != window and lines:
            yield _flush(report, window, first_position, lines)
            lines = []
        if not lines:
            window, first_position = slot, position
        received = datetime.fromtimestamp(clock, UTC)
        result = validate_event(raw, received_at=received, limits=limits)
        position += 1
        if not result.ok or result.event is None:
            report.rejected.update(err.reason for err in result.errors)
            continue
        lines.append(encode_event(result.event))
        report.events += 1
        ids.add(result.event["event_id"])
        report.event_hours.add(raw["timestamp"][:13])
    if lines:
        yield _flush(report, window, first_position, lines)
    report.distinct = len(ids)
    stats = stream.stats
    report.sessions, report.users, report.late, report.duplicates = (
        stats.sessions,
        stats.users_seen,
        stats.late,
        stats.duplicates,
    )


def _flush(report: HistoryReport, window: int, first_position: int, lines: list[bytes]) -> RawObject:
    epoch_hour = int(window * BUFFER_S // HOUR_S)
    report.objects += 1
    report.hours.add(datetime.fromtimestamp(epoch_hour * HOUR_S, UTC).strftime("%Y-%m-%dT%H"))
    return RawObject(arrival_hour_key(epoch_hour, first_position), lines)


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
