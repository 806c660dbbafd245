"""compact_interval against the real moto server: raw NDJSON.gz in, Parquet + Glue + quarantine out."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb import latest_run
from clickstream.adapters.glue import glue_catalog
from clickstream.adapters.s3 import lake_bucket
from clickstream.emulated.firehose.batching import KINESIS_SEQUENCE_DIGITS, MS_PER_HOUR, object_key
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.jobs.compact import JOB, compact_interval
from clickstream.jobs.compact_write import CURATED_SCHEMA
from clickstream.quality import DataQualityError
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # GX validation and Parquet rewrites per test

H10 = datetime(2026, 11, 22, 10, tzinfo=UTC)
H11 = H10 + timedelta(hours=1)
H12 = H10 + timedelta(hours=2)


def event(event_id: str, at: datetime, *, received: datetime | None = None, **fields: Any) -> bytes:
    """One archive line: the collector's normalised event (validate_event), then `fields` forced in."""
    raw = {
        "event_id": event_id,
        "event_type": "page_view",
        "user_id": f"user-{event_id[-1]}",
        "timestamp": at.isoformat(),
    }
    result = validate_event(raw, received_at=received or at + timedelta(seconds=2))
    assert result.event is not None, result.errors
    return encode_event({**result.event, **fields})


def put_raw(settings: Settings, arrival: datetime, first_position: int, lines: list[bytes]) -> str:
    """Write one archive object the way the archiver names it (arrival hour, shard, position)."""
    hour = int(arrival.timestamp() * 1000) // MS_PER_HOUR
    key = object_key(
        "clickstream-local-events", "shardId-000000000000", hour, first_position, digits=KINESIS_SEQUENCE_DIGITS
    )
    lake_bucket(settings).put_ndjson_gz(key, lines)
    return key


def objects(settings: Settings, prefix: str) -> dict[str, bytes]:
    s3 = _clients.client("s3", settings)
    bucket = settings.names.bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in sorted(keys)}


def published(settings: Settings) -> dict[str, bytes]:
    """What readers see: the files of each partition's current version (its Glue location), named
    `curated/events/dt=…/hour=…/<file>` whatever the version."""
    locations = glue_catalog(settings).partition_locations(settings.names.glue_database, "events")
    out = {}
    for (dt, hour), location in sorted(locations.items()):
        prefix = location.removeprefix(f"s3://{settings.names.bucket}/")
        for key, body in objects(settings, prefix).items():
            out[f"curated/events/dt={dt}/hour={hour}/{key.rsplit('/', 1)[1]}"] = body
    return out


def curated(settings: Settings) -> dict[str, pa.Table]:
    """Each partition's rows as readers see them (all the files of its current version), by
    `curated/events/dt=…/hour=…`."""
    out: dict[str, list[pa.Table]] = {}
    for key, body in published(settings).items():
        out.setdefault(key.rsplit("/", 1)[0], []).append(pq.read_table(io.BytesIO(body)))
    return {k: pa.concat_tables(v) for k, v in out.items()}


def ids(table: pa.Table) -> list[str]:
    return sorted(table.column("event_id").to_pylist())


def at(hour: datetime, minute: int) -> datetime:
    return hour + timedelta(minutes=minute)


