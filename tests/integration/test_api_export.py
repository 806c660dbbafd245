"""GET /v1/export and /v1/analytics/page-views over real Parquet in the curated table plus the raw
tail (arrival hours after the latest compaction interval), and export jobs (POST /v1/exports: the
local engine's UNLOAD, downloaded through their links), on the embedded AWS server."""

from __future__ import annotations

import gzip
import io
import time
import urllib.request
from datetime import timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from support.api import NOW, READ, archive_raw, client, event, write_curated

from clickstream.adapters.dynamodb import record_run
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # exports over a curated lake and a raw tail

RANGE = "from=2026-11-22T00:00:00Z&to=2026-11-22T15:00:00Z"


@pytest.fixture
def lake(settings: Settings) -> dict[str, list[dict]]:
    # GIVEN curated events at 12:xx and 13:xx (compacted up to 14:00) ...
    curated = [event("page_view", NOW - timedelta(hours=2), url=f"/p{i % 3}") for i in range(6)]
    curated += [event("click", NOW - timedelta(hours=1, minutes=10), url="/p0")]
    write_curated(settings, curated)
    record_run(settings, "compact_raw_events", status="success",
               interval_start="2026-11-22T13:00:00Z", interval_end="2026-11-22T14:00:00Z")  # fmt: skip
    # ... the raw archive of those hours (already compacted: must not be read again) ...
    archive_raw(settings, curated, arrival=NOW - timedelta(hours=1, minutes=5), name="old")
    # ... and the raw tail of 14:xx, with one producer duplicate, and an event outside the range
    tail = [event("page_view", NOW - timedelta(minutes=3), url="/p0?utm=1"), event("purchase", NOW, price=3.0)]
    late = event("page_view", NOW + timedelta(hours=1))
    archive_raw(settings, [*tail, tail[0], late], arrival=NOW, name="new")
    return {"curated": curated, "tail": tail}


def test_ndjson_export_is_curated_plus_raw_tail(lake: dict[str, list[dict]], settings: Settings) -> None:
    resp = client(settings).get(f"/v1/export?format=ndjson&{RANGE}", headers=READ)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/x-ndjson")
    rows = [orjson.loads(line) for line in resp.content.splitlines()]
    assert sorted(r["event_id"] for r in rows) == sorted(e["event_id"] for e in lake["curated"] + lake["tail"])
    purchase = next(r for r in rows if r["event_type"] == "purchase")
    assert purchase["price"] == 3.0 and purchase["event_time"].endswith("Z")


def test_every_format_carries_the_same_rows(lake: dict[str, list[dict]], settings: Settings) -> None:
    api = client(settings)
    expected = len(lake["curated"]) + len(lake["tail"])
    as_json = api.get(f"/v1/export?format=json&{RANGE}", headers=READ)
    assert len(as_json.json()) == expected
    as_csv = pacsv.read_csv(io.BytesIO(api.get(f"/v1/export?format=csv&{RANGE}", headers=READ).content))
    assert as_csv.num_rows == expected and "event_id" in as_csv.column_names
    as_parquet = pq.read_table(io.BytesIO(api.get(f"/v1/export?format=parquet&{RANGE}", headers=READ).content))
    assert as_parquet.num_rows == expected and as_parquet.schema.field("event_time").type.unit in ("ms", "us")


def test_event_type_filter_and_an_empty_range(lake: dict[str, list[dict]], settings: Settings) -> None:
    api = client(settings)
    clicks = api.get(f"/v1/export?format=json&{RANGE}&event_type=click,purchase", headers=READ).json()
    assert sorted(r["event_type"] for r in clicks) == ["click", "purchase"]
    assert api.get("/v1/export?format=json&from=2026-01-01&to=2026-01-02", headers=READ).json() == []
    empty_csv = api.get("/v1/export?format=csv&from=2026-01-01&to=2026-01-02", headers=READ)
    assert empty_csv.status_code == 200 and b"event_id" in empty_csv.content


@pytest.mark.parametrize(
    "query",
    [
        "format=xml",
        "event_type=teleport",
        "from=2020-01-01&to=2026-01-01",
        "from=nope",
        "from=2026-11-23&to=2026-11-22",
    ],
)
def test_export_bad_parameters_are_400(settings: Settings, query: str) -> None:
    resp = client(settings).get(f"/v1/export?{query}", headers=READ)
    assert resp.status_code == 400 and resp.json()["message"]


def test_page_views_of_one_page_by_day(lake: dict[str, list[dict]], settings: Settings) -> None:
    body = client(settings).get(f"/v1/analytics/page-views/p0?{RANGE}", headers=READ).json()
    # two curated page views of /p0 (i = 0, 3) + one in the raw tail (/p0?utm=1); the click does not count
    assert body == {
        "page": "/p0",
        "page_views": 3,
        "from": "2026-11-22T00:00:00Z",
        "to": "2026-11-22T15:00:00Z",
        "by_day": [{"date": "2026-11-22", "page_views": 3}],
    }
    bad = client(settings).get("/v1/analytics/page-views/p0?from=2020-01-01&to=2026-01-01", headers=READ)
    assert bad.status_code == 400 and bad.json()["error"] == "range_too_large"


