"""The embedded stack's Prometheus for real: Debian's binary, started through its ServiceSpec (the same
command `make up` runs), scrapes a real query API, and every PromQL expression of the dashboards and
alert rules evaluates in that Prometheus. Skipped where Debian's prometheus is not installed.

This is what the static checks cannot see: PromQL syntax as Prometheus parses it, the scrape job's
bearer read key, and the config template rendered by clickstream/local/prometheus.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.request import urlopen

import pytest
import uvicorn
import yaml
from support.ports import free_port

from clickstream.api.app import create_app
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.local import prometheus as local_prometheus
from clickstream.settings import Settings
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import build_processor

pytestmark = [
    pytest.mark.slow,  # a real Prometheus scraping the API
    pytest.mark.skipif(not local_prometheus.installed(), reason="Debian's prometheus is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
READY_TIMEOUT = 30.0


def _get_json(url: str) -> Any:
    with urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _write_traffic(settings: Settings) -> None:
    """A few minutes of events of today through the real speed layer (what /metrics reads)."""
    now = datetime.now(UTC)
    events = []
    for i in range(120):
        at = now - timedelta(seconds=1 + i / 4)  # the last 30 s, all of today (but in a day's first 30 s)
        raw = {"event_id": str(uuid.uuid4()), "event_type": ("page_view", "click", "purchase")[i % 3],
               "user_id": f"u{i % 7}", "session_id": f"s{i % 11}", "url": f"/p/{i % 5}",
               "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "http_status": 500 if i % 10 == 0 else 200,
               "price": 9.5, "order_id": f"o{i}"}  # fmt: skip
        result = validate_event(raw, received_at=at + timedelta(seconds=1))
        assert result.event is not None, result.errors
        events.append(result.event)
    records = [InRecord(n, int(now.timestamp() * 1000), encode_event(e)) for n, e in enumerate(events)]
    build_processor(settings).process("shardId-000000000000", records)


@pytest.fixture
def api_port(settings: Settings) -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + READY_TIMEOUT
    while not server.started:
        assert time.monotonic() < deadline, "the query API did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def prometheus(settings: Settings, api_port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Prometheus started from the ServiceSpec's command, as the stack starts it; its base URL."""
    port = free_port()
    monkeypatch.setenv(local_prometheus.ENV_PORT, str(port))
    spec = local_prometheus.service_spec()
    stack_settings = replace(settings, api_port=api_port)
    command = spec.command(stack_settings, sys.executable)
    log = settings.home / "prometheus.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ),
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not spec.health(stack_settings, None, time.time()).ok:
            assert proc.poll() is None, f"prometheus exited ({proc.returncode}):\n{log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"prometheus not ready:\n{log.read_text()[-2000:]}"
            time.sleep(0.2)
        yield spec.url(stack_settings) or ""
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


def _query(base: str, expr: str) -> dict[str, Any]:
    doc: dict[str, Any] = _get_json(f"{base}/api/v1/query?query={quote(expr)}")
    return doc


def _expressions() -> list[tuple[str, str]]:
    out = []
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        for p in json.loads(path.read_text())["panels"]:
            out += [(f"{path.name}: {p['title']!r}", t["expr"]) for t in p.get("targets", []) if "expr" in t]
    rules = yaml.safe_load((GRAFANA / "provisioning" / "alerting" / "rules.yaml").read_text())
    out += [(f"alert {r['title']!r}", r["data"][0]["model"]["expr"]) for g in rules["groups"] for r in g["rules"]]
    return out


def test_prometheus_scrapes_the_api_and_every_expression_evaluates(settings: Settings, prometheus: str) -> None:
    # GIVEN traffic in the speed layer and Prometheus scraping the API with the read key
    _write_traffic(settings)
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        up = _query(prometheus, 'up{job="clickstream-api"}')["data"]["result"]
        if up and up[0]["value"][1] == "1":
            events = _query(prometheus, "clickstream_events_all_today")["data"]["result"]
            if events and float(events[0]["value"][1]) > 0:
                break
        targets = _get_json(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
        assert time.monotonic() < deadline, f"the API was not scraped: {targets}"
        time.sleep(0.5)
    # THEN every dashboard and alert expression is valid PromQL for Prometheus itself
    for where, expr in _expressions():
        doc = _query(prometheus, expr)
        assert doc["status"] == "success", f"{where}: {expr!r}: {doc}"
    # AND the live panels have data
    for expr in ("clickstream_events_today", 'clickstream_error_rate{window="day"}', "max(clickstream_consumer_lag_seconds)",
                 "clickstream_freshness_seconds", "clickstream_revenue_today"):  # fmt: skip
        result = _query(prometheus, expr)["data"]["result"]
        assert result, f"{expr}: no series after a scrape"
    by_type = {
        r["metric"]["event_type"]: float(r["value"][1])
        for r in _query(prometheus, "clickstream_events_today")["data"]["result"]
    }
    assert by_type["page_view"] == by_type["click"] == by_type["purchase"] == 40.0
