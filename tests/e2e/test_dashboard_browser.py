"""The live dashboard in a real browser (Debian's chromium driven by Playwright), over the real
pipeline: events on the Kinesis stream of the embedded AWS server, applied by the real speed
layer (`SpeedProcessor`, whose per-shard live feed the API serves) and archived by the real raw
archiver, served by the real API app under uvicorn. Nothing of ours is mocked.

Screenshots are kept in test-artifacts/dashboard/ (git-ignored) for CI to upload.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.ports import free_port

from clickstream.adapters import _clients
from clickstream.adapters.streams import KinesisWriter, StreamRecord
from clickstream.emulated.event_source_mapping.kinesis import IDLE_READ_SECONDS
from clickstream.emulated.firehose.archiver import build_archiver
from clickstream.emulated.firehose.batching import FlushPolicy
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Settings
from clickstream.simulate.generator import SimConfig, generate
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import build_processor

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
VIEWPORT = {"width": 1366, "height": 768}  # a laptop screen: everything must fit without scrolling
LIVE_WITHIN_S = 2.0

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs Debian's chromium at {CHROMIUM}")


# --- the pipeline: stream → speed layer + raw archive ---------------------------------------------


class Pipeline:
    """The speed layer and the raw archiver following the Kinesis stream in background threads,
    as the local stack's consumers do (the archiver flushes at once instead of every 10 s)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kinesis = _clients.client("kinesis", settings)
        self.writer = KinesisWriter(settings.names.stream, client=self.kinesis)
        self.speed = build_processor(settings)
        self.archiver = build_archiver(settings, transport="kinesis", policy=FlushPolicy(max_age_seconds=0))
        self.applied = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._guard, args=(self._speed_loop,), daemon=True),
            threading.Thread(target=self._guard, args=(self._archive_loop,), daemon=True),
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)

    def send(self, events: list[dict[str, Any]]) -> None:
        self.writer.write([StreamRecord(key=e["user_id"], data=encode_event(e)) for e in events])

    def wait_for(self, n: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.applied < n or self.archiver.stats.records_archived < n:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, (
                f"pipeline: {self.applied} applied, {self.archiver.stats.records_archived} archived of {n}"
            )
            time.sleep(0.05)

    def _guard(self, loop: Any) -> None:
        try:
            loop()
        except BaseException as exc:  # surfaced by wait_for
            self.errors.append(exc)

    def _speed_loop(self) -> None:
        stream = self.settings.names.stream
        iterators = {
            s["ShardId"]: self.kinesis.get_shard_iterator(
                StreamName=stream, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for s in self.kinesis.list_shards(StreamName=stream)["Shards"]
        }
        while not self._stop.is_set():
            for shard, iterator in iterators.items():
                page = self.kinesis.get_records(ShardIterator=iterator, Limit=1000)
                iterators[shard] = page["NextShardIterator"]
                records = [
                    InRecord(
                        int(r["SequenceNumber"]), int(r["ApproximateArrivalTimestamp"].timestamp() * 1000), r["Data"]
                    )
                    for r in page["Records"]
                ]
                if records:
                    self.speed.process(shard, records)
                    self.applied += len(records)
            time.sleep(IDLE_READ_SECONDS)  # an idle shard is read as often as the stream consumer does

    def _archive_loop(self) -> None:
        while not self._stop.is_set():
            self.archiver.step()
        self.archiver.flush_all()


def stream_events(n: int, *, now: datetime, seed: int = 11) -> list[dict[str, Any]]:
    """Simulator events from the last 20 minutes, as the collector puts them on the stream."""
    config = SimConfig(start=now - timedelta(minutes=20), span=timedelta(minutes=15), events=n, users=30,
                       seed=seed, error_rate=0.08, diurnal=False)  # fmt: skip
    out = []
    for raw in generate(config):
        result = validate_event(raw, received_at=now)
        assert result.event is not None, result
        out.append(result.event)
    return out


# --- the API under uvicorn ----------------------------------------------------------------------


@pytest.fixture
def api_url(settings: Settings) -> Iterator[str]:
    import uvicorn

    from clickstream.api.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def get_json(url: str, key: str | None) -> Any:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return orjson.loads(response.read())


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


# --- the tests -------------------------------------------------------------------------------------


def number(text: str) -> Decimal:
    """A card's figure as shown ("1,234", "≈56", "7.9%", "1,234.50") → its number (percent → fraction)."""
    cleaned = text.replace(",", "").replace("≈", "").strip()
    if cleaned.endswith("%"):
        return Decimal(cleaned[:-1]) / 100
    return Decimal(cleaned)


def card(page: Any, name: str) -> str:
    return str(page.locator(f'[data-card="{name}"] .value').inner_text())


def series_total(api_url: str, key: str, metric: str, summary: dict[str, Any], dimension: str = "all") -> Decimal:
    """Σ of a /v1/metrics minute series over the summary's range."""
    query = f"dimension={dimension}&granularity=minute&from={summary['from']}&to={summary['to']}"
    body = get_json(f"{api_url}/v1/metrics/{metric}?{query}", key)
    assert {p["layer"] for p in body["points"]} == {"speed"}  # minute windows: the speed layer
    return sum((Decimal(str(p["value"] or 0)) for p in body["points"]), Decimal(0))


def test_dashboard_cards_match_the_api_and_the_live_feed_shows_a_new_event_within_2s(
    settings: Settings, api_url: str, browser: Any, artifacts: Path
) -> None:
    key = settings.read_key
    assert key
    now = datetime.now(UTC)
    events = stream_events(240, now=now)
    pipeline = Pipeline(settings)
    pipeline.start()
    try:
        # GIVEN events applied by the speed layer and archived
        pipeline.send(events)
        pipeline.wait_for(len(events))

        # WHEN the dashboard opens with the key in the URL fragment
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{api_url}/#key={key}")
        page.wait_for_function(
            "n => document.querySelector('[data-card=events] .value').textContent.replace(/,/g, '') === String(n)",
            arg=len(events),
            timeout=15_000,
        )
        assert "key=" not in page.url  # dropped from the address bar and history
        page.wait_for_selector("#feed li", timeout=10_000)
        page.screenshot(path=str(artifacts / "1-loaded.png"))

        # THEN every card shows what the API returns for the same range
        summary = get_json(f"{api_url}/v1/dashboard/summary?range=1h", key)
        cards = summary["cards"]
        assert number(card(page, "events")) == cards["events"]["value"] == len(events)
        assert cards["events"]["value"] == series_total(api_url, key, "events", summary)
        assert number(card(page, "page_views")) == cards["page_views"]["value"]
        assert cards["page_views"]["value"] == series_total(api_url, key, "events", summary, "type:page_view")
        assert cards["page_views"]["value"] == sum(1 for e in events if e["event_type"] == "page_view")
        errors = series_total(api_url, key, "errors", summary)
        assert errors == sum(1 for e in events if e["http_status"] >= 400) > 0
        assert number(card(page, "error_rate")) == round(
            errors / len(events), 3 if errors / len(events) < Decimal("0.1") else 2
        )
        revenue = series_total(api_url, key, "revenue", summary)
        assert number(card(page, "revenue")) == round(Decimal(str(cards["revenue"]["value"])), 2) == round(revenue, 2)
        sessions = len({e["session_id"] for e in events})
        assert number(card(page, "sessions")) == cards["sessions"]["value"]
        assert abs(cards["sessions"]["value"] - sessions) <= max(1, 0.05 * sessions)  # HLL estimate
        stats = get_json(f"{api_url}/v1/stats", key)
        assert stats["total_events"] == len(events)
        legend = dict(
            (li.locator(".label").inner_text(), li.locator(".n").inner_text())
            for li in page.locator("#types-legend li").all()
        )
        assert {t: int(v.replace(",", "")) for t, v in legend.items()} == {
            t: n for t, n in stats["events_by_type"].items()
        }
        # every figure says which layer served it
        assert page.locator('[data-card="events"] .layer').inner_text() == cards["events"]["layer"] == "speed"
        assert page.locator("#top-urls tbody tr").count() >= 1
        assert page.locator("#top-products tbody tr").count() >= 1
        # and the page fits a laptop screen
        assert page.evaluate("document.documentElement.scrollHeight") <= VIEWPORT["height"]

        # WHEN a new event is sent
        probe = validate_event(
            {"event_id": str(uuid.uuid4()), "event_type": "purchase", "user_id": "e2e-user", "session_id": "e2e-session",
             "timestamp": datetime.now(UTC).isoformat(), "url": "/checkout/e2e-probe", "product_id": "sku-e2e-probe",
             "order_id": "order-e2e-probe", "price": 42.5, "quantity": 2, "currency": "USD"},
            received_at=datetime.now(UTC),
        ).event  # fmt: skip
        assert probe is not None
        sent = time.monotonic()
        pipeline.send([probe])
        row = page.locator(f'#feed li[data-event-id="{probe["event_id"]}"]')
        row.wait_for(timeout=15_000)
        shown = time.monotonic()
        page.screenshot(path=str(artifacts / "2-new-event.png"))
        print(f"new event: shown {shown - sent:.2f} s after it was put on the stream")

        # THEN the live feed shows it within 2 s of its sending (stream → speed layer → API → page)
        assert shown - sent <= LIVE_WITHIN_S
        assert "purchase" in row.inner_text() and "/checkout/e2e-probe" in row.inner_text()
        # and the cards follow (the summary refreshes every 2 s)
        page.wait_for_function(
            "n => document.querySelector('[data-card=events] .value').textContent.replace(/,/g, '') === String(n)",
            arg=len(events) + 1,
            timeout=10_000,
        )
        page.screenshot(path=str(artifacts / "3-updated.png"), full_page=True)

        # WHEN another range is chosen THEN the figures follow it (hour windows now)
        page.get_by_label("Time range", exact=True).select_option("24h")
        page.locator('#dashboard[data-range="24h"]').wait_for()
        assert page.get_by_role("img", name=re.compile(r"^Error rate by status per hour")).count() == 1
        assert number(card(page, "events")) == len(events) + 1
        page.screenshot(path=str(artifacts / "4-last-24h.png"))
    finally:
        pipeline.stop()


def test_dashboard_asks_for_the_key_and_never_receives_it_from_the_server(
    settings: Settings, api_url: str, browser: Any, artifacts: Path
) -> None:
    key = settings.read_key
    assert key
    html = urllib.request.urlopen(f"{api_url}/", timeout=10).read().decode()
    assert key not in html
    page = browser.new_page(viewport=VIEWPORT)

    # no key: a prompt that says how to open the dashboard
    page.goto(f"{api_url}/")
    page.locator("#auth").wait_for()
    assert page.locator("#dashboard").is_hidden()
    assert re.search(r"No read key", page.locator("#auth-reason").inner_text())
    assert "#key=" in page.locator("#auth-example").inner_text()
    page.screenshot(path=str(artifacts / "5-no-key.png"))

    # a wrong key: refused by the API, said so, and not kept
    page.close()
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{api_url}/#key=not-the-key")
    page.wait_for_function("() => document.querySelector('#auth-reason').textContent.includes('Refused')")
    assert "401" in page.locator("#auth-reason").inner_text()
    assert page.evaluate("sessionStorage.getItem('clickstream.readKey')") is None
    page.screenshot(path=str(artifacts / "6-wrong-key.png"))

    # typing the right key opens the dashboard (empty table: zeros, not errors)
    page.locator("#auth-key").fill(key)
    page.locator("#auth-form button").click()
    page.wait_for_function("() => document.querySelector('[data-card=events] .value').textContent === '0'")
    assert page.locator("#auth").is_hidden()
    assert page.get_by_label("Time range", exact=True).input_value() == "1h"
    page.get_by_label("Time range", exact=True).select_option("7d")
    page.locator('#dashboard[data-range="7d"]').wait_for()
    assert "error" not in (page.locator("#status").get_attribute("class") or "")
    page.screenshot(path=str(artifacts / "7-empty-7d.png"))
