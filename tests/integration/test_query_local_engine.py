"""The local engine runs Athena SQL over Parquet and NDJSON.gz in the moto S3 bucket, through the Glue catalog."""

from __future__ import annotations

import gzip
import time
from datetime import datetime

import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from clickstream.adapters import _clients
from clickstream.adapters.glue import glue_catalog
from clickstream.adapters.query import UnknownTableError, query_engine, s3_filesystem
from clickstream.catalog import EVENTS, RAW_EVENTS, Column, metric_table
from clickstream.settings import Settings


def _events(n: int, dt: str, hour: str) -> pa.Table:
    base = datetime.fromisoformat(f"{dt}T{hour}:00:00+00:00")
    return pa.table(
        {
            "event_id": [f"e-{dt}-{hour}-{i}" for i in range(n)],
            "event_type": ["purchase" if i % 5 == 0 else "page_view" for i in range(n)],
            "user_id": [f"u{i % 3}" for i in range(n)],
            "event_time": pa.array([base.replace(minute=i % 60) for i in range(n)], pa.timestamp("ms", tz="UTC")),
            "url": ["/cart" if i % 2 else "/" for i in range(n)],
            "http_status": pa.array([404 if i == 1 else 200 for i in range(n)], pa.int16()),
            "price": [10.5 if i % 5 == 0 else None for i in range(n)],
        }
    )


def _write_events(settings: Settings, table: pa.Table, dt: str, hour: str) -> list[dict[str, str]]:
    fs = s3_filesystem(settings)
    part = {"dt": dt, "hour": hour}
    path = f"{settings.names.bucket}/{EVENTS.partition_prefix(part)}part-0.parquet"
    import pyarrow.parquet as pq

    pq.write_table(table, path, filesystem=fs)
    return [part]


def test_provision_registers_the_fixed_tables(settings: Settings) -> None:
    names = {t["Name"] for t in glue_catalog(settings).tables(settings.names.glue_database)}
    assert {"raw_events", "events"} <= names


def test_select_over_parquet_partitions_keeps_dt_hour_as_strings(settings: Settings) -> None:
    glue = glue_catalog(settings)
    db, bucket = settings.names.glue_database, settings.names.bucket
    parts = _write_events(settings, _events(10, "2026-11-21", "23"), "2026-11-21", "23")
    parts += _write_events(settings, _events(6, "2026-11-22", "00"), "2026-11-22", "00")
    assert glue.upsert_partitions(db, EVENTS, bucket, parts) == 2
    assert glue.upsert_partitions(db, EVENTS, bucket, parts) == 0
    assert glue.partitions(db, "events") == [{"dt": "2026-11-21", "hour": "23"}, {"dt": "2026-11-22", "hour": "00"}]

    engine = query_engine(settings)
    out = engine.execute(
        "SELECT dt, hour, count(*) AS n, approx_distinct(user_id) AS users, "
        "sum(CASE WHEN http_status >= 400 THEN 1 ELSE 0 END) AS errors, "
        "date_format(min(event_time), '%Y-%m-%d %H:%i') AS first "
        f"FROM {db}.events WHERE dt >= '2026-11-21' GROUP BY dt, hour ORDER BY dt, hour"
    )
    assert out.schema.field("dt").type == pa.string()
    assert out.to_pylist() == [
        {"dt": "2026-11-21", "hour": "23", "n": 10, "users": 3, "errors": 1, "first": "2026-11-21 23:00"},
        {"dt": "2026-11-22", "hour": "00", "n": 6, "users": 3, "errors": 1, "first": "2026-11-22 00:00"},
    ]
    assert engine.execute("SELECT * FROM events ORDER BY event_id", max_rows=4).num_rows == 4
    glue.delete_partitions(db, "events", [{"dt": "2026-11-21", "hour": "23"}])
    assert glue.partitions(db, "events") == [{"dt": "2026-11-22", "hour": "00"}]


def test_empty_table_has_the_glue_schema(settings: Settings) -> None:
    out = query_engine(settings).execute("SELECT * FROM events")
    assert out.num_rows == 0
    assert out.schema.names == [c.name for c in EVENTS.columns] + ["dt", "hour"]
    assert out.schema.field("http_status").type == pa.int16()