def test_curated_rows_are_exactly_the_unique_valid_events_in_their_event_hour(settings: Settings) -> None:
    # GIVEN arrival hour 10: six valid events (one from hour 9, late but within the lateness),
    # retried duplicates (one in the same object, one in another object), invalid rows and bad lines
    first = [
        event("e1", at(H10, 1)),
        event("e2", at(H10, 2)),
        b'{"event_id": "cut", "event_type": "cli',
        event("e3", at(H10, 3)),
        event("e2", at(H10, 2), received=at(H10, 9)),  # a producer retry of e2
        event("bad-status", at(H10, 4), http_status=700),
        b"",
        b"not json at all",
        event("bad-type", at(H10, 5), event_type="teleport"),
        event("bad-price", at(H10, 6), price=-1.0, quantity=1),
        event("e6", at(H10 - timedelta(hours=1), 30)),
    ]
    second = [
        event("e4", at(H10, 40), session_id="s-1"),
        event("e3", at(H10, 3), received=at(H10, 41)),
        event("e5", at(H10, 50), price=9.5, quantity=2, event_type="purchase"),
        event("too-old", H10 - timedelta(days=3)),
        event("bad-field-type", at(H10, 7), user_id={"nested": 1}),
    ]
    k1 = put_raw(settings, at(H10, 10), 100, first)
    put_raw(settings, at(H10, 55), 200, second)
    put_raw(settings, at(H11, 5), 300, [event("next-hour", at(H11, 1))])  # outside the interval

    # WHEN the hour is compacted
    report = compact_interval(settings, H10, H11, run_id="scheduled__2026-11-22T10:00:00+00:00", max_failure_rate=0.5)

    # THEN each unique valid event is in its event-time partition, once
    tables = curated(settings)
    assert sorted(tables) == ["curated/events/dt=2026-11-22/hour=09", "curated/events/dt=2026-11-22/hour=10"]
    assert [k.rsplit("/", 1)[1] for k in published(settings)] == ["part-00000.parquet"] * 2
    h09, h10 = tables.values()
    assert ids(h09) == ["e6"]
    assert ids(h10) == ["e1", "e2", "e3", "e4", "e5"]
    assert h10.schema.remove_metadata() == CURATED_SCHEMA
    assert h10.schema.field("http_status").type == pa.int16()
    assert h10.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    # the first seen copy of a duplicate wins (its received_at), rows are sorted by user, session, time
    e2 = next(r for r in h10.to_pylist() if r["event_id"] == "e2")
    assert e2["received_at"] == at(H10, 2) + timedelta(seconds=2)
    assert h10.column("user_id").to_pylist() == sorted(h10.column("user_id").to_pylist())

    assert (report.raw_objects, report.raw_rows, report.malformed) == (2, 15, 2)
    assert (report.valid, report.quarantined, report.duplicates, report.published) == (8, 7, 2, 6)
    assert report.partitions == [("2026-11-22", "09"), ("2026-11-22", "10")]
    assert report.pass_rate == pytest.approx(8 / 15)

    # quarantined rows carry their reasons, their origin and the run id
    ((qkey, qbody),) = objects(settings, "quarantine/").items()
    assert report.quarantine_key is not None and qkey.startswith(report.quarantine_key)
    rows = [json.loads(line) for line in gzip.decompress(qbody).splitlines()]
    reasons = {
        (r.get("raw", "")[:30] if r["reason"] == "malformed_json" else json.loads(r["raw"])["event_id"]): r[
            "failed_expectations"
        ]
        for r in rows
    }
    assert reasons == {
        '{"event_id": "cut", "event_typ': ["malformed_json"],
        "not json at all": ["malformed_json"],
        "bad-status": ["expect_column_values_to_be_between:http_status"],
        "bad-type": ["expect_column_values_to_be_in_set:event_type"],
        "bad-price": ["expect_column_values_to_be_between:price"],
        "too-old": ["expect_column_values_to_be_between:event_time"],
        "bad-field-type": [
            "expect_column_values_to_not_be_null:user_id",
            "expect_column_values_to_be_null:_invalid_types",
        ],
    }
    assert {r["run_id"] for r in rows} == {report.run_id}
    cut = next(r for r in rows if r["raw"].startswith('{"event_id": "cut"'))
    assert cut["source_key"] == k1 and "record" not in cut  # Athena reads no line numbers (ADR 0011)
    assert next(r for r in rows if "invalid_type_columns" in r)["invalid_type_columns"] == ["user_id"]

    # GX results are kept per run: JSON and Data Docs HTML
    results = json.loads(objects(settings, report.results_key)[report.results_key])
    assert results["success"] is False and len(results["results"]) >= 10
    assert (
        report.results_key == "quality/compact_raw_events/run_id=scheduled__2026-11-22T10_00_00_00_00/validation.json"
    )
    html = objects(settings, report.docs_key)[report.docs_key].decode()
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "http_status" in html and "Great Expectations" in html

    # the partitions are registered in Glue at the run's version, the run is recorded
    locations = glue_catalog(settings).partition_locations(settings.names.glue_database, "events")
    assert sorted(locations) == [("2026-11-22", "09"), ("2026-11-22", "10")]
    (version,) = {location.split("/v=", 1)[1].split("/", 1)[0] for location in locations.values()}
    assert version.endswith("-scheduled__2026-11-22T10_00_00_00_00")
    assert locations[("2026-11-22", "10")] == (
        f"s3://{settings.names.bucket}/curated/events/v={version}/dt=2026-11-22/hour=10/"
    )
    run = latest_run(settings, JOB)
    assert run is not None and run["status"] == "success" and float(run["pass_rate"]) == pytest.approx(8 / 15)
    assert sorted(k.rsplit("/", 1)[0] for k in objects(settings, "curated/")) == [
        f"curated/events/v={version}/dt=2026-11-22/hour=09",
        f"curated/events/v={version}/dt=2026-11-22/hour=10",
    ]


