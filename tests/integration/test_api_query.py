"""POST /v1/query on the local engine over real curated Parquet: legitimate SELECTs run with a row
limit, hostile statements are 400 with the reason and change nothing."""

from __future__ import annotations

import pytest
from support.api import READ, client, event, write_curated

from clickstream.settings import Settings


@pytest.fixture
def lake(settings: Settings) -> Settings:
    write_curated(settings, [event("page_view", url=f"/p{i}") for i in range(5)] + [event("click")])
    return settings


def test_select_runs_and_returns_typed_rows(lake: Settings) -> None:
    sql = "SELECT event_type, count(*) AS n FROM events WHERE dt = '2026-11-22' GROUP BY 1 ORDER BY 2 DESC"
    body = client(lake).post("/v1/query", json={"sql": sql}, headers=READ).json()
    assert body["rows"] == [{"event_type": "page_view", "n": 5}, {"event_type": "click", "n": 1}]
    assert [c["name"] for c in body["columns"]] == ["event_type", "n"]
    assert body["truncated"] is False and body["row_count"] == 2


def test_row_limit_truncates(lake: Settings) -> None:
    body = client(lake).post("/v1/query", json={"sql": "SELECT url FROM events", "max_rows": 2}, headers=READ).json()
    assert body["row_count"] == 2 and body["truncated"] is True


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE events",
        "INSERT INTO events (event_id) VALUES ('x')",
        "CREATE TABLE t AS SELECT * FROM events",
        "SELECT 1; DROP TABLE events",
        "SELECT * FROM read_parquet('s3://clickstream-local-lake/curated/events/x.parquet')",
        "SELECT * FROM secrets",
        "/* harmless */ DELETE FROM events",
        "ATTACH 'x.db' AS x",
        "PRAGMA show_tables",
        "COPY events TO 'out.csv'",
        "SELEC nonsense",
    ],
)
def test_hostile_or_broken_statements_are_400_with_the_reason(lake: Settings, sql: str) -> None:
    resp = client(lake).post("/v1/query", json={"sql": sql}, headers=READ)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] in ("unsafe_query", "query_failed") and resp.json()["message"]
    after = client(lake).post("/v1/query", json={"sql": "SELECT count(*) AS n FROM events"}, headers=READ).json()
    assert after["rows"] == [{"n": 6}]


@pytest.mark.parametrize(
    "body", [{}, {"sql": ""}, {"sql": "SELECT 1", "max_rows": 0}, {"sql": "SELECT 1", "max_rows": 10**6}]
)
def test_bad_request_bodies_are_400(lake: Settings, body: dict[str, object]) -> None:
    resp = client(lake).post("/v1/query", json=body, headers=READ)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_parameter"
