"""Every file in sql/ runs on the local engine: DDL registers its table in Glue, metric SQL runs over
events, and over the metric tables it reads once the batch job has written them."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.metrics_lake import register_curated

from clickstream.adapters import _clients
from clickstream.adapters.glue import glue_catalog
from clickstream.adapters.query import query_engine, s3_filesystem
from clickstream.adapters.query.local import LocalEngine
from clickstream.catalog import EVENTS, FIXED_TABLES
from clickstream.jobs.batch_metrics import compute_batch_metrics, upstream
from clickstream.settings import Settings
from clickstream.sqlfiles import load, placeholders, render, sql_files

DEFAULT_PARAMS = {"start_dt": "2026-11-21", "end_dt": "2026-11-22"}
RAW_LINES = pa.table(
    {
        "_row": pa.array([0, 1], pa.int64()),
        "_obj": pa.array([0, 0], pa.int32()),
        "_rec": pa.array([1, 2], pa.int32()),
        "line": ['{"event_id": "e1", "http_status": "404"}', "not json"],
    }
)


def _seed_events(settings: Settings) -> None:
    """A few curated events on both days, shaped like the compaction job's output."""
    fs = s3_filesystem(settings)
    for dt, hour in (("2026-11-21", "23"), ("2026-11-22", "00")):
        at = pa.array([datetime.fromisoformat(f"{dt}T{hour}:10:00+00:00")] * 2, pa.timestamp("ms", tz="UTC"))
        table = pa.table(
            {
                "event_id": [f"{dt}-a", f"{dt}-b"],
                "event_type": ["page_view", "purchase"],
                "user_id": ["u1", "u2"],
                "session_id": ["s1", "s2"],
                "url": ["/", "/checkout"],
                "http_status": pa.array([200, 500], pa.int16()),
                "order_id": [None, "o1"],
                "price": [None, 9.99],
                "quantity": pa.array([None, 2], pa.int32()),
                "duration_ms": pa.array([100, None], pa.int64()),
                "schema_version": pa.array([1, 1], pa.int8()),
                "event_time": at,
                "received_at": at,
            }
        )
        pq.write_table(
            table,
            f"{settings.names.bucket}/{EVENTS.partition_prefix({'dt': dt, 'hour': hour})}p.parquet",
            filesystem=fs,
        )
    register_curated(settings, [("2026-11-21", "23"), ("2026-11-22", "00")])


def test_ddl_files_register_the_fixed_tables(settings: Settings) -> None:
    glue = _clients.client("glue", settings)
    db = settings.names.glue_database
    for table in FIXED_TABLES:
        glue.delete_table(DatabaseName=db, Name=table.name)
    engine = query_engine(settings)
    for rel in sql_files("ddl"):
        engine.execute(render(load(rel), {"bucket": settings.names.bucket}))
    for table in FIXED_TABLES:
        entry = glue.get_table(DatabaseName=db, Name=table.name)["Table"]
        assert [(c["Name"], c["Type"]) for c in entry["StorageDescriptor"]["Columns"]] == [
            (c.name, c.type) for c in table.columns
        ]
        assert entry["StorageDescriptor"]["Location"] == table.location(settings.names.bucket)
        if table.versioned:  # its job registers each partition's version (ADR 0008)
            assert entry["Parameters"]["clickstream.versioned"] == "true"
            assert "projection.enabled" not in entry["Parameters"]
        else:
            assert entry["Parameters"]["projection.enabled"] == "true"
    assert engine.execute("SELECT count(*) AS n FROM events").column("n").to_pylist() == [0]


@pytest.mark.parametrize("rel", sql_files())
def test_every_sql_file_runs_on_the_local_engine(settings: Settings, rel: str) -> None:
    text = load(rel)
    params = {"bucket": settings.names.bucket, **DEFAULT_PARAMS}
    unknown = placeholders(text) - set(params)
    assert not unknown, f"sql/{rel}: add a default for {unknown} to DEFAULT_PARAMS in this test"
    _seed_events(settings)
    name = rel.removeprefix("metrics/").removesuffix(".sql")
    if (rel.startswith("metrics/") and upstream(name)) or rel.startswith("batch_view/"):
        # the tables it reads (metric_sessions) are the batch job's: `clickstream query -f` needs a run first
        compute_batch_metrics(
            settings, date.fromisoformat(DEFAULT_PARAMS["start_dt"]), date.fromisoformat(DEFAULT_PARAMS["end_dt"])
        )
    if rel.startswith("compaction/"):
        # the compaction job's statements read the batch it holds (`raw_lines`), not a Glue table
        out = LocalEngine.over({"raw_lines": RAW_LINES}).execute(render(text, params), timeout_s=60)
        assert out.column("event_id").to_pylist() == ["e1", None]
        assert out.column("http_status").to_pylist() == [None, None]
        assert out.column("_invalid_types").to_pylist() == ["http_status", None]
        assert out.column("bad_line").to_pylist() == [None, "not json"]
        return
    engine = query_engine(settings)
    out = engine.execute(render(text, params), timeout_s=60)
    assert isinstance(out, pa.Table)
    if rel.startswith("ddl/"):
        name = rel.removeprefix("ddl/").removesuffix(".sql")
        assert name in {t["Name"] for t in glue_catalog(settings).tables(settings.names.glue_database)}