def test_rerunning_an_interval_three_times_leaves_identical_partitions(settings: Settings) -> None:
    lines = [event(f"r{i}", at(H10, i % 60), session_id=f"s{i % 3}") for i in range(200)]
    put_raw(settings, at(H10, 10), 1, lines[:120] + lines[:5])
    put_raw(settings, at(H10, 50), 500, lines[120:])

    first = compact_interval(settings, H10, H11, run_id="run-1")
    snapshot = published(settings)
    for attempt in (2, 3):
        again = compact_interval(settings, H10, H11, run_id=f"run-{attempt}")
        assert published(settings) == snapshot  # byte-identical Parquet, as a new version
        assert again.published == 0 and again.duplicates == 205
        assert again.partitions == []  # nothing changed: batch_metrics recomputes no day
    assert first.published == 200 and first.duplicates == 5
    assert sum(pq.read_table(io.BytesIO(v)).num_rows for v in snapshot.values()) == 200


def test_a_late_event_merges_into_its_older_partition_without_duplicates(settings: Settings) -> None:
    put_raw(settings, at(H10, 20), 1, [event("a", at(H10, 5)), event("b", at(H10, 6))])
    compact_interval(settings, H10, H11, run_id="h10")
    # an hour later: a late event of hour 10, a retry of "a", and an event of hour 11
    put_raw(
        settings,
        at(H11, 30),
        10,
        [event("late", at(H10, 59)), event("a", at(H10, 5), received=at(H11, 29)), event("c", at(H11, 1))],
    )

    report = compact_interval(settings, H11, H12, run_id="h11")

    tables = curated(settings)
    assert ids(tables["curated/events/dt=2026-11-22/hour=10"]) == ["a", "b", "late"]
    assert ids(tables["curated/events/dt=2026-11-22/hour=11"]) == ["c"]
    kept = next(r for r in tables["curated/events/dt=2026-11-22/hour=10"].to_pylist() if r["event_id"] == "a")
    assert kept["received_at"] == at(H10, 5) + timedelta(seconds=2)  # the published row wins
    assert (report.duplicates, report.published) == (1, 2)
    # the late row is a delta file beside a copy of the published file, which no one re-encoded
    hour10 = {k.rsplit("/", 1)[1]: v for k, v in published(settings).items() if "/hour=10/" in k}
    assert sorted(hour10) == ["delta-00000.parquet", "part-00000.parquet"]
    assert ids(pq.read_table(io.BytesIO(hour10["delta-00000.parquet"]))) == ["late"]
    assert report.partitions == [("2026-11-22", "10"), ("2026-11-22", "11")]


def test_a_raw_object_landing_after_its_hour_was_compacted_is_published_once_by_a_later_run(
    settings: Settings,
) -> None:
    # GIVEN arrival hour 10, compacted
    put_raw(settings, at(H10, 20), 1, [event("a", at(H10, 5)), event("b", at(H10, 6))])
    assert compact_interval(settings, H10, H11, run_id="h10").late_objects == 0
    # WHEN an object lands under arrival hour 10 afterwards (Firehose's delayed delivery): a new
    # event, and a copy of "a" (a producer retry); plus hour 11's own traffic
    put_raw(settings, at(H10, 59), 40, [event("late", at(H10, 58)), event("a", at(H10, 5), received=at(H10, 58))])
    put_raw(settings, at(H11, 30), 50, [event("c", at(H11, 1))])
    report = compact_interval(settings, H11, H12, run_id="h11")

    # THEN hour 11's run compacts it: the new event once, the copy as a duplicate, and says so
    assert (report.late_objects, report.late_hours, report.raw_objects) == (1, ["2026-11-22/10"], 2)
    tables = curated(settings)
    assert ids(tables["curated/events/dt=2026-11-22/hour=10"]) == ["a", "b", "late"]
    assert ids(tables["curated/events/dt=2026-11-22/hour=11"]) == ["c"]
    assert (report.published, report.duplicates) == (2, 1)
    run = latest_run(settings, JOB)
    assert run is not None and int(run["late_objects"]) == 1 and run["late_hours"] == ["2026-11-22/10"]
    # AND a rerun of hour 11 finds nothing late any more and changes no byte of curated/
    before = published(settings)
    again = compact_interval(settings, H11, H12, run_id="h11-rerun")
    assert again.late_objects == 0 and published(settings) == before
    # AND a rerun of hour 10 (a backfill) takes both of its objects: the same rows, the same bytes
    compact_interval(settings, H10, H11, run_id="h10-backfill")
    assert published(settings) == before