def test_raw_ndjson_gz_is_queryable_with_glue_types(settings: Settings) -> None:
    rows = [
        {
            "event_id": "a",
            "event_type": "click",
            "timestamp": "2026-11-22T07:00:00.000Z",
            "http_status": 200,
            "properties": {"k": [1, 2]},
            "price": 3,
        },
        {"event_id": "b", "event_type": "purchase", "timestamp": "2026-11-22T07:01:00.000Z", "http_status": 500},
    ]
    body = gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in rows) + b"{not json\n")
    key = f"{RAW_EVENTS.partition_prefix({'dt': '2026-11-22', 'hour': '07'})}kinesis-0-001.ndjson.gz"
    _clients.client("s3", settings).put_object(Bucket=settings.names.bucket, Key=key, Body=body)

    out = query_engine(settings).execute(
        "SELECT event_id, timestamp, http_status, properties, price, device, dt, hour FROM raw_events ORDER BY event_id"
    )
    assert out.schema.field("timestamp").type == pa.string()
    assert out.schema.field("device").type == pa.string()
    assert out.to_pylist() == [
        {
            "event_id": "a",
            "timestamp": "2026-11-22T07:00:00.000Z",
            "http_status": 200,
            "properties": '{"k":[1,2]}',
            "price": 3.0,
            "device": None,
            "dt": "2026-11-22",
            "hour": "07",
        },
        {
            "event_id": "b",
            "timestamp": "2026-11-22T07:01:00.000Z",
            "http_status": 500,
            "properties": None,
            "price": None,
            "device": None,
            "dt": "2026-11-22",
            "hour": "07",
        },
        {
            "event_id": None,
            "timestamp": None,
            "http_status": None,
            "properties": None,
            "price": None,
            "device": None,
            "dt": "2026-11-22",
            "hour": "07",
        },
    ]


def test_unknown_table_lists_the_tables_there_are(settings: Settings) -> None:
    with pytest.raises(UnknownTableError, match="raw_events") as err:
        query_engine(settings).execute("SELECT * FROM nope")
    assert err.value.missing == ["nope"]
    assert {"events", "raw_events"} <= set(err.value.available)


def test_metric_table_registered_by_ensure_table(settings: Settings) -> None:
    glue = glue_catalog(settings)
    db, bucket = settings.names.glue_database, settings.names.bucket
    table = metric_table("daily", (Column("events", "bigint"), Column("revenue", "decimal(38,6)")))
    assert glue.ensure_table(db, table, bucket) is True
    assert glue.ensure_table(db, table, bucket) is False
    fs = s3_filesystem(settings)
    ds.write_dataset(
        pa.table({"events": [5], "dt": ["2026-11-22"]}),
        f"{bucket}/{table.prefix}",
        filesystem=fs,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("dt", pa.string())]), flavor="hive"),
    )
    # a metric table is versioned: its job registers each day's partition, and readers read those
    assert query_engine(settings).execute("SELECT dt FROM metric_daily").num_rows == 0
    glue.upsert_partitions(db, table, bucket, [{"dt": "2026-11-22"}])
    out = query_engine(settings).execute("SELECT dt, events, revenue FROM metric_daily")
    assert out.to_pylist() == [{"dt": "2026-11-22", "events": 5, "revenue": None}]


def test_raw_lines_are_each_line_as_it_came_with_its_object_and_the_parse_reads_them(settings: Settings) -> None:
    # docs/adr/0011-compaction-as-sql.md: the compaction's parse reads raw_lines in Athena
    from clickstream.catalog import RAW_LINES
    from clickstream.sqlfiles import PARSE_INCLUDE, render

    s3 = _clients.client("s3", settings)
    bucket, prefix = settings.names.bucket, RAW_LINES.partition_prefix({"dt": "2026-11-22", "hour": "07"})
    good = orjson.dumps({"event_id": "e1", "event_type": "click", "http_status": 404, "url": "/a"})
    typed_wrong = orjson.dumps({"event_id": "e2", "http_status": "404"})
    s3.put_object(Bucket=bucket, Key=f"{prefix}a.ndjson.gz", Body=gzip.compress(good + b"\r\n" + typed_wrong + b"\n"))
    s3.put_object(Bucket=bucket, Key=f"{prefix}b.ndjson.gz", Body=gzip.compress(b"not json\n"))
    s3.put_object(Bucket=bucket, Key="raw/events/dt=2026-11-22/hour=08/c.ndjson.gz", Body=gzip.compress(good))
    engine = query_engine(settings)

    rows = engine.execute(
        """SELECT line, "$path" AS path FROM raw_lines WHERE dt = '2026-11-22' AND hour = '07' ORDER BY path, line"""
    ).to_pylist()

    assert [r["line"] for r in rows] == [good.decode(), typed_wrong.decode(), "not json"]
    assert [r["path"] for r in rows] == [f"s3://{bucket}/{prefix}{name}.ndjson.gz" for name in ("a", "a", "b")]
    parse = f"""
        WITH raw AS (SELECT line FROM raw_lines WHERE dt = '2026-11-22' AND hour = '07'),
        {{{{> {PARSE_INCLUDE} }}}}
        SELECT event_id, http_status, _invalid_types, is_object FROM parsed ORDER BY event_id"""
    parsed = engine.execute(render(parse, {})).to_pylist()
    assert parsed == [
        {"event_id": "e1", "http_status": 404, "_invalid_types": None, "is_object": True},
        {"event_id": "e2", "http_status": None, "_invalid_types": "http_status", "is_object": True},
        {"event_id": None, "http_status": None, "_invalid_types": None, "is_object": False},
    ]


