"""The traffic generator: `generate(config)` yields exactly `config.events` raw events. Pure.

No clock and no global RNG: the start time and the seed are inputs, so the same config gives
the same events, byte for byte.

How events are placed in time: the `Timeline` says when the k-th event is due (diurnal shape).
Sessions run concurrently (a heap of in-progress sessions ordered by their next event); a new
session starts whenever the timeline wants an event earlier than any running session offers
one. So the event rate follows the curve and sessions keep their natural gaps. Sessions already
under way at `start` are joined midway, so a run starts in a steady state, not with an empty site.

The output is in timestamp order, except for the knobs that break it on purpose:

- late events (`late_fraction`): held back and sent minutes to hours after their timestamp,
  like a mobile app flushing its queue; still-held ones are flushed before the run ends.
- duplicates (`duplicate_fraction`): an event already sent is sent again a little later with
  the same event_id, as a producer retry would.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from clickstream import constants as c
from clickstream.errors import ConfigError
from clickstream.simulate.catalog import default_catalog
from clickstream.simulate.diurnal import Timeline
from clickstream.simulate.journeys import Event, SessionBuilder, join_midway
from clickstream.simulate.traffic import DEFAULT_SECOND_TAB_SHARE, UserPool

WARM_UP_S = 600.0  # over the first 10 minutes, fewer and fewer sessions are joined midway (see below)
SESSION_GAP_S = c.SESSION_GAP_SECONDS  # a user's next session starts after the platform's inactivity timeout
LATE_MIN_S, LATE_MAX_S = 2 * 60.0, 4 * 3600.0  # how late a late event arrives (log-uniform)
RECENT_FOR_RETRY = 64  # a duplicate re-sends one of the last N events (a retry comes soon after)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. `start` must be timezone-aware; timestamps cover [start, start + span)."""

    start: datetime
    users: int = 100
    events: int = 1000
    seed: int = 0
    span: timedelta = timedelta(hours=1)
    error_rate: float = 0.02
    late_fraction: float = 0.0
    duplicate_fraction: float = 0.0
    diurnal: bool = True  # False: a flat rate, for real-time runs paced at a fixed rate
    currency: str = "USD"
    # `users` is the population at the start: when all are busy, new users arrive, except for this
    # share of such sessions, which are a second tab of a busy user (traffic.UserPool)
    second_tab_share: float = DEFAULT_SECOND_TAB_SHARE

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ConfigError("SimConfig.start must be timezone-aware (UTC)")
        if self.users < 1 or self.events < 0:
            raise ConfigError("users must be >= 1 and events >= 0")
        if self.span.total_seconds() <= 0:
            raise ConfigError("span must be positive")
        if not 0 <= self.error_rate < 1:
            raise ConfigError(f"error_rate={self.error_rate}: expected 0 <= rate < 1")
        for name in ("late_fraction", "duplicate_fraction", "second_tab_share"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: expected 0 <= fraction < 1")


@dataclass
class SimStats:
    """What the generator has produced so far (updated as events are yielded)."""

    events: int = 0
    sessions: int = 0
    duplicates: int = 0
    late: int = 0
    errors: int = 0  # events with http_status >= 400
    users_seen: int = 0
    second_tabs: int = 0  # sessions opened as a second tab of a user already in a session
    # {user_id: persona name} of the users seen so far (what tests check the personas against)
    personas: Callable[[], dict[str, str]] = field(default=dict, repr=False, compare=False)


@dataclass
class EventStream(Iterator[Event]):
    """The iterator `generate` returns; `stats` describes what was yielded so far."""

    stats: SimStats
    _events: Iterator[Event] = field(repr=False)

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        return next(self._events)


def generate(config: SimConfig) -> EventStream:
    """Exactly `config.events` raw events (dicts), in timestamp order except late events and duplicates."""
    stats = SimStats()
    return EventStream(stats, _generate(config, stats))


def _generate(config: SimConfig, stats: SimStats) -> Iterator[Event]:
    rng = random.Random(config.seed)
    users = UserPool(config.users, rng, config.seed, second_tab_share=config.second_tab_share)
    stats.personas = users.persona_of
    builder = SessionBuilder(default_catalog(), rng, error_rate=config.error_rate, currency=config.currency)
    total, dup_p, late_p = config.events, config.duplicate_fraction, config.late_fraction
    originals = max(1, round(total * (1 - dup_p)))  # duplicates take the other slots
    start = config.start.astimezone(UTC).timestamp()
    timeline = Timeline(start, config.span.total_seconds(), originals, diurnal=config.diurnal)
    running: list[tuple[float, int, list[Event], int]] = []  # (next ts, tie-break, session events, index)
    held: list[tuple[float, int, Event]] = []  # late events by release time
    recent: deque[Event] = deque(maxlen=RECENT_FOR_RETRY)
    seq = 0
    taken = 0  # events taken from sessions (on time or held)

    def next_original() -> Event:
        nonlocal seq, taken
        while True:
            due = timeline.time_of(taken + 1)
            if not running or due < running[0][0]:
                user = users.pick(rng, due)
                events = builder.build(user, due)
                # A site is never empty: at `start` many sessions are already under way. Joining
                # some midway (fewer as the run's own sessions take over) avoids a run that
                # begins with nothing but landing pages.
                warm = (due - start) / WARM_UP_S
                if warm < 1 and rng.random() > warm:
                    events = join_midway(events, due, rng)
                user.busy_until = events[-1]["timestamp"] + SESSION_GAP_S
                stats.sessions += 1
                seq += 1
                heapq.heappush(running, (events[0]["timestamp"], seq, events, 0))
            ts = running[0][0]
            if held and held[0][0] <= ts:
                stats.late += 1
                return heapq.heappop(held)[2]
            _, order, events, i = running[0]
            if i + 1 < len(events):
                heapq.heapreplace(running, (events[i + 1]["timestamp"], order, events, i + 1))
            else:
                heapq.heappop(running)
            taken += 1
            event = events[i]
            if late_p and rng.random() < late_p:
                delay = math.exp(rng.uniform(math.log(LATE_MIN_S), math.log(LATE_MAX_S)))
                seq += 1
                heapq.heappush(held, (ts + delay, seq, event))
                continue
            return event

    for sent in range(total):
        if held and total - sent <= len(held):  # the run is ending: flush what is still held
            event = heapq.heappop(held)[2]
            stats.late += 1
        elif dup_p and recent and rng.random() < dup_p:
            event = _copy(rng.choice(recent))
            stats.duplicates += 1
        else:
            event = next_original()
            recent.append(event)
        if type(event["timestamp"]) is float:  # first time out (duplicates are already formatted)
            event["timestamp"] = rfc3339(event["timestamp"])
        if event.get("http_status", 200) >= 400:
            stats.errors += 1
        stats.events += 1
        stats.users_seen = users.created
        stats.second_tabs = users.second_tabs
        yield event


def _copy(event: Event) -> Event:
    """A resend of `event`: equal, but not the same object (a sink may mutate what it gets)."""
    copy = dict(event)
    if "properties" in copy:
        copy["properties"] = dict(copy["properties"])
    return copy


def rfc3339(epoch: float) -> str:
    """`2026-11-22T14:03:05.123Z`: UTC with milliseconds, as the contract stores timestamps."""
    ms = round(epoch * 1000)
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