def test_an_archived_raw_object_stops_the_run_with_the_restore_command_and_publishes_nothing(
    settings: Settings,
) -> None:
    from clickstream.adapters.s3 import ArchivedObjectError

    s3 = _clients.client("s3", settings)
    key = put_raw(settings, at(H10, 20), 1, [event("a", at(H10, 5))])
    # the lifecycle's own cold tier, Glacier Instant Retrieval, reads like any object
    s3.copy_object(Bucket=settings.names.bucket, Key=key, CopySource={"Bucket": settings.names.bucket, "Key": key},
                   StorageClass="GLACIER_IR")  # fmt: skip
    assert compact_interval(settings, H10, H11, run_id="h10").published == 1
    # an object archived to Glacier Flexible Retrieval (an older lifecycle) needs a restore first
    old = put_raw(settings, at(H11, 20), 2, [event("b", at(H11, 5))])
    s3.copy_object(Bucket=settings.names.bucket, Key=old, CopySource={"Bucket": settings.names.bucket, "Key": old},
                   StorageClass="GLACIER")  # fmt: skip
    before = objects(settings, "curated/events/")
    with pytest.raises(ArchivedObjectError, match=f"{old} is archived .*aws s3api restore-object"):
        compact_interval(settings, H11, H12, run_id="h11")
    assert objects(settings, "curated/events/") == before  # not even a version was written
    run = latest_run(settings, JOB)
    assert run is not None and run["status"] == "failed"
    # once restored, as the message says, the rerun compacts it
    s3.restore_object(Bucket=settings.names.bucket, Key=old, RestoreRequest={"Days": 7})
    assert compact_interval(settings, H11, H12, run_id="h11-rerun").published == 1


def test_a_run_above_the_failure_threshold_publishes_nothing(settings: Settings) -> None:
    good = [event(f"g{i}", at(H10, i)) for i in range(8)]
    bad = [event(f"x{i}", at(H10, i), http_status=999) for i in range(2)]
    put_raw(settings, at(H10, 10), 1, [*good, *bad, b"{truncated"])

    with pytest.raises(DataQualityError) as caught:
        compact_interval(settings, H10, H11, run_id="too-bad", max_failure_rate=0.05)

    message = str(caught.value)
    assert "27.27%" in message and "5.00%" in message
    assert "s3://clickstream-local-lake/quality/compact_raw_events/run_id=too-bad/validation.json" in message
    assert objects(settings, "curated/") == {}
    assert glue_catalog(settings).partitions(settings.names.glue_database, "events") == []
    assert list(objects(settings, "quality/compact_raw_events/run_id=too-bad/")) == [
        "quality/compact_raw_events/run_id=too-bad/index.html",
        "quality/compact_raw_events/run_id=too-bad/validation.json",
    ]
    (body,) = objects(settings, "quarantine/").values()
    assert len(gzip.decompress(body).splitlines()) == 3
    run = latest_run(settings, JOB)
    assert run is not None and run["status"] == "failed" and run["quarantined"] == 3
    assert "DataQualityError" in run["error"]


def test_an_empty_interval_publishes_nothing_and_succeeds(settings: Settings) -> None:
    report = compact_interval(settings, H10, H11, run_id="empty")
    assert (report.raw_objects, report.raw_rows, report.partitions, report.pass_rate) == (0, 0, [], 1.0)
    assert objects(settings, "curated/") == {}
    assert orjson.loads(objects(settings, report.results_key)[report.results_key])["success"] is True


