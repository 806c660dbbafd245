"""The ingest benchmark's pure helpers at toy size, so `python -m benchmarks.ingest` cannot rot. No timing."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from benchmarks.ingest import fixtures
from benchmarks.ingest.loadgen import Window, accepted_count
from benchmarks.ingest.report import goal_check, render
from benchmarks.ingest.scenarios import SCENARIOS
from benchmarks.ingest.stats import (
    RATIO_SPECS,
    CpuSplit,
    LoadResult,
    ScenarioResult,
    latency_summary,
    markdown_table,
    percentile,
    ratios,
)
from clickstream.constants import LOCAL_WRITE_KEY, MAX_BATCH_EVENTS, MAX_REQUEST_BYTES
from clickstream.events.validate import validate_event

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def result(key: str, events: int, *, seconds: float = 10.0, stream: int | None = None, **cpu: float) -> ScenarioResult:
    load = LoadResult(seconds=seconds, requests=events, ok=events, errors=0, failures=0, events=events)
    return ScenarioResult(key, key, "clickstream", "/v1/events", "null", 500, 16, load, CpuSplit(**cpu), stream)


# --- stats ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),  # interpolated between the middle two
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),  # order does not matter
        (list(map(float, range(101))), 99, 99.0),
    ],
)
def test_percentile_interpolates_like_numpy(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan_and_bad_q_is_rejected() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary() -> None:
    summary = latency_summary([10.0, 20.0, 30.0])
    assert summary["p50"] == 20.0 and summary["max"] == 30.0 and summary["mean"] == pytest.approx(20.0)
    assert all(math.isnan(v) for v in latency_summary([]).values())


def test_rates_cpu_and_other_cpu() -> None:
    r = result("a", 50_000, seconds=2.0, server=1.5, loadgen=0.1, moto=0.0, machine=2.0)
    assert r.events_per_s == 25_000 and r.requests_per_s == 25_000
    assert r.cpu.other == pytest.approx(0.4)  # what other processes on the box used
    assert r.cpu_percent(r.cpu.server) == pytest.approx(75.0)  # % of one core
    assert r.us_per_event(r.cpu.server) == pytest.approx(30.0)
    assert r.stream_events_per_s is None


def test_per_event_cpu_counts_landed_events_when_the_stream_was_counted() -> None:
    # The peer's long batches finish outside the window: nothing acked, but events landed.
    r = result("e1", 0, seconds=4.0, stream=400, server=2.0)
    assert r.events_per_s == 0 and r.stream_events_per_s == 100
    assert r.us_per_event(r.cpu.server) == pytest.approx(5_000.0)


def test_ratios_use_each_specs_metric_and_tolerate_missing_sides() -> None:
    results = {
        "a": result("a", 800_000),
        "b": result("b", 40_000, stream=50_000),
        "c": result("c", 40_000),
        "e1": result("e1", 0, stream=5_000),
    }
    by_pair = {(r.numerator, r.denominator): r.value for r in ratios(results)}
    assert by_pair[("b", "e1")] == pytest.approx(10.0)  # stream vs stream: the peer's acks would give ∞
    assert by_pair[("b", "a")] == pytest.approx(0.05)  # acked vs acked
    assert by_pair[("a", "c")] == pytest.approx(20.0)
    assert by_pair[("d", "e2")] is None  # not measured
    assert len(by_pair) == len(RATIO_SPECS)


def test_table_and_report_render_every_scenario() -> None:
    results = {"a": result("a", 600_000, server=15.0, machine=20.0), "e1": result("e1", 0, stream=3000)}
    table = markdown_table(list(results.values()))
    lines = table.splitlines()
    assert len(lines) == 4 and all(line.count("|") == lines[0].count("|") for line in lines)
    assert "60,000" in lines[2]
    goal = goal_check(results, None)
    assert goal["batched_null_sink"] == {"events_per_s": 60_000, "met": True}
    assert goal["ceiling_events_per_s_if_server_had_both_cores"] == pytest.approx(80_000)
    assert "MET" in render(list(results.values()), ratios(results), goal, None)


def test_scenarios_cover_the_brief() -> None:
    keys = [s.key for s in SCENARIOS]
    assert sorted(keys) == ["a", "b", "c", "d", "e1", "e2", "f"]
    servers = [s.server for s in SCENARIOS]
    # Scenarios sharing a server are adjacent, so each server starts once when it drains.
    assert all(servers.index(x) == i or servers[i - 1] == x for i, x in enumerate(servers))


# --- fixtures ---------------------------------------------------------------------------


def test_builtin_events_are_deterministic_valid_and_realistic() -> None:
    events = fixtures.builtin_events(300, start=START, seed=3)
    assert events == fixtures.builtin_events(300, start=START, seed=3)
    assert events != fixtures.builtin_events(300, start=START, seed=4)
    assert {e["event_type"] for e in events} >= {"page_view", "click", "purchase"}
    assert all(e["user_agent"] and e["ip_address"] for e in events)
    received = START + fixtures.SPAN
    for e in events:
        assert validate_event(e, received_at=received).ok, e


@pytest.mark.parametrize("source", ["builtin", "auto"])
def test_fixtures_serialise_within_the_collector_limits(source: str) -> None:
    used, events = fixtures.make_events(1_200, start=START, source=source)
    assert used in ("builtin", "simulator") and len(events) == 1_200
    fx = fixtures.build_fixtures(events, used)
    assert fx.batch_sizes == [500, 500, 200]
    assert len(fx.singles) == len(fx.records) == 1_200
    for body, size in zip(fx.batches, fx.batch_sizes, strict=True):
        assert len(body) <= MAX_REQUEST_BYTES and size <= MAX_BATCH_EVENTS
        assert len(orjson.loads(body)["events"]) == size
    received = START + timedelta(hours=1)
    assert all(validate_event(orjson.loads(s), received_at=received).ok for s in fx.singles[:50])


def test_fixtures_round_trip_through_the_file(tmp_path: Path) -> None:
    fx = fixtures.build_fixtures(fixtures.builtin_events(10, start=START), "builtin")
    fixtures.save(fx, tmp_path / "f.pickle")
    data = fixtures.load(tmp_path / "f.pickle")
    assert data["batches"] == fx.batches and data["batch_sizes"] == [10] and data["records"] == fx.records


# --- the load generator's wire helpers ----------------------------------------------------


def test_http_request_is_a_complete_keep_alive_post() -> None:
    raw = fixtures.http_request("127.0.0.1", 9000, "/v1/track", b'{"a":1}')
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/track HTTP/1.1\r\n") and body == b'{"a":1}'
    assert f"X-Write-Key: {LOCAL_WRITE_KEY}".encode() in head and b"Content-Length: 7" in head


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\ncontent-type: application/json\r\n\r\n", (200, 12, False, True)),
        (b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n", (503, None, True, True)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", (200, 0, False, False)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", (200, 2, False, False)),
    ],
)
def test_parse_response_head(head: bytes, expected: tuple[int, int | None, bool, bool]) -> None:
    h = fixtures.parse_response_head(head)
    assert (h.status, h.content_length, h.chunked, h.keep_alive) == expected


def test_parse_response_head_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        fixtures.parse_response_head(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_accepted_count_reads_the_answer_or_trusts_the_request() -> None:
    assert accepted_count(b'{"status":"partial","accepted":498,"rejected":2}', 500) == (498, 2)
    assert accepted_count(b'{"ok":true}', 500) == (500, 0)
    assert accepted_count(b"not json", 1) == (1, 0)


def test_window_counts_only_completions_inside_it() -> None:
    w = Window(start=10.0, end=20.0)
    w.record(9.0, 9.5, 200, 500)  # warm-up: ignored
    w.record(9.0, 10.5, 200, 500)  # started in warm-up, finished inside: counted
    w.record(11.0, 12.0, 503, 0)
    w.record(19.0, 21.0, 200, 500)  # finished after the window: ignored
    w.fail(15.0)
    w.in_flight[0] = 14.0
    w.close(20.0)
    r = w.result(drained=False)
    assert (r.requests, r.ok, r.errors, r.failures, r.events) == (2, 1, 1, 1, 500)
    assert r.statuses == {"503": 1} and r.seconds == 10.0
    assert r.in_flight_at_end == 1 and r.oldest_in_flight_ms == pytest.approx(6_000.0)
    assert r.latency_ms["max"] == pytest.approx(1_500.0)
