"""Contract tests of /v1/stats, /v1/metrics and the read key, on the real moto server with data
written through the real speed layer and the batch view."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.api import NOW, READ, archive_raw, client, close_windows, event, speed_write

from clickstream.settings import Settings

DAY = "d#2026-11-22T00:00:00Z"
YESTERDAY = "d#2026-11-21T00:00:00Z"


@pytest.fixture
def seeded(settings: Settings) -> Settings:
    # GIVEN today's traffic through the speed layer: 3 page views, 1 click (404), 1 purchase
    today = [
        event("page_view", url="/home"),
        event("page_view", url="/home?ref=x"),
        event("page_view", url="/cart"),
        event("click", url="/home", status=404),
        event("purchase", url="/checkout", price=10.5, quantity=2, order_id="o1", product_id="p1"),
    ]
    speed_write(settings, today)
    # AND yesterday seen by the speed layer (2 events) but CLOSED by the batch layer with 7
    speed_write(settings, [event("page_view", NOW - timedelta(days=1)), event("click", NOW - timedelta(days=1))])
    close_windows(
        settings,
        [
            {"pk": "all", "sk": YESTERDAY, "events": 7, "errors": 1},
            {"pk": "type#page_view", "sk": YESTERDAY, "events": 5},
            {"pk": "type#click", "sk": YESTERDAY, "events": 2},
        ],
    )
    archive_raw(settings, today, arrival=NOW - timedelta(minutes=4))
    return settings


def test_stats_merge_batch_days_with_speed_days_and_show_recent_events(seeded: Settings) -> None:
    body = client(seeded).get("/v1/stats?limit=3", headers=READ).json()
    assert body["total_events"] == 7 + 5
    assert body["events_by_type"]["page_view"] == 5 + 3
    assert body["events_by_type"]["click"] == 2 + 1
    assert body["events_by_type"]["purchase"] == 1
    assert body["layers"] == {"batch_days": 1, "speed_days": 1}
    assert len(body["recent_events"]) == 3
    assert {e["event_type"] for e in body["recent_events"]} <= {"page_view", "click", "purchase"}


def test_stats_range_limits_the_days(seeded: Settings) -> None:
    body = client(seeded).get("/v1/stats?from=2026-11-22&to=2026-11-23&limit=0", headers=READ).json()
    assert body["total_events"] == 5
    assert body["recent_events"] == []


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("limit=101", "invalid_parameter"),
        ("limit=-1", "invalid_parameter"),
        ("from=yesterday", "invalid_parameter"),
        ("from=2026-11-23&to=2026-11-22", "invalid_range"),
    ],
)
def test_stats_bad_parameters_are_400_with_a_reason(settings: Settings, query: str, reason: str) -> None:
    # an empty table: parameters are checked before anything is read (seeding cost 1-2 s a case)
    resp = client(settings).get(f"/v1/stats?{query}", headers=READ)
    assert resp.status_code == 400
    assert resp.json()["error"] == reason and resp.json()["message"]


def test_hourly_series_serves_closed_hours_from_batch_and_later_hours_from_speed(seeded: Settings) -> None:
    # GIVEN 13:00 closed by the batch layer (with a different count than speed), 14:00 open
    speed_write(seeded, [event("page_view", NOW - timedelta(hours=1))])
    close_windows(seeded, [{"pk": "all", "sk": "h#2026-11-22T13:00:00Z", "events": 9, "errors": 3}])
    api = client(seeded)
    body = api.get("/v1/metrics/events?granularity=hour&from=2026-11-22T12:00:00Z&to=2026-11-22T15:00:00Z",
                   headers=READ).json()  # fmt: skip
    assert [(p["start"], p["value"], p["layer"]) for p in body["points"]] == [
        ("2026-11-22T12:00:00Z", 0, "speed"),
        ("2026-11-22T13:00:00Z", 9, "batch"),
        ("2026-11-22T14:00:00Z", 5, "speed"),
    ]
    rate = api.get("/v1/metrics/error_rate?granularity=hour&from=2026-11-22T13:00:00Z&to=2026-11-22T15:00:00Z",
                   headers=READ).json()  # fmt: skip
    assert [p["value"] for p in rate["points"]] == [pytest.approx(3 / 9, abs=1e-6), pytest.approx(1 / 5, abs=1e-6)]


def test_series_by_dimension_and_minute(seeded: Settings) -> None:
    api = client(seeded)
    body = api.get("/v1/metrics/events?dimension=url:/home&granularity=day&from=2026-11-22&to=2026-11-23",
                   headers=READ).json()  # fmt: skip
    assert body["dimension"] == "url:/home"
    assert body["points"] == [{"start": "2026-11-22T00:00:00Z", "value": 3, "layer": "speed"}]
    minute = api.get("/v1/metrics/revenue?granularity=minute&from=2026-11-22T14:25:00Z&to=2026-11-22T14:26:00Z",
                     headers=READ).json()  # fmt: skip
    assert minute["points"] == [{"start": "2026-11-22T14:25:00Z", "value": 21.0, "layer": "speed"}]
    users = api.get("/v1/metrics/users?granularity=day&from=2026-11-22&to=2026-11-23", headers=READ).json()
    assert users["points"][0]["value"] == 1  # HLL estimate of one user


def test_batch_only_metrics_are_null_in_open_windows(seeded: Settings) -> None:
    close_windows(seeded, [{"pk": "engagement#all", "sk": YESTERDAY, "sessions": 4, "bounces": 1}])
    body = client(seeded).get("/v1/metrics/bounce_rate?granularity=day&from=2026-11-21&to=2026-11-23",
                              headers=READ).json()  # fmt: skip
    assert [(p["value"], p["layer"]) for p in body["points"]] == [(0.25, "batch"), (None, "speed")]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/v1/metrics/nope", "unknown_metric"),
        ("/v1/metrics/events?granularity=week", "invalid_parameter"),
        ("/v1/metrics/events?dimension=colour:red", "invalid_dimension"),
        ("/v1/metrics/events?dimension=type:teleport", "invalid_dimension"),
        ("/v1/metrics/events?dimension=status:abc", "invalid_dimension"),
        ("/v1/metrics/orders?dimension=type:click", "invalid_dimension"),
        ("/v1/metrics/users?granularity=minute", "invalid_granularity"),
        ("/v1/metrics/events?granularity=minute&from=2026-11-01&to=2026-11-22", "range_too_large"),
        ("/v1/metrics/events?from=2026-11-22T15:00:00Z&to=2026-11-22T14:00:00Z", "invalid_range"),
        ("/v1/metrics/events?to=99999999999999", "invalid_parameter"),
    ],
)
def test_series_bad_parameters_are_400_with_a_reason(settings: Settings, path: str, reason: str) -> None:
    resp = client(settings).get(path, headers=READ)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == reason


BAD_KEYS = [
    {},
    {"X-API-Key": "wrong"},
    {"X-API-Key": "local-write-key"},
    {"Authorization": "Bearer local-write-key"},
    {"Authorization": "Basic bG9jYWwtcmVhZC1rZXk6"},
]
SECURED = [
    ("GET", "/v1/stats"),
    ("GET", "/v1/metrics/events"),
    ("GET", "/v1/analytics/page-views/home"),
    ("GET", "/v1/export"),
    ("POST", "/v1/query"),
    ("POST", "/graphql"),
    ("GET", "/metrics"),
    ("GET", "/v1/stream?count=1"),
]


def test_every_endpoint_needs_the_read_key(settings: Settings) -> None:
    api = client(settings)
    for method, path in SECURED:
        for headers in BAD_KEYS:
            resp = api.request(method, path, headers=headers, json={"sql": "SELECT 1", "query": "{__typename}"})
            assert resp.status_code == 401, (method, path, headers)
            assert resp.json()["error"] == "unauthorized"


def test_bearer_read_key_is_accepted_and_open_routes_need_none(settings: Settings) -> None:
    api = client(settings)
    assert api.get("/v1/stats", headers={"Authorization": "Bearer local-read-key"}).status_code == 200
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/openapi.json").status_code == 200
    assert api.get("/docs").status_code == 200
