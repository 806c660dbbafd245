"""`python -m benchmarks.live_feed`: how long a sent event takes to appear in the dashboard's live feed.

Against a running stack with traffic (`make up`, or `make up DETACH=1 UP_ARGS=--simulate`): opens
the dashboard in Debian's chromium (Playwright), then --probes times POSTs one purchase to the
collector and waits until the page's feed shows its event id. Each time is measured from before
the POST to the moment the row is visible: collector → stream → speed layer (live feed item) →
API → server-sent events → page. Prints the sorted times, p50/p95/max, how many were within the
2 s the dashboard promises, and where the time went, per stage:

- applied: send → the speed layer stamps the event into its shard's feed item (`applied_at`):
  the collector, the stream, the consumer's read and the batches ahead of it;
- streamed: applied → the event's first server-sent message, read by a second client of
  `/v1/stream` beside the page (the API's tick and its reads of the realtime table);
- shown: streamed → the row is visible in the page.

No peer: it measures one path end to end. All stamps are this machine's wall clock.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.request
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from benchmarks.ingest.stats import percentile
from clickstream.api.recent import MAX_RECENT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
PROMISE_S = 2.0
MISSED_AFTER_S = 30.0
STAGES = ("applied", "streamed", "shown")


def probe_event() -> dict[str, object]:
    event_id = str(uuid.uuid4())
    return {"event_id": event_id, "event_type": "purchase", "user_id": f"probe-{event_id[:8]}",
            "session_id": f"probe-{event_id[:8]}", "timestamp": datetime.now(UTC).isoformat(),
            "url": "/checkout/probe", "product_id": "sku-probe", "order_id": f"probe-{event_id}",
            "price": 1.0, "quantity": 1, "currency": "USD"}  # fmt: skip


class StreamWatch:
    """A `/v1/stream` client in a thread: when each event id first arrived, and its `applied_at`."""

    def __init__(self, api: str, key: str, *, interval: float, limit: int) -> None:
        self._request = urllib.request.Request(
            f"{api}/v1/stream?interval={interval}&limit={limit}",
            headers={"X-API-Key": key, "Accept": "text/event-stream"},
        )
        self.seen: dict[str, tuple[float, float | None]] = {}  # event id → (arrived, applied), epoch s
        self._lock = threading.Lock()
        threading.Thread(target=self._follow, name="stream-watch", daemon=True).start()

    def first_seen(self, event_id: str, timeout: float = 10.0) -> tuple[float, float | None] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if event_id in self.seen:
                    return self.seen[event_id]
            time.sleep(0.02)
        return None

    def _follow(self) -> None:
        with urllib.request.urlopen(self._request, timeout=60) as stream:
            for raw in stream:
                line = raw.decode()
                if not line.startswith("data: "):
                    continue
                arrived = time.time()
                body = json.loads(line[len("data: ") :])
                with self._lock:
                    for event in body.get("recent_events", ()):
                        eid = str(event.get("event_id"))
                        if eid not in self.seen:
                            self.seen[eid] = (arrived, _epoch(event.get("applied_at")))


def _epoch(stamp: object) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def stage_times(sent: float, applied: float | None, streamed: float | None, shown: float) -> dict[str, float] | None:
    """Seconds spent in each of STAGES (None when a stamp is missing or out of order)."""
    if applied is None or streamed is None or not sent <= applied <= streamed:
        return None
    return {"applied": applied - sent, "streamed": streamed - applied, "shown": max(0.0, shown - streamed)}


def main(argv: Sequence[str] | None = None) -> int:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from clickstream.settings import Settings

    settings = Settings.from_env()
    p = argparse.ArgumentParser(prog="python -m benchmarks.live_feed", description=__doc__.split("\n")[0])
    p.add_argument("--probes", type=int, default=20, help="events to time [20]")
    p.add_argument("--pause", type=float, default=1.0, help="seconds between probes [1]")
    p.add_argument("--api", default=f"http://127.0.0.1:{settings.api_port}", help="dashboard base URL")
    p.add_argument("--collector", default=f"http://127.0.0.1:{settings.collector_port}", help="collector base URL")
    args = p.parse_args(argv)
    times: list[float] = []
    missed: list[str] = []  # never shown within MISSED_AFTER_S
    stages: list[dict[str, float]] = []
    # The page's own tick (dashboard.js STREAM_INTERVAL_S) and feed size (FEED_LIMIT = MAX_RECENT, a test says so).
    watch = StreamWatch(args.api, settings.read_key or "", interval=0.5, limit=MAX_RECENT)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{args.api}/#key={settings.read_key}")
        page.wait_for_selector("#feed li", timeout=30_000)  # the stream is flowing
        for _ in range(args.probes):
            event = probe_event()
            request = urllib.request.Request(
                f"{args.collector}/v1/events",
                data=json.dumps({"events": [event]}).encode(),
                headers={"Content-Type": "application/json", "X-Write-Key": settings.write_key or ""},
            )
            started, sent = time.monotonic(), time.time()
            urllib.request.urlopen(request, timeout=10).read()
            try:
                page.locator(f'#feed li[data-event-id="{event["event_id"]}"]').wait_for(timeout=MISSED_AFTER_S * 1000)
            except PlaywrightTimeout:
                missed.append(str(event["event_id"]))
                continue
            times.append(time.monotonic() - started)
            shown = time.time()
            streamed, applied = watch.first_seen(str(event["event_id"])) or (None, None)
            split = stage_times(sent, applied, streamed, shown)
            if split is not None:
                stages.append(split)
            time.sleep(args.pause)
        browser.close()
    within = sum(t <= PROMISE_S for t in times)
    probes = len(times) + len(missed)
    print("send → shown (s):", ", ".join(f"{t:.2f}" for t in sorted(times)))
    if missed:
        print(f"never shown within {MISSED_AFTER_S:.0f} s: {len(missed)} ({', '.join(missed)})")
    if times:
        print(f"p50 {statistics.median(times):.2f} s, p95 {percentile(times, 95):.2f} s, max {max(times):.2f} s; "
              f"{within} of {probes} within {PROMISE_S:.0f} s")  # fmt: skip
    if stages:
        print(f"per stage, over the {len(stages)} probes with every stamp (p50 / p95 / max, s):")
        for name in STAGES:
            values = [s[name] for s in stages]
            print(f"  {name:<9} {statistics.median(values):.2f} / {percentile(values, 95):.2f} / {max(values):.2f}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
