"""The dashboard summary (`GET /v1/dashboard/summary`) over the real stores: the serving rule
across the speed layer's realtime table and the batch view, as `/v1/metrics` applies it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from clickstream.adapters.dynamodb import BatchView
from clickstream.api.app import create_app
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Settings
from clickstream.simulate.generator import SimConfig, generate
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import build_processor


def stream_events(n: int, *, now: datetime, seed: int) -> list[dict[str, Any]]:
    """Simulator events from the last 20 minutes, as the collector puts them on the stream."""
    config = SimConfig(start=now - timedelta(minutes=20), span=timedelta(minutes=15), events=n, users=30,
                       seed=seed, diurnal=False)  # fmt: skip
    return [e for e in (validate_event(raw, received_at=now).event for raw in generate(config)) if e is not None]


def test_dashboard_summary_shows_batch_values_for_the_hours_the_batch_layer_closed(settings: Settings) -> None:
    # GIVEN the speed layer counted events of the last 20 minutes and of 3 hours ago
    now = datetime.now(UTC)
    recent = stream_events(40, now=now, seed=3)
    old_hour = (now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    old = [
        validate_event(
            {"event_id": str(uuid.uuid4()), "event_type": "page_view", "user_id": f"u{i}", "session_id": f"s{i}",
             "timestamp": (old_hour + timedelta(minutes=i)).isoformat(), "url": "/old"},
            received_at=now,
        ).event
        for i in range(5)
    ]  # fmt: skip
    speed = build_processor(settings)
    records = [InRecord(i + 1, int(now.timestamp() * 1000), encode_event(e)) for i, e in enumerate([*old, *recent])]
    speed.process("shardId-000000000000", records)
    # AND the batch layer closed that old hour with its own (exact) figures
    sk = f"h#{old_hour:%Y-%m-%dT%H}:00:00Z"
    BatchView(settings).put_items(
        [
            {"pk": "all", "sk": sk, "events": 7, "errors": 1},
            {"pk": "type#page_view", "sk": sk, "events": 7},
            {"pk": "engagement#all", "sk": sk, "sessions": 6, "converted_sessions": 0},
        ]
    )

    # WHEN the dashboard asks for the last 24 hours
    with TestClient(create_app(settings)) as api:
        key = {"X-API-Key": str(settings.read_key)}
        body = api.get("/v1/dashboard/summary?range=24h", headers=key).json()
        series = api.get(
            f"/v1/metrics/events?granularity=hour&from={body['from']}&to={body['to']}", headers=key
        ).json()  # fmt: skip

    # THEN the closed hour shows the batch value (7, not the speed layer's 5), the rest speed values
    cards = body["cards"]
    assert cards["events"] == {"value": 7 + len(recent), "layer": "batch+speed"}
    assert cards["events"]["value"] == sum(p["value"] for p in series["points"])
    assert {p["layer"] for p in series["points"] if p["start"].startswith(f"{old_hour:%Y-%m-%dT%H}")} == {"batch"}
    assert body["layers"]["batch_windows"] == 1
    assert cards["sessions"]["approximate"] is True and cards["sessions"]["layer"] == "batch+speed"
    sessions = len({e["session_id"] for e in recent})
    assert abs(cards["sessions"]["value"] - (6 + sessions)) <= max(1, 0.05 * sessions)
    assert body["funnel"]["basis"] == "events"  # not every hour is closed
