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


class ExportRequest(BaseModel):
    format: str = Field("parquet", description="parquet (zstd) or ndjson (gzip)")
    from_: str | None = Field(None, alias="from", description="RFC 3339 or a date; default: a day before `to`")
    to: str | None = Field(None, description="RFC 3339 or a date; default: now")
    event_type: list[str] = Field(default_factory=list, description="event types to keep; all when empty")

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={"examples": [{"format": "parquet", "from": "2026-11-01", "to": "2026-12-01"}]},
    )


class ExportFile(BaseModel):
    name: str
    bytes: int
    url: str = Field(description="a download link, valid until `links_expire_at`")


class ExportResponse(BaseModel):
    export_id: str
    status: str = Field(description="running, succeeded or failed")
    status_url: str = Field(description="GET it for the state and, once succeeded, the files")
    format: str
    from_: str = Field(alias="from")
    to: str
    event_types: list[str]
    compacted_to: str = Field(description="the export holds the events compacted by then (arrived before it)")
    created_at: str
    error: str | None = None
    files: list[ExportFile] | None = None
    bytes: int | None = None
    links_expire_at: str | None = None

    model_config = ConfigDict(populate_by_name=True)


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
