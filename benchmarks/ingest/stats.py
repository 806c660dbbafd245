"""The benchmark's arithmetic: percentiles, per-scenario figures, ratios, the table. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of `values`, linearly interpolated (numpy's default); NaN if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"q={q}: expected 0..100")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99, mean and max of request latencies in milliseconds (NaN when there are none)."""
    if not latencies_ms:
        return {"p50": math.nan, "p90": math.nan, "p99": math.nan, "mean": math.nan, "max": math.nan}
    return {
        "p50": percentile(latencies_ms, 50),
        "p90": percentile(latencies_ms, 90),
        "p99": percentile(latencies_ms, 99),
        "mean": sum(latencies_ms) / len(latencies_ms),
        "max": max(latencies_ms),
    }


@dataclass(frozen=True)
class LoadResult:
    """What the load generator saw in its measurement window (requests completed inside it)."""

    seconds: float
    requests: int  # answered, any status
    ok: int  # 2xx answers
    errors: int  # non-2xx answers
    failures: int  # no answer: connection reset, timeout
    events: int  # events the server accepted (counted from 2xx answers)
    rejected: int = 0  # events a 2xx answer reported as rejected (partial batches)
    latency_ms: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)  # non-2xx status -> count
    drained: bool = True  # every in-flight request finished before the generator exited
    in_flight_at_end: int = 0  # requests still unanswered when the window closed
    oldest_in_flight_ms: float = 0.0  # how long the oldest of them had been waiting

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadResult:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class CpuSplit:
    """CPU seconds spent in the window, per role; `machine` is all busy CPU on the box."""

    server: float = 0.0
    loadgen: float = 0.0
    moto: float = 0.0
    machine: float = 0.0

    @property
    def other(self) -> float:
        """CPU used by processes outside the benchmark (other people's tests): the noise."""
        return max(0.0, self.machine - self.server - self.loadgen - self.moto)


DIRECT = "direct"  # the target of the no-HTTP scenario: there is no server


@dataclass(frozen=True)
class ScenarioResult:
    key: str  # a, b, c, ... (the brief's letters, e1/e2 for the peer's two loads)
    title: str
    target: str  # "clickstream", "naive peer", "direct"
    route: str  # "/v1/events", "/v1/track", "PutRecords"
    sink: str  # "null" or "kinesis"
    events_per_request: int
    concurrency: int
    load: LoadResult
    cpu: CpuSplit
    stream_events: int | None = None  # records that landed on the Kinesis stream inside the window
    window_wall: tuple[float, float] = (0.0, 0.0)  # epoch seconds when the window opened and closed

    @property
    def events_per_s(self) -> float:
        """Events acknowledged to the client (2xx) per second of the window."""
        return self.load.events / self.load.seconds if self.load.seconds > 0 else 0.0

    @property
    def stream_events_per_s(self) -> float | None:
        """Records that arrived on the stream per second of the window (Kinesis scenarios only)."""
        if self.stream_events is None or self.load.seconds <= 0:
            return None
        return self.stream_events / self.load.seconds

    @property
    def work_events(self) -> int:
        """Events the server got through in the window: landed on the stream if counted, else acknowledged."""
        return self.stream_events if self.stream_events is not None else self.load.events

    @property
    def requests_per_s(self) -> float:
        return self.load.requests / self.load.seconds if self.load.seconds > 0 else 0.0

    def cpu_percent(self, seconds: float) -> float:
        """CPU seconds as % of one core over the window (2 cores = 200 %)."""
        return 100.0 * seconds / self.load.seconds if self.load.seconds > 0 else 0.0

    def us_per_event(self, seconds: float) -> float:
        """CPU microseconds per event the server got through (`work_events`); NaN when none."""
        return 1e6 * seconds / self.work_events if self.work_events else math.nan

    def metric(self, name: str) -> float | None:
        """ "acked" (events_per_s) or "stream" (stream_events_per_s)."""
        return self.stream_events_per_s if name == "stream" else self.events_per_s

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cpu"]["other"] = self.cpu.other
        out["events_per_s"] = self.events_per_s
        out["requests_per_s"] = self.requests_per_s
        out["stream_events_per_s"] = self.stream_events_per_s
        out["server_us_per_event"] = self.us_per_event(self.cpu.server)
        out["moto_us_per_event"] = self.us_per_event(self.cpu.moto)
        return out


