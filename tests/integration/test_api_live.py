"""GraphQL, Prometheus /metrics, the SSE stream and the Lambda handler, on the moto server with
data from the real speed layer, batch view and job-run records."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.api import NOW, READ, archive_raw, client, close_windows, event, speed_write, write_curated

from clickstream.adapters.dynamodb import record_run
from clickstream.api import prometheus as names
from clickstream.settings import Settings

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


def seed(settings: Settings, *, now: datetime = NOW) -> Settings:
    at = now - timedelta(minutes=5)
    today = [
        event("page_view", at, url="/home"),
        event("page_view", at, url="/cart"),
        event("add_to_cart", at, url="/cart", product_id="p1"),
        event("click", at, url="/home", status=500),
        event("purchase", at, url="/checkout", price=5.0, order_id="o1"),
    ]
    speed_write(settings, today, arrival=now)
    write_curated(settings, today)
    archive_raw(settings, today, arrival=now - timedelta(minutes=4))
    close_windows(settings, [
        {"pk": "all", "sk": "d#2026-11-21T00:00:00Z", "events": 10},
        {"pk": "engagement#all", "sk": "d#2026-11-21T00:00:00Z", "funnel_page_view": 8, "funnel_add_to_cart": 4,
         "funnel_checkout": 2, "funnel_purchase": 1},
    ])  # fmt: skip
    return settings


@pytest.fixture
def seeded(settings: Settings) -> Settings:
    return seed(settings)


def gql(settings: Settings, query: str) -> dict[str, Any]:
    resp = client(settings).post("/graphql", json={"query": query}, headers=READ)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_graphql_page_views_top_pages_metrics_and_funnel(seeded: Settings) -> None:
    body = gql(
        seeded,
        """{
      pageViews(pageURL: "/home", from: "2026-11-22", to: "2026-11-23") { page pageViews byDay { date pageViews } }
      topPages(from: "2026-11-22", to: "2026-11-23", limit: 5) { page pageViews }
      metrics(metric: "events", granularity: "day", from: "2026-11-21", to: "2026-11-23") { points { start value layer } }
      funnel(from: "2026-11-21", to: "2026-11-23") { date layer basis steps { step count rateFromPrevious } }
    }""",
    )
    data = body["data"]
    assert data["pageViews"] == {"page": "/home", "pageViews": 1, "byDay": [{"date": "2026-11-22", "pageViews": 1}]}
    assert data["topPages"] == [{"page": "/cart", "pageViews": 1}, {"page": "/home", "pageViews": 1}]
    assert [(p["value"], p["layer"]) for p in data["metrics"]["points"]] == [(10, "batch"), (5, "speed")]
    closed, open_ = data["funnel"]
    assert (closed["layer"], closed["basis"]) == ("batch", "sessions")
    assert [s["count"] for s in closed["steps"]] == [8, 4, 2, 1] and closed["steps"][1]["rateFromPrevious"] == 0.5
    assert (open_["layer"], open_["basis"]) == ("speed", "events")
    assert [s["count"] for s in open_["steps"]] == [2, 1, 0, 1]


def test_graphql_bad_arguments_are_errors_with_the_reason(seeded: Settings) -> None:
    body = gql(seeded, '{ metrics(metric: "nope") { metric } }')
    assert body["data"] is None and "unknown metric" in body["errors"][0]["message"]


def test_prometheus_exposition_has_counters_and_pipeline_health(seeded: Settings) -> None:
    record_run(seeded, "compact_raw_events", status="success", pass_rate=0.98)
    record_run(seeded, "reconcile_speed_batch", status="success", max_abs_drift=3)
    record_run(seeded, "batch_metrics", status="failed")
    resp = client(seeded).get("/metrics", headers=READ)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(resp.text) for s in fam.samples}  # fmt: skip
    assert samples[(names.EVENTS_TODAY, (("event_type", "page_view"),))] == 2
    assert samples[(names.EVENTS_ALL_TODAY, ())] == 5
    assert samples[(names.ERRORS_TODAY, (("status", "500"),))] == 1
    assert samples[(names.ERROR_RATE, (("window", "day"),))] == pytest.approx(0.2)
    assert samples[(names.DATA_QUALITY_PASS_RATE, ())] == pytest.approx(0.98)
    assert samples[(names.RECONCILIATION_MAX_ABS_DRIFT, ())] == 3
    assert samples[(names.JOB_LAST_RUN_SUCCESS, (("job", "batch_metrics"),))] == 0
    assert (names.JOB_LAST_SUCCESS, (("job", "compact_raw_events"),)) in samples
    assert (names.JOB_LAST_SUCCESS, (("job", "batch_metrics"),)) not in samples  # never succeeded
    assert (names.CONSUMER_LAG_SECONDS, (("shard", "shardId-000000000000"),)) in samples
    assert samples[(names.SCRAPE_ERRORS, (("source", "realtime"),))] == 0
    exposed = {fam.name for fam in text_string_to_metric_families(resp.text)}
    assert set(names.METRIC_NAMES) <= exposed | {names.FRESHNESS_SECONDS}


def test_stream_sends_counters_and_recent_events(seeded: Settings) -> None:
    resp = client(seeded).get("/v1/stream?count=2&interval=0.5&limit=3", headers=READ)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    messages = [m for m in resp.text.split("\n\n") if m.startswith("id:")]
    assert len(messages) == 2
    fields = dict(line.split(": ", 1) for line in messages[0].splitlines())
    assert fields["event"] == "update"
    update = orjson.loads(fields["data"])
    assert update["counters"]["totals"]["day"]["events"] == 5
    assert len(update["recent_events"]) == 3 and update["new_events"] == 3
    second = orjson.loads(dict(line.split(": ", 1) for line in messages[1].splitlines())["data"])
    assert second["new_events"] == 0


def test_stream_bad_parameters_are_400(seeded: Settings) -> None:
    assert client(seeded).get("/v1/stream?interval=0.01", headers=READ).status_code == 400


def test_lambda_handler_serves_an_api_gateway_http_v2_event(settings: Settings) -> None:
    from lambdas.api import handler as lambda_api

    # The handler reads the wall clock, and the live feed lists only shards that applied a batch
    # in the last day: seed the data around the real now, not the other tests' fixed NOW.
    seed(settings, now=datetime.now(UTC))

    lambda_api.deps.cache_clear()
    template = json.loads((EVENTS_DIR / "apigw_http_v2_events.json").read_text())
    event = {**template, "rawPath": "/v1/stats", "rawQueryString": "limit=2", "body": None,
             "headers": {"x-api-key": "local-read-key", "host": "example"},
             "requestContext": {**template["requestContext"], "http": {**template["requestContext"]["http"],
                                "method": "GET", "path": "/v1/stats"}}}  # fmt: skip
    out = lambda_api.handler(event, None)
    assert out["statusCode"] == 200, out
    body = json.loads(out["body"])
    assert body["total_events"] == 15 and len(body["recent_events"]) == 2
    denied = lambda_api.handler({**event, "headers": {"x-api-key": "local-write-key"}}, None)
    assert denied["statusCode"] == 401 and json.loads(denied["body"])["error"] == "unauthorized"
    staged = {**event, "rawPath": "/prod/healthz", "requestContext": {**event["requestContext"], "stage": "prod"}}
    assert json.loads(lambda_api.handler(staged, None)["body"]) == {"status": "ok"}
    # the live stream cannot stream through a buffered Lambda: an answer at once, not a timeout
    live = {**event, "rawPath": "/v1/stream", "rawQueryString": ""}
    started = time.monotonic()
    refused = lambda_api.handler(live, None)
    assert time.monotonic() - started < 5
    assert refused["statusCode"] == 501 and json.loads(refused["body"])["error"] == "streaming_unavailable"
    assert "GET /v1/stats" in json.loads(refused["body"])["message"]
    bounded = lambda_api.handler({**live, "rawQueryString": "count=2&interval=0.5&limit=1"}, None)
    assert bounded["statusCode"] == 200 and bounded["headers"]["content-type"].startswith("text/event-stream")
    assert bounded["body"].count("event: update") == 2
    lambda_api.deps.cache_clear()
