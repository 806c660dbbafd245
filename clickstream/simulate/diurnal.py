"""Traffic by time of day, and the timeline that spreads N events over a span with that shape. Pure.

`Timeline.time_of(k)` answers "when is the k-th of `total` events due?": the span's traffic mass
(the integral of the hourly rate curve) is split into `total` equal parts, so there are more
events per minute at 14:00 than at 04:00 UTC. Past the span the curve simply continues.
"""

from __future__ import annotations

import math
from bisect import bisect_right

HOUR = 3600.0
# Relative traffic at the top of each UTC hour (linear in between): a night trough, a midday
# peak, a late-afternoon dip and the evening peak that shops see. Max 1.10, min 0.12.
HOURLY_RATE: tuple[float, ...] = (
    0.35, 0.26, 0.19, 0.15, 0.12, 0.14, 0.22, 0.36, 0.52, 0.68, 0.80, 0.90,  # 00-11
    1.00, 0.98, 0.95, 0.90, 0.88, 0.92, 1.00, 1.06, 1.10, 0.98, 0.76, 0.52,  # 12-23
)  # fmt: skip


def rate_at(epoch: float) -> float:
    """The relative traffic rate at `epoch` (seconds, UTC)."""
    hours = epoch / HOUR
    hour = math.floor(hours)
    frac = hours - hour
    a = HOURLY_RATE[hour % 24]
    b = HOURLY_RATE[(hour + 1) % 24]
    return a + (b - a) * frac


class Timeline:
    """Due times of `total` events spread over [start, start + span) (epoch seconds).

    With `diurnal=False` the rate is flat (events evenly spread), which is what a real-time run
    paced at a fixed rate needs.
    """

    def __init__(self, start: float, span: float, total: int, *, diurnal: bool = True) -> None:
        if span <= 0 or total <= 0:
            raise ValueError("span and total must be positive")
        self.start = start
        self.span = span
        self.total = total
        self.diurnal = diurnal
        # Segment boundaries (epoch) and the cumulative mass at each; segments end at hour marks.
        self._edges: list[float] = [start]
        self._mass: list[float] = [0.0]
        if diurnal:
            self._extend(start + span)
            self._per_event = self._mass_until(start + span) / total
        else:
            self._per_event = span / total

    def time_of(self, k: float) -> float:
        """When event number `k` (1-based, may exceed `total`) is due."""
        target = k * self._per_event
        if not self.diurnal:
            return self.start + target
        while target > self._mass[-1]:
            self._extend(self._edges[-1] + 24 * HOUR)
        i = bisect_right(self._mass, target) - 1
        t0 = self._edges[i]
        return t0 + _solve(rate_at(t0), _slope(t0), target - self._mass[i])

    def _extend(self, until: float) -> None:
        t = self._edges[-1]
        while t < until:
            nxt = (math.floor(t / HOUR) + 1) * HOUR
            width = nxt - t
            a = rate_at(t)
            self._mass.append(self._mass[-1] + a * width + _slope(t) * width * width / 2)
            self._edges.append(nxt)
            t = nxt

    def _mass_until(self, when: float) -> float:
        i = bisect_right(self._edges, when) - 1
        t0 = self._edges[i]
        x = when - t0
        return self._mass[i] + rate_at(t0) * x + _slope(t0) * x * x / 2


def _slope(t: float) -> float:
    """d(rate)/dt within the hour containing `t` (per second)."""
    hour = math.floor(t / HOUR)
    return (HOURLY_RATE[(hour + 1) % 24] - HOURLY_RATE[hour % 24]) / HOUR


def _solve(a: float, b: float, mass: float) -> float:
    """x >= 0 with a*x + b*x^2/2 = mass (the rate is a + b*x and stays positive)."""
    if abs(b) < 1e-15:
        return mass / a
    # The numerically stable root of b/2 x^2 + a x - mass = 0.
    return 2 * mass / (a + math.sqrt(max(a * a + 2 * b * mass, 0.0)))