@dataclass(frozen=True)
class Ratio:
    name: str
    numerator: str  # scenario keys
    denominator: str
    metric: str  # "acked" or "stream"
    value: float | None  # None when a side is missing or measured zero


# (name, numerator, denominator, metric). Kinesis comparisons count events that landed on the
# stream: the peer's 500-event requests can outlast the window, so its acks undercount it.
RATIO_SPECS: tuple[tuple[str, str, str, str], ...] = (
    ("ours ÷ peer, batched, Kinesis sink", "b", "e1", "stream"),
    ("ours ÷ peer, single events, Kinesis sink", "d", "e2", "stream"),
    ("real ÷ null sink, batched (ours)", "b", "a", "acked"),
    ("real ÷ null sink, single events (ours)", "d", "c", "acked"),
    ("batched ÷ single events, null sink (ours)", "a", "c", "acked"),
    ("ours batched via HTTP ÷ direct PutRecords, same moto", "b", "f", "stream"),
)


def ratios(results: Mapping[str, ScenarioResult]) -> list[Ratio]:
    """Events/s ratios between scenarios of the same run (meaningful even on a noisy machine)."""
    out = []
    for name, num, den, metric in RATIO_SPECS:
        a, b = results.get(num), results.get(den)
        value = None
        if a is not None and b is not None:
            top, bottom = a.metric(metric), b.metric(metric)
            if top is not None and bottom:
                value = top / bottom
        out.append(Ratio(name, num, den, metric, value))
    return out


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


TABLE_HEADER = (
    "| | scenario | events/s | on stream/s | requests/s | p50 ms | p99 ms | non-2xx | server CPU | load-gen CPU "
    "| moto CPU | other CPU | server µs/event |"
)


def markdown_table(results: Sequence[ScenarioResult]) -> str:
    """The results as a Markdown table (CPU in % of one core; the box has two, so 200 % is all of it)."""
    lines = [TABLE_HEADER, _separator()]
    for r in results:
        lat = r.load.latency_ms
        errors = str(r.load.errors + r.load.failures)
        if r.load.failures:
            errors += f" ({r.load.failures} no answer)"
        p50, p99 = _num(lat.get("p50"), 1), _num(lat.get("p99"), 1)
        if not r.load.requests and r.load.in_flight_at_end:  # nothing finished: say how long they waited
            p50 = p99 = f"> {r.load.oldest_in_flight_ms:,.0f}"
        lines.append(
            f"| {r.key} | {r.title} | {_num(r.events_per_s)} | {_num(r.stream_events_per_s)} "
            f"| {_num(r.requests_per_s)} | {p50} | {p99} | {errors} "
            f"| {_num(r.cpu_percent(r.cpu.server))} % | {_num(r.cpu_percent(r.cpu.loadgen))} % "
            f"| {_num(r.cpu_percent(r.cpu.moto))} % | {_num(r.cpu_percent(r.cpu.other))} % "
            f"| {_num(r.us_per_event(r.cpu.server), 1) if r.target != DIRECT else 'n/a'} |"
        )
    return "\n".join(lines)


def _separator() -> str:
    return "|" + "---|" * (TABLE_HEADER.count("|") - 1)


def ratio_lines(items: Sequence[Ratio]) -> list[str]:
    """One Markdown bullet per ratio, e.g. `- ours ÷ peer, batched, Kinesis sink (b ÷ e1, stream): 12.30x`."""
    return [
        f"- {r.name} ({r.numerator} ÷ {r.denominator}, {r.metric}): {'n/a' if r.value is None else f'{r.value:.2f}x'}"
        for r in items
    ]