def test_a_range_holding_more_than_the_api_scans_is_refused_with_the_sql_for_the_engine(
    lake: dict[str, list[dict]], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clickstream.api import params, service

    api = client(settings)
    monkeypatch.setattr(service, "MAX_SCAN_BYTES", 1000)  # the test lake holds a few KiB
    refused = api.get(f"/v1/analytics/page-views/p0?{RANGE}", headers=READ)
    body = refused.json()
    assert refused.status_code == 400 and body["error"] == "range_too_large", body
    assert body["scan_bytes"] > body["limit_bytes"] == 1000 and "POST /v1/query" in body["message"]
    # the same question, asked of the engine, answers it for the compacted hours: two page views
    # of /p0 were compacted, the third is in the raw tail
    answer = api.post("/v1/query", json={"sql": body["sql"]}, headers=READ)
    assert answer.status_code == 200, answer.json()
    assert [(str(r["day"]), r["page_views"]) for r in answer.json()["rows"]] == [("2026-11-22", 2)]
    # top pages' statement (GraphQL's topPages gets the same refusal) answers likewise
    span = params.time_range("2026-11-22T00:00:00Z", "2026-11-22T15:00:00Z", now=NOW,
                             default_span=timedelta(days=1), max_span=service.MAX_SCAN_SPAN)  # fmt: skip
    top = api.post("/v1/query", json={"sql": service.top_pages_sql(span, 2)}, headers=READ).json()
    assert [(r["page"], r["page_views"]) for r in top["rows"]] == [("/p0", 2), ("/p1", 2)]


def test_a_range_larger_than_the_api_reads_is_refused_with_the_export_job_named(
    lake: dict[str, list[dict]], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clickstream.api import service

    monkeypatch.setattr(service, "MAX_SCAN_BYTES", 1000)
    refused = client(settings).get(f"/v1/export?format=ndjson&{RANGE}", headers=READ)
    body = refused.json()
    assert refused.status_code == 400 and body["error"] == "range_too_large", body
    assert "POST /v1/exports" in body["message"] and body["scan_bytes"] > 1000


def _finished(api: Any, started: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """Poll the job's status URL, as a client does, until it is no longer running."""
    deadline = time.monotonic() + timeout
    while True:
        answer = api.get(started["status_url"], headers=READ)
        assert answer.status_code == 200, answer.json()
        if answer.json()["status"] != "running" or time.monotonic() > deadline:
            return dict(answer.json())
        time.sleep(0.1)


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:  # the link alone: no key, no credentials
        return bytes(resp.read())


def test_an_export_job_unloads_the_compacted_events_and_links_the_files(
    lake: dict[str, list[dict]], settings: Settings
) -> None:
    api = client(settings)
    # WHEN a client starts an export of the whole range (larger than GET /v1/export would read)
    started = api.post("/v1/exports", json={"format": "parquet", "from": "2026-11-22T00:00:00Z",
                                            "to": "2026-11-22T15:00:00Z"}, headers=READ)  # fmt: skip
    # THEN it is accepted at once, and says which events it covers: those compacted by 14:00
    assert started.status_code == 202, started.json()
    job = started.json()
    assert job["status"] == "running" and job["compacted_to"] == "2026-11-22T14:00:00Z"
    assert job["status_url"] == f"/v1/exports/{job['export_id']}"
    # AND once the engine's UNLOAD finished, its links download the curated events (not the raw tail)
    done = _finished(api, job)
    assert done["status"] == "succeeded" and done["files"], done
    table = pa.concat_tables(pq.read_table(io.BytesIO(_download(f["url"]))) for f in done["files"])
    assert sorted(table.column("event_id").to_pylist()) == sorted(e["event_id"] for e in lake["curated"])
    assert done["bytes"] == sum(f["bytes"] for f in done["files"]) > 0
    assert set(table.column_names) >= {"event_id", "event_type", "event_time", "url"}


def test_an_ndjson_export_job_keeps_only_the_types_asked_for(lake: dict[str, list[dict]], settings: Settings) -> None:
    api = client(settings)
    started = api.post("/v1/exports", json={"format": "ndjson", "from": "2026-11-22", "to": "2026-11-23",
                                            "event_type": ["click"]}, headers=READ).json()  # fmt: skip
    done = _finished(api, started)
    assert done["status"] == "succeeded", done
    rows = [orjson.loads(line) for f in done["files"] for line in gzip.decompress(_download(f["url"])).splitlines()]
    click = next(e for e in lake["curated"] if e["event_type"] == "click")
    assert [(r["event_id"], r["event_type"], r["url"]) for r in rows] == [(click["event_id"], "click", "/p0")]


def test_export_jobs_answer_bad_requests_clearly(lake: dict[str, list[dict]], settings: Settings) -> None:
    api = client(settings)
    bad_format = api.post("/v1/exports", json={"format": "xml"}, headers=READ)
    assert bad_format.status_code == 400 and "parquet" in bad_format.json()["message"]
    bad_type = api.post("/v1/exports", json={"event_type": ["teleport"]}, headers=READ)
    assert bad_type.status_code == 400 and "teleport" in bad_type.json()["message"]
    # a range after the latest compaction holds only the raw tail, which GET /v1/export streams
    tail_only = api.post("/v1/exports", json={"from": "2026-11-22T14:00:00Z"}, headers=READ)
    assert tail_only.status_code == 400 and tail_only.json()["error"] == "not_compacted"
    assert "GET /v1/export" in tail_only.json()["message"]
    unknown = api.get("/v1/exports/" + "0" * 32, headers=READ)
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert api.get("/v1/exports/../../quarantine", headers=READ).status_code == 404
    assert api.post("/v1/exports", json={}).status_code == 401  # the read key is needed


def test_an_export_whose_statement_fails_says_why(
    lake: dict[str, list[dict]], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clickstream.api import exports

    # GIVEN a statement the engine refuses (a column the table does not have)
    monkeypatch.setattr(exports, "export_sql", lambda span, types: "SELECT no_such_column FROM events")
    api = client(settings)
    done = _finished(api, api.post("/v1/exports", json={"from": "2026-11-22"}, headers=READ).json())
    assert done["status"] == "failed" and "no_such_column" in done["error"], done
    assert "files" not in done
