"""Response and request models: what /openapi.json documents (and what responses are checked against)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorResponse(BaseModel):
    error: str = Field(description="machine-readable code, e.g. unauthorized, invalid_parameter, unknown_metric")
    message: str = Field(description="what went wrong and what to change")


class HealthResponse(BaseModel):
    status: Literal["ok"]


class RecentEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    event_id: str | None = None
    event_type: str | None = None
    user_id: str | None = None
    timestamp: str | None = None
    received_at: str | None = None
    applied_at: str | None = Field(None, description="when the speed layer applied it (the feed's order)")
    url: str | None = None


class StatsLayers(BaseModel):
    batch_days: int = Field(description="days served from the batch view (closed)")
    speed_days: int = Field(description="days served from the realtime counters")


class StatsResponse(BaseModel):
    total_events: int
    events_by_type: dict[str, int]
    recent_events: list[RecentEvent] = Field(
        description="newest applied first: the speed layer's live feed (events applied in the last day)"
    )
    layers: StatsLayers
    generated_at: str


class SeriesPoint(BaseModel):
    start: str = Field(description="window start, RFC 3339 UTC")
    value: float | int | None = Field(
        description="null: no value (a ratio over nothing, a batch-only metric in an open window)"
    )
    layer: Literal["batch", "speed"]


class SeriesResponse(BaseModel):
    metric: str
    dimension: str
    granularity: Literal["minute", "hour", "day"]
    from_: str = Field(alias="from")
    to: str
    points: list[SeriesPoint]

    model_config = ConfigDict(populate_by_name=True)


class DayCount(BaseModel):
    date: str
    page_views: int


class PageViewsResponse(BaseModel):
    page: str
    page_views: int
    from_: str = Field(alias="from")
    to: str
    by_day: list[DayCount]

    model_config = ConfigDict(populate_by_name=True)


class QueryRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000, description="one read-only Athena SQL statement (SELECT/WITH)")
    max_rows: int | None = Field(None, ge=1, le=10_000, description="row limit (default 1000)")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"sql": "SELECT event_type, count(*) AS n FROM events GROUP BY 1"}]}
    )


class QueryColumn(BaseModel):
    name: str
    type: str


class QueryResponse(BaseModel):
    columns: list[QueryColumn]
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool = Field(description="true when the row limit cut the result")
    elapsed_ms: float
    sql: str = Field(description="the statement that ran (with the row limit applied)")
