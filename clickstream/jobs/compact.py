"""`compact_raw_events`: raw arrival-hour NDJSON.gz → validated, deduplicated Parquet by event hour.

    raw/events/dt=…/hour=…/*.ndjson.gz   (arrival hours in [start, end))
      → parse (compact_parse)  → the suite raw_events.v1 (clickstream.quality), compiled to SQL
        and evaluated by the engine over the batch (ADR 0009)
      → failing rows + malformed lines to quarantine/, GX JSON + Data Docs to quality/
      → gate: failure rate > max_failure_rate → DataQualityError, nothing published
      → dedupe by event_id (first seen in the batch; the published row wins over a new copy)
      → per event-time hour: the new rows (against the current version's event_ids) → a new
        version prefix: the first publish sorted, a late merge as copies + one delta file
      → Glue partitions of `events` re-pointed to the new versions → run record
        (clickstream.jobs.run_record, failed runs too)

Late raw objects: Firehose can deliver an object under an arrival hour after that hour was
compacted (it buffers up to 900 s, and retries a failed S3 delivery until its source stream's
retention ends: 24 h here). Each run records
the raw keys it compacted per arrival hour (`manifests/compact_raw_events/dt=…/hour=…/objects.json`)
and also takes, from the `LATE_OBJECT_LOOKBACK_HOURS` arrival hours before its interval, every
object missing from that hour's manifest. Merged like any other rows, their events are published
once (a copy of a published event is a duplicate), and the run record counts them
(`late_objects`, `late_hours`). Hours compacted before manifests existed have none and are skipped.

One run at a time: the run holds the job's lease in the batch table (`jobs.exclusive`), so the
hourly DAG, the daily one that backfills long ranges and a manual run never publish side by side.

Idempotent: the same interval gives the same rows, so a rerun (an Airflow retry, a backfill)
finds nothing new and publishes nothing; a first publish of the same rows gives the same bytes
under the same file names.
Clock-free except `elapsed` and the version names: the interval comes from the caller (the DAG's
data interval).

Readers see a partition whole, old or new (docs/adr/0008-curated-table-format.md): the job
writes every partition's new version under `curated/events/v=<version>/dt=…/hour=…/`, then
re-points the Glue partitions in one BatchUpdatePartition per 100. The replaced versions are
deleted by a later run, once no query can still hold them (`curated_versions`). Partitions are
not switched together: a query over several of them during the swap can see some old and some
new, each whole.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final

import numpy as np
import pyarrow as pa

from clickstream import constants as c
from clickstream.adapters.s3 import LakeObjects, lake_objects
from clickstream.catalog import EVENTS
from clickstream.jobs import compact_write as w
from clickstream.jobs import curated_versions as cv
from clickstream.jobs.compact_parse import gunzip, parse_objects, record_offsets
from clickstream.jobs.compact_quality import QualityVerdict, Validator, quarantine_lines, sql_validator
from clickstream.jobs.exclusive import exclusive, lease_owner
from clickstream.jobs.run_record import recorded_run
from clickstream.quality import DataQualityError
from clickstream.quality.suite import MAX_EVENT_TIME, MIN_EVENT_TIME
from clickstream.settings import Settings

log = logging.getLogger(__name__)

JOB: Final = c.COMPACTION_JOB
HOUR: Final = timedelta(hours=1)
LATE_LOOKBACK: Final = timedelta(hours=c.LATE_OBJECT_LOOKBACK_HOURS)
__all__ = ["JOB", "CompactionReport", "DataQualityError", "QualityVerdict", "Validator", "compact_interval"]


@dataclass(frozen=True)
class CompactionReport:
    run_id: str
    start: str
    end: str
    raw_objects: int
    raw_rows: int  # records read (JSON objects + malformed lines)
    valid: int  # rows that passed the suite
    quarantined: int  # malformed lines + rows that failed the suite
    malformed: int
    duplicates: int  # valid rows not published: repeated in the batch or already in curated/
    published: int  # new rows added to curated/
    partitions: list[tuple[str, str]]  # event-time (dt, hour) partitions with new rows: a new version
    files: int
    parquet_bytes: int
    pass_rate: float  # valid / raw_rows (1.0 for an empty interval)
    results_key: str
    docs_key: str
    quarantine_key: str | None
    elapsed: float
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    late_objects: int = 0  # raw objects of earlier, already compacted hours, first compacted here
    late_hours: list[str] = field(default_factory=list)  # their arrival hours, "dt/hour"

    def summary(self) -> dict[str, Any]:
        """The run record (numbers and keys; partitions as "dt/hour" strings)."""
        out = asdict(self)
        out["partitions"] = [f"{dt}/{hour}" for dt, hour in self.partitions]
        out["evaluated"], out["failed"] = self.raw_rows, self.quarantined
        return out

    def asset_extra(self, start: datetime, end: datetime) -> dict[str, Any]:
        """What the `curated_events` asset event carries to batch_metrics: the interval, and the
        event-time (dt, hour) partitions that changed (the days metrics recompute: none after a
        rerun that found nothing new)."""
        return {
            "interval": [start.isoformat(), end.isoformat()],
            "partitions": [[dt, hour] for dt, hour in self.partitions],
            **{k: getattr(self, k) for k in ("raw_rows", "valid", "quarantined", "duplicates", "published")},
            "pass_rate": self.pass_rate,
        }


def compact_interval(
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    run_id: str,
    max_failure_rate: float = 0.05,
    validator: Validator | None = None,
    now: Callable[[], datetime] | None = None,
) -> CompactionReport:
    """Compact the raw arrival hours in [start, end) into curated/events (see the module doc).

    Raises DataQualityError, publishing nothing, when more than `max_failure_rate` of the rows
    fail (quarantine and results are written anyway). `validator` defaults to the versioned suite
    compiled to SQL (`compact_quality.sql_validator`); `gx_validator` runs it in GX on pandas, and
    benchmarks pass a no-op to measure the job without a gate. `now` (the wall clock by
    default) names the versions it publishes and says which retired versions are due.
    """
    started = time.perf_counter()
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise ValueError(f"empty interval: end {end.isoformat()} is not after start {start.isoformat()}")
    with (
        recorded_run(settings, JOB, interval_start=_iso(start), interval_end=_iso(end), run_id=run_id) as run,
        exclusive(settings, JOB, lease_owner(run_id)),  # the hourly and the daily DAG, manual runs: one at a time
    ):
        report = _run(
            settings, start, end, run_id, max_failure_rate, validator or sql_validator, started, now or _wall_clock
        )
        run.summary = report.summary()
    log.info(
        "%s %s: %d raw rows → %d valid, %d quarantined, %d duplicates, %d published into %d partitions in %.1f s",
        JOB,
        run_id,
        report.raw_rows,
        report.valid,
        report.quarantined,
        report.duplicates,
        report.published,
        len(report.partitions),
        report.elapsed,
    )
    return report


def _run(
    settings: Settings,
    start: datetime,
    end: datetime,
    run_id: str,
    max_failure_rate: float,
    validator: Validator,
    started: float,
    now: Callable[[], datetime],
) -> CompactionReport:
    store = lake_objects(settings)
    safe_run = safe_run_id(run_id)
    timings: dict[str, float] = {}
    clock = _Stopwatch(timings)

    hours = arrival_hours(start, end)
    keys_by_hour = {hour: sorted(store.list_keys(raw_prefix(hour))) for hour in hours}
    late = late_objects(store, before=hours[0], lookback=LATE_LOOKBACK)
    keys = [k for hour in hours for k in keys_by_hour[hour]] + [k for hour in sorted(late) for k in late[hour]]
    fetched = store_get_parsed(store, keys)
    clock("read")
    batch = parse_objects([p for p, _ in fetched], [o for _, o in fetched])
    clock("parse")

    lateness, skew = settings.limits.lateness_seconds, settings.limits.clock_skew_seconds
    earliest = min([start, *late])  # a late object's events belong to its own, earlier hour
    parameters = {
        MIN_EVENT_TIME: _iso(earliest - timedelta(seconds=lateness)),
        MAX_EVENT_TIME: _iso(end + timedelta(seconds=skew)),
    }
    verdict = validator(batch.frame, parameters, run_id)
    clock("validate")

    quality_prefix = f"{c.QUALITY_PREFIX}/{JOB}/run_id={safe_run}/"
    results_key, docs_key = f"{quality_prefix}validation.json", f"{quality_prefix}index.html"
    store.put(results_key, verdict.results_json, content_type="application/json")
    store.put(docs_key, verdict.html.encode(), content_type="text/html; charset=utf-8")
    lines = quarantine_lines(batch, keys, verdict.failures, run_id)
    quarantine_key = f"{c.QUARANTINE_PREFIX}/events/run_id={safe_run}/part-00000.ndjson.gz" if lines else None
    if quarantine_key:
        store.put_ndjson_gz(quarantine_key, lines)
    clock("quarantine")

    quarantined = len(lines)
    valid_rows = batch.frame.num_rows - len(verdict.failures)
    rate = quarantined / batch.raw_rows if batch.raw_rows else 0.0
    pass_rate = valid_rows / batch.raw_rows if batch.raw_rows else 1.0
    if verdict.batch_failures or rate > max_failure_rate:
        why = (
            f"table-level expectations failed: {', '.join(verdict.batch_failures)}"
            if verdict.batch_failures
            else f"{quarantined} of {batch.raw_rows} rows ({rate:.2%}) failed data quality, above the "
            f"threshold of {max_failure_rate:.2%}"
        )
        summary = {
            "raw_objects": len(keys),
            "late_objects": sum(len(v) for v in late.values()),
            "raw_rows": batch.raw_rows,
            "evaluated": batch.raw_rows,
            "failed": quarantined,
            "quarantined": quarantined,
            "malformed": len(batch.malformed),
            "pass_rate": pass_rate,
            "results_key": results_key,
            "docs_key": docs_key,
            "quarantine_key": quarantine_key,
        }
        raise DataQualityError(
            f"{JOB} {run_id}: {why}; nothing was published. Results: s3://{store.bucket}/{results_key} "
            f"(Data Docs: s3://{store.bucket}/{docs_key}), quarantined rows: "
            f"s3://{store.bucket}/{quarantine_key}. Fix the producer or raise max_failure_rate, then rerun.",
            summary=summary,
        )

    unique, batch_duplicates = w.valid_first_seen(batch.frame, verdict.failures)
    by_hour = w.split_by_hour(unique)
    clock("dedupe")
    published, existing_duplicates, files, size, changed = _publish(
        settings, store, by_hour, safe_run, clock, now=now()
    )
    # Last: a crash before this point leaves the objects unrecorded, so the next run takes them
    # again, and their rows are duplicates of the published ones by then.
    for hour in hours:
        write_manifest(store, hour, keys_by_hour[hour])
    for hour, new_keys in late.items():
        write_manifest(store, hour, sorted((read_manifest(store, hour) or set()) | set(new_keys)))
    clock("manifest")
    return CompactionReport(
        run_id=run_id,
        start=_iso(start),
        end=_iso(end),
        raw_objects=len(keys),
        raw_rows=batch.raw_rows,
        valid=valid_rows,
        quarantined=quarantined,
        malformed=len(batch.malformed),
        duplicates=batch_duplicates + existing_duplicates,
        published=published,
        partitions=changed,
        files=files,
        parquet_bytes=size,
        pass_rate=pass_rate,
        results_key=results_key,
        docs_key=docs_key,
        quarantine_key=quarantine_key,
        elapsed=time.perf_counter() - started,
        timings=timings,
        late_objects=sum(len(v) for v in late.values()),
        late_hours=[f"{hour:%Y-%m-%d}/{hour:%H}" for hour in sorted(late)],
    )


def _publish(
    settings: Settings,
    store: LakeObjects,
    by_hour: Mapping[w.Partition, pa.Table],
    safe_run: str,
    clock: _Stopwatch,
    *,
    now: datetime,
) -> tuple[int, int, int, int, list[w.Partition]]:
    """Publish each partition's new rows as a new version, then re-point every partition's Glue
    location to its new version (ADR 0008; `curated_versions`).

    - A partition not published yet: its rows, sorted, as `part-NNNNN.parquet`.
    - A published one (late events): its event_id column is read (nothing else), the new rows
      already there are dropped, and the version is server-side copies of its files plus ONE
      sorted `delta-NNNNN.parquet`. After `MAX_DELTA_FILES` deltas, or for a delta above a file's
      rows, the partition is rewritten sorted instead.
    - Nothing new (a rerun): no version; the partition stays as it is.

    Returns (new rows published, duplicates of published rows, files written, Parquet bytes, the
    partitions with a new version)."""
    from clickstream.adapters.glue import glue_catalog

    catalog, database = glue_catalog(settings), settings.names.glue_database
    locate = partial(catalog.partition_locations, database, EVENTS.name)
    cv.sweep_retired(store, EVENTS, lambda days: locate(days=days), now=now)
    clock("sweep")
    if not by_hour:
        return 0, 0, 0, 0, []
    current = locate(days=sorted({dt for dt, _ in by_hour}))
    version = cv.version_name(now, safe_run)
    prefixes: dict[tuple[str, ...], str] = {}
    published = duplicates = size = files = 0
    for (dt, hour), rows in by_hour.items():
        values = {"dt": dt, "hour": hour}
        location = current.get((dt, hour))
        keys = cv.partition_files(store, EVENTS, values, location)
        deltas = sum(w.is_delta(k.rsplit("/", 1)[1]) for k in keys)
        target = EVENTS.version_prefix(values, version)
        writes: list[tuple[str, bytes | str]] = []  # (name in the new version, bytes, or a key to copy)
        rewrite = not keys or deltas >= w.MAX_DELTA_FILES
        if not rewrite:  # a late merge: the published event_ids only, then copies + one delta file
            fresh, dropped = w.fresh_rows(_event_ids(settings, store.bucket, keys), rows)
            clock("merge")
            if 0 < fresh.num_rows <= w.MAX_ROWS_PER_FILE:
                (delta,) = w.parquet_files(fresh)
                writes = [(k.rsplit("/", 1)[1], k) for k in keys] + [(w.delta_file_name(deltas), delta)]
            rewrite = fresh.num_rows > w.MAX_ROWS_PER_FILE  # a delta that large: sort it all in
        if rewrite:  # a first publish, or too many deltas: every row, sorted, re-encoded
            existing = w.read_parquet(store.get_many(keys))
            merged, dropped = w.merge_partition(existing, rows)
            clock("merge")
            if dropped < rows.num_rows:
                writes = [(w.file_name(i), body) for i, body in enumerate(w.parquet_files(merged))]
        clock("encode")
        published += rows.num_rows - dropped
        duplicates += dropped
        if not writes:
            continue  # nothing new for this partition (a rerun): no new version
        hive = EVENTS.partition_prefix(values)
        old = (cv.key_prefix(location, store.bucket) if location else None) or hive
        mine, previous = cv.retirements((dt, hour), new_prefix=target, old_prefix=old, legacy=old == hive, now=now)
        # Both before any file: should the run die, the sweep deletes whichever of the two Glue
        # does not point to once due (`curated_versions`), and a failed swap keeps the old one.
        cv.retire(store, mine)
        if previous is not None and keys:  # a partition with files to retire
            cv.retire(store, previous)
        for name, body in writes:
            if isinstance(body, str):
                store.copy(body, f"{target}{name}")  # server-side: no byte through the worker
            else:
                store.put(f"{target}{name}", body, content_type="application/vnd.apache.parquet")
                size += len(body)
        prefixes[(dt, hour)] = target
        files += len(writes)
        clock("stage")
    if not prefixes:
        return published, duplicates, files, size, []
    # Only now, with every version written, does any partition change for readers.
    parts = [{"dt": dt, "hour": hour} for dt, hour in prefixes]
    catalog.upsert_partitions(database, EVENTS, store.bucket, parts, prefixes=prefixes)
    store.delete([cv.Retired(p, prefix, now + cv.RETIRE_AFTER).key() for p, prefix in prefixes.items()])
    clock("swap")
    return published, duplicates, files, size, sorted((dt, hour) for dt, hour in prefixes)


def _event_ids(settings: Settings, bucket: str, keys: Sequence[str]) -> list[pa.Array]:
    """The event_id column of each published file, read alone (ranged GETs of its column chunks)."""
    import pyarrow.parquet as pq

    from clickstream.adapters.query import s3_filesystem

    fs = s3_filesystem(settings)
    return [
        pq.read_table(f"{bucket}/{key}", filesystem=fs, columns=["event_id"]).column(0).combine_chunks() for key in keys
    ]


def store_get_parsed(store: LakeObjects, keys: Sequence[str]) -> list[tuple[bytes, np.ndarray]]:
    """Get, gunzip and index (record offsets) every raw object, in parallel, in key order."""

    def load(key: str) -> tuple[bytes, np.ndarray]:
        data, complete = gunzip(store.get(key))
        if not complete:
            log.warning("%s: gzip stream is truncated or corrupt; its last line will be quarantined", key)
        return data, record_offsets(data)

    from concurrent.futures import ThreadPoolExecutor

    if len(keys) <= 1:
        return [load(k) for k in keys]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(load, keys))


def arrival_hours(start: datetime, end: datetime) -> list[datetime]:
    """The arrival hours whose partition starts in [floor_hour(start), end)."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < end:
        hours.append(hour)
        hour += HOUR
    return hours


