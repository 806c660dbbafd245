"""run_simulation (pacing, stopping, summary) with a fake clock, and the `clickstream simulate` CLI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from clickstream.cli import main
from clickstream.commands.simulate import build_config, print_summary
from clickstream.simulate.generator import SimConfig, generate
from clickstream.simulate.run import TokenBucket, run_simulation
from clickstream.simulate.sinks import SendResult


class ListSink:
    """Keeps what it is sent; rejects events whose id ends in '0' (reason "odd_reason")."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.closed = False

    def send(self, batch: list[dict[str, Any]]) -> SendResult:
        self.batches.append(batch)
        bad = sum(e["event_id"].endswith("0") for e in batch)
        return SendResult(len(batch) - bad, bad, Counter({"odd_reason": bad} if bad else {}))

    def close(self) -> None:
        self.closed = True


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


def test_fast_run_sends_everything_in_batches_and_summarises(make_config: Callable[..., SimConfig]) -> None:
    config = make_config(events=1234, duplicate_fraction=0.05, late_fraction=0.05)
    sink, t = ListSink(), FakeTime()
    summary = run_simulation(config, sink, batch_size=500, clock=t.clock, sleep=t.sleep)
    assert [len(b) for b in sink.batches] == [500, 500, 234]
    assert [e for b in sink.batches for e in b] == list(generate(config))
    assert sink.closed and t.slept == 0
    sent_ids = [e["event_id"] for b in sink.batches for e in b]
    assert summary.sent == 1234 and summary.accepted + summary.rejected == 1234
    assert summary.rejected == sum(i.endswith("0") for i in sent_ids) == summary.rejected_by_reason["odd_reason"]
    assert summary.duplicates == len(sent_ids) - len(set(sent_ids)) > 0
    assert summary.late > 0 and summary.stopped_by == "events"
    data = summary.as_dict()
    assert orjson.loads(orjson.dumps(data))["rejected_by_reason"] == {"odd_reason": summary.rejected}


def test_rate_paces_sending_with_small_batches(make_config: Callable[..., SimConfig]) -> None:
    sink, t = ListSink(), FakeTime()
    summary = run_simulation(make_config(events=1000), sink, rate=100, clock=t.clock, sleep=t.sleep)
    assert summary.sent == 1000
    assert t.slept == pytest.approx(9.8)  # 1000 events at 100/s, the first batch of 20 at once
    assert {len(b) for b in sink.batches} == {20}  # 5 batches a second
    assert summary.rate == pytest.approx(100, rel=0.03)


def test_duration_stops_a_paced_run_early(make_config: Callable[..., SimConfig]) -> None:
    sink, t = ListSink(), FakeTime()
    summary = run_simulation(
        make_config(events=10_000, duplicate_fraction=0.1), sink, rate=200, duration=3.0, clock=t.clock, sleep=t.sleep
    )
    assert summary.stopped_by == "duration"
    assert 560 <= summary.sent <= 600 and t.now - 1000.0 <= 3.0
    sent = [e["event_id"] for b in sink.batches for e in b]
    assert summary.duplicates == len(sent) - len(set(sent))  # counts only what was sent


def test_token_bucket_banks_at_most_its_capacity() -> None:
    bucket = TokenBucket(rate=10, capacity=5, now=0.0)
    assert bucket.wait(5, now=0.0) == 0.0  # starts full
    assert bucket.wait(5, now=0.0) == pytest.approx(0.5)
    assert bucket.wait(5, now=100.0) == 0.0  # 100 s idle banks only 5 tokens
    assert bucket.wait(5, now=100.0) == pytest.approx(0.5)


# --- CLI -----------------------------------------------------------------------------------------
def test_cli_file_sink_is_reproducible_with_seed_and_start(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["simulate", "--sink", "file", "--events", "300", "--seed", "5", "--start", "2026-11-22T10:00:00Z"]
    outputs = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.ndjson"
        result = runner.invoke(main, [*args, "--output", str(path), "--json", "--late-fraction", "0.1"])
        assert result.exit_code == 0, result.output
        assert orjson.loads(result.output)["sent"] == 300
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 300
    first = orjson.loads(outputs[0].splitlines()[0])
    assert first["timestamp"].startswith("2026-11-22T10:00")


def test_cli_help_explains_every_option_with_its_default() -> None:
    text = CliRunner().invoke(main, ["simulate", "--help"], terminal_width=200).output
    for option in ("--sink", "--url", "--output", "--users", "--events", "--rate", "--duration", "--seed", "--start",
                   "--error-rate", "--late-fraction", "--duplicate-fraction", "--batch-size", "--quiet"):  # fmt: skip
        assert option in text
    assert text.count("default") >= 14


def test_cli_reports_an_unreachable_collector_clearly() -> None:
    result = CliRunner().invoke(main, ["simulate", "--url", "http://127.0.0.1:9", "--events", "5", "--quiet"])
    assert result.exit_code == 1
    assert "cannot reach the collector at http://127.0.0.1:9/v1/events" in result.output


NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)


def opts(**overrides: Any) -> dict[str, Any]:
    return {"start": None, "seed": 1, **overrides}


def test_paced_runs_have_live_flat_timestamps() -> None:
    config, rate, duration = build_config(opts(rate=50.0, duration=60.0), now=NOW)
    assert (rate, duration, config.events) == (50.0, 60.0, 3000)
    assert config.start == NOW and config.span == timedelta(seconds=60) and not config.diurnal
    assert config.users == 5000  # enough users for the sessions under way at 50 events/s


def test_fast_runs_end_now_so_nothing_is_in_the_future() -> None:
    config, rate, _ = build_config(opts(), now=NOW)
    assert rate is None and config.events == 1000 and config.diurnal
    assert config.start + config.span == NOW
    assert config.users == 50
    assert build_config(opts(events=100_000), now=NOW)[0].users == 5000
    pinned = build_config(opts(start="2026-01-01T00:00:00", span=60.0), now=NOW)[0]
    assert pinned.start == datetime(2026, 1, 1, tzinfo=UTC) and pinned.span == timedelta(seconds=60)


def test_print_summary_returns_the_dict(
    make_config: Callable[..., SimConfig], capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run_simulation(make_config(events=50), ListSink())
    data = print_summary(summary)
    assert data["sent"] == 50 and "rate" in data
    assert "sent        50 events" in capsys.readouterr().err