def _state_when_done(engine: object, execution_id: str) -> object:
    deadline = time.monotonic() + 30
    while True:
        state = engine.state(execution_id)  # type: ignore[attr-defined]
        if state.finished or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_a_started_statement_runs_on_its_own_and_reports_its_state(settings: Settings) -> None:
    from clickstream.adapters.query import QueryError

    engine = query_engine(settings)
    parts = _write_events(settings, _events(5, "2026-11-20", "10"), "2026-11-20", "10")
    glue_catalog(settings).upsert_partitions(settings.names.glue_database, EVENTS, settings.names.bucket, parts)
    location = f"s3://{settings.names.bucket}/exports/test/files/"
    ok = engine.start(
        f"UNLOAD (SELECT event_id FROM events) TO '{location}' WITH (format = 'PARQUET', compression = 'ZSTD')"
    )
    assert _state_when_done(engine, ok).succeeded
    written = ds.dataset(f"{settings.names.bucket}/exports/test/files", filesystem=s3_filesystem(settings))
    assert sorted(written.to_table().column("event_id").to_pylist()) == [f"e-2026-11-20-10-{i}" for i in range(5)]
    # a statement that fails says why; another process of the API reads the same state
    bad = engine.start("SELECT no_such_column FROM events")
    failed = _state_when_done(query_engine(settings), bad)
    assert failed.state == "FAILED" and "no_such_column" in (failed.reason or "")
    with pytest.raises(QueryError, match="no query"):
        engine.state("00000000-0000-0000-0000-000000000000")


def test_a_started_statement_left_running_by_a_stopped_process_reads_as_failed(settings: Settings) -> None:
    from clickstream.adapters.query.engine import QueryState

    engine = query_engine(settings)
    # GIVEN the state a process that stopped mid-statement leaves: RUNNING, past its deadline
    engine._put_state("0f0f0f0f-0000-0000-0000-000000000000", QueryState("RUNNING"), deadline=time.time() - 1)  # type: ignore[attr-defined]
    state = engine.state("0f0f0f0f-0000-0000-0000-000000000000")
    assert state.state == "FAILED" and "start it again" in (state.reason or "")


def test_a_file_rewritten_in_place_is_read_again_by_the_same_engine(settings: Settings) -> None:
    # (the engine reads local copies of the lake's Parquet: a copy is used while the object's size
    # and time are unchanged; the reconciliation table's files are rewritten in place)
    engine = query_engine(settings)
    parts = _write_events(settings, _events(3, "2026-11-20", "10"), "2026-11-20", "10")
    glue_catalog(settings).upsert_partitions(settings.names.glue_database, EVENTS, settings.names.bucket, parts)
    first = engine.execute("SELECT count(*) AS n FROM events WHERE dt = '2026-11-20'").to_pylist()
    _write_events(settings, _events(7, "2026-11-20", "10"), "2026-11-20", "10")
    second = engine.execute("SELECT count(*) AS n FROM events WHERE dt = '2026-11-20'").to_pylist()
    assert (first, second) == ([{"n": 3}], [{"n": 7}])


def test_partitions_in_mixed_layouts_and_anywhere_are_read_with_their_registered_values(settings: Settings) -> None:
    # GIVEN three registered partitions of `events`: one in the layout before versions
    # (dt=/hour=/), one in a version (v=…/dt=/hour=/), and one at a location that spells no value
    import pyarrow.parquet as pq

    fs, bucket = s3_filesystem(settings), settings.names.bucket
    layouts = {
        ("2026-11-20", "10"): "curated/events/dt=2026-11-20/hour=10/",
        ("2026-11-20", "11"): "curated/events/v=20261207T000000Z-run/dt=2026-11-20/hour=11/",
        ("2026-11-20", "12"): "curated/events/restored/from-backup/",
    }
    for (dt, hour), prefix in layouts.items():
        pq.write_table(_events(2, dt, hour), f"{bucket}/{prefix}part-0.parquet", filesystem=fs)
    glue_catalog(settings).upsert_partitions(
        settings.names.glue_database, EVENTS, bucket, [{"dt": dt, "hour": h} for dt, h in layouts],
        prefixes={values: prefix for values, prefix in layouts.items()},
    )  # fmt: skip
    # THEN the engine reads every one, each with the partition values Glue has for it
    out = query_engine(settings).execute(
        "SELECT hour, count(*) AS n, min(event_id) AS first FROM events WHERE dt = '2026-11-20' GROUP BY 1 ORDER BY 1"
    )
    assert out.to_pylist() == [{"hour": h, "n": 2, "first": f"e-2026-11-20-{h}-0"} for h in ("10", "11", "12")]