def raw_prefix(hour: datetime) -> str:
    return f"{c.RAW_EVENTS_PREFIX}/dt={hour:%Y-%m-%d}/hour={hour:%H}/"


def manifest_key(hour: datetime) -> str:
    """Where the raw keys compacted for arrival hour `hour` are recorded."""
    return f"{c.MANIFESTS_PREFIX}/{JOB}/dt={hour:%Y-%m-%d}/hour={hour:%H}/objects.json"


def read_manifest(store: LakeObjects, hour: datetime) -> set[str] | None:
    """The raw keys compacted for `hour` so far, or None when it was never compacted (with a manifest)."""
    body = store.get_if_exists(manifest_key(hour))
    return None if body is None else set(json.loads(body)["keys"])


def write_manifest(store: LakeObjects, hour: datetime, keys: Sequence[str]) -> None:
    body = json.dumps({"hour": _iso(hour), "keys": sorted(keys)}, indent=0).encode()
    store.put(manifest_key(hour), body, content_type="application/json")


def late_objects(store: LakeObjects, *, before: datetime, lookback: timedelta) -> dict[datetime, list[str]]:
    """Raw objects of the arrival hours in [before - lookback, before) that are not in their hour's
    manifest: they landed after that hour was compacted. Hours without a manifest are left to
    their own run."""
    out: dict[datetime, list[str]] = {}
    for hour in arrival_hours(before - lookback, before):
        compacted = read_manifest(store, hour)
        if compacted is None:
            continue
        new = sorted(set(store.list_keys(raw_prefix(hour))) - compacted)
        if new:
            out[hour] = new
    return out


def safe_run_id(run_id: str) -> str:
    """An S3-key- and Hive-friendly form of an Airflow run id (`scheduled__2026-11-22T10:00:00+00:00`)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("_")
    if not safe:
        raise ValueError(f"run_id {run_id!r} has no usable characters")
    return safe


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Stopwatch:
    """Adds the time since the previous call to `timings[stage]`."""

    def __init__(self, timings: dict[str, float]) -> None:
        self._timings, self._last = timings, time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self._timings[stage] = self._timings.get(stage, 0.0) + now - self._last
        self._last = now