def test_a_replaced_version_stays_for_running_queries_then_a_later_run_deletes_it(settings: Settings) -> None:
    # GIVEN hour 10 published at 11:00, then merged with a late event at 12:00 (a new version)
    clock = {"now": H11}
    put_raw(settings, at(H10, 20), 1, [event("a", at(H10, 5)), event("b", at(H10, 6))])
    compact_interval(settings, H10, H11, run_id="h10", now=lambda: clock["now"])
    first = set(objects(settings, "curated/events/"))
    clock["now"] = H12
    put_raw(settings, at(H11, 30), 10, [event("late", at(H10, 59))])
    compact_interval(settings, H11, H12, run_id="h11", now=lambda: clock["now"])

    # THEN the replaced version is still there (a query that resolved it may be reading it), and
    # neither the engine nor the API's lake reader counts it: each reads the registered version
    assert first <= set(objects(settings, "curated/events/"))
    assert ids(curated(settings)["curated/events/dt=2026-11-22/hour=10"]) == ["a", "b", "late"]
    from clickstream.adapters.query import query_engine

    engine = query_engine(settings)
    assert engine.execute("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events").to_pylist() == [
        {"n": 3, "d": 3}
    ]

    # WHEN a run starts once the longest Athena query could no longer hold it
    from clickstream.jobs.curated_versions import RETIRE_AFTER

    clock["now"] = H12 + RETIRE_AFTER + timedelta(seconds=1)
    compact_interval(settings, H12, H12 + timedelta(hours=1), run_id="h12", now=lambda: clock["now"])

    # THEN the replaced version is gone, the current one is untouched, and nothing is left to retire
    left = set(objects(settings, "curated/events/"))
    assert not first & left
    assert published(settings) and all(k.endswith(".parquet") for k in left)
    assert objects(settings, "manifests/compact_raw_events/retired/") == {}
    assert engine.execute("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 3}]


def test_a_version_whose_run_died_before_the_swap_is_never_read_and_is_swept(settings: Settings) -> None:
    from clickstream.adapters.s3 import lake_objects
    from clickstream.catalog import EVENTS
    from clickstream.jobs import curated_versions as cv

    put_raw(settings, at(H10, 20), 1, [event("a", at(H10, 5))])
    compact_interval(settings, H10, H11, run_id="h10", now=lambda: H11)
    before = published(settings)
    # a run that wrote its version of hour 10 (and the version's own retirement), then died
    store = lake_objects(settings)
    values = {"dt": "2026-11-22", "hour": "10"}
    orphan = EVENTS.version_prefix(values, cv.version_name(H11 + timedelta(minutes=5), "crashed"))
    cv.retire(store, cv.Retired(("2026-11-22", "10"), orphan, H11 + timedelta(minutes=5) + cv.RETIRE_AFTER))
    store.put(f"{orphan}part-00000.parquet", next(iter(before.values())), content_type="application/octet-stream")

    assert published(settings) == before  # readers never see it
    compact_interval(settings, H11, H12, run_id="h11", now=lambda: H11 + timedelta(hours=1))
    assert list(objects(settings, orphan)) == [f"{orphan}part-00000.parquet"]  # not due yet
    compact_interval(settings, H12, H12 + timedelta(hours=1), run_id="h12", now=lambda: H11 + timedelta(hours=6))
    assert objects(settings, orphan) == {} and published(settings) == before


def test_after_max_delta_files_late_merges_the_partition_is_rewritten_sorted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clickstream.jobs import compact_write

    monkeypatch.setattr(compact_write, "MAX_DELTA_FILES", 2)
    put_raw(settings, at(H10, 20), 1, [event("a", at(H10, 5))])
    compact_interval(settings, H10, H11, run_id="h10")
    names = []
    for i, late in enumerate(("b", "c", "d")):  # three late objects of hour 10, one per later run
        put_raw(settings, at(H10, 58), 10 + i, [event(late, at(H10, 30 + i))])
        compact_interval(settings, H11, H12, run_id=f"late-{late}")
        names.append(sorted(k.rsplit("/", 1)[1] for k in published(settings)))
    assert names == [
        ["delta-00000.parquet", "part-00000.parquet"],
        ["delta-00000.parquet", "delta-00001.parquet", "part-00000.parquet"],
        ["part-00000.parquet"],  # the third would have been one too many: sorted into one file
    ]
    (table,) = curated(settings).values()
    assert table.column("event_id").to_pylist() == ["a", "b", "c", "d"]  # user-a..d: the curated order


def test_a_reader_racing_a_publish_sees_the_old_or_the_new_partition_never_a_mix(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from clickstream.adapters.query import local, query_engine

    monkeypatch.setattr(local, "MAX_ROWS_PER_FILE", 20)  # the engine writes partitions of several files
    put_raw(settings, at(H10, 20), 1, [event(f"a{i:03d}", at(H10, i % 60)) for i in range(100)])
    compact_interval(settings, H10, H11, run_id="h10")
    # a backfill of the hour after the lake lost nothing but gained 60 events: more files, a new version
    put_raw(settings, at(H10, 58), 200, [event(f"b{i:03d}", at(H10, i % 60)) for i in range(60)])
    engine = query_engine(settings)
    sql = "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events WHERE dt = '2026-11-22' AND hour = '10'"
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            (row,) = engine.execute(sql).to_pylist()
            seen.append((row["n"], row["d"]))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        compact_interval(settings, H10, H11, run_id="h10-backfill")
    finally:
        done.set()
        thread.join()
    (row,) = engine.execute(sql).to_pylist()
    seen.append((row["n"], row["d"]))
    assert len(seen) > 2
    assert set(seen) <= {(100, 100), (160, 160)}, sorted(set(seen))
    assert seen[0] == (100, 100) and seen[-1] == (160, 160)


def test_a_run_that_dies_mid_write_publishes_nothing_and_its_rerun_completes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clickstream.adapters.query import local
    from clickstream.adapters.s3 import LakeObjects

    monkeypatch.setattr(local, "MAX_ROWS_PER_FILE", 20)
    put_raw(settings, at(H10, 20), 1, [event(f"a{i:03d}", at(H10, i % 60)) for i in range(50)])
    compact_interval(settings, H10, H11, run_id="h10")
    before = published(settings)
    put_raw(settings, at(H11, 20), 2, [event(f"c{i:03d}", at(H11, i % 60)) for i in range(50)])
    put_raw(settings, at(H10, 59), 3, [event(f"late{i:02d}", at(H10, 30)) for i in range(3)])

    real_copy = LakeObjects.copy
    parquet_copies = []

    def dying_copy(self: LakeObjects, source: str, target: str) -> None:
        if target.startswith("curated/events/"):  # the engine's files going into the new versions
            parquet_copies.append(target)
            if len(parquet_copies) == 2:
                raise ConnectionError("the worker died here")  # stands for a SIGKILL mid-write
        real_copy(self, source, target)

    monkeypatch.setattr(LakeObjects, "copy", dying_copy)
    with pytest.raises(ConnectionError):
        compact_interval(settings, H11, H12, run_id="h11")
    monkeypatch.setattr(LakeObjects, "copy", real_copy)

    # nothing half-published: readers see exactly what they saw, Glue knows no new partition
    assert published(settings) == before
    locations = glue_catalog(settings).partition_locations(settings.names.glue_database, "events")
    assert sorted(locations) == [("2026-11-22", "10")]
    assert latest_run(settings, JOB)["status"] == "failed"  # type: ignore[index]
    # the rerun publishes both hours whole
    compact_interval(settings, H11, H12, run_id="h11-retry")
    tables = curated(settings)
    assert ids(tables["curated/events/dt=2026-11-22/hour=10"]) == sorted(
        [f"a{i:03d}" for i in range(50)] + [f"late{i:02d}" for i in range(3)]
    )
    assert ids(tables["curated/events/dt=2026-11-22/hour=11"]) == [f"c{i:03d}" for i in range(50)]


def test_a_run_whose_objects_overflow_athenas_query_length_is_staged_in_several_statements(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clickstream import constants
    from clickstream.jobs import compact, compact_sql
    from clickstream.quality.compiled import compile_suite
    from clickstream.quality.suite import load_suite

    keys = [
        put_raw(settings, at(H10, 10 + i), 100 * i, [event(f"s{i}", at(H10, i)), event("dup", at(H10, 30))])
        for i in range(3)
    ]
    rules = compile_suite(
        load_suite(), {"min_event_time": "2026-11-22T09:00:00.000Z", "max_event_time": "2026-11-22T11:00:00.000Z"}
    )
    one = compact_sql.stage_select([(("2026-11-22", "10"), keys[0])], settings.names.bucket, rules)
    monkeypatch.setattr(constants, "ATHENA_QUERY_MAX_BYTES", len(one.encode()) + 100)  # one object a statement
    staged = []
    real = compact._stage

    def spy(*args: Any) -> Any:
        out = real(*args)
        staged.extend(args[-1])
        return out

    monkeypatch.setattr(compact, "_stage", spy)
    report = compact_interval(settings, H10, H11, run_id="h10")

    assert len(staged) == 3 and {p["part"] for p in staged} == {"00000", "00001", "00002"}
    assert ids(curated(settings)["curated/events/dt=2026-11-22/hour=10"]) == ["dup", "s0", "s1", "s2"]
    assert (report.raw_rows, report.duplicates, report.published) == (6, 2, 4)
    assert objects(settings, "staging/") == {}  # every statement's files and partitions are gone
    assert glue_catalog(settings).partitions(settings.names.glue_database, "compaction_batch") == []
