"""`compact_raw_events`: raw arrival-hour NDJSON.gz → validated, deduplicated Parquet by event hour.

The query engine does the work (Athena in AWS, DuckDB locally; the statements are in
`compact_sql`, docs/adr/0011-compaction-as-sql.md); this module lists objects, sends statements,
copies files server-side and swaps Glue. The worker holds no rows.

    raw/events/dt=…/hour=…/*.ndjson.gz   (arrival hours in [start, end), as `raw_lines`)
      → stage (UNLOAD): parse + the suite raw_events.v1 compiled to SQL (ADR 0009), per row the
        expectations it fails → the staging table `compaction_batch` (the attempt's partitions)
      → counts → GX JSON + Data Docs to quality/; failing rows (UNLOAD, JSON) to quarantine/
      → gate: failure rate > max_failure_rate → DataQualityError, nothing published
      → dedupe by event_id (first seen by raw object, then received_at; the published row wins
        over a new copy: an anti-join with `events`)
      → per event-time hour, the new rows (UNLOAD, sorted, into staging) → copied into a new
        version prefix: a first publish as part files, a late merge as copies + a delta file
      → Glue partitions of `events` re-pointed to the new versions → run record
        (clickstream.jobs.run_record, failed runs too); the staging files deleted

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
finds nothing new and publishes nothing; a first publish of the same rows gives the same rows,
sorted, under the same file names (the bytes are the engine's).
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
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final

from clickstream import constants as c
from clickstream.adapters.query import QueryEngine, query_engine
from clickstream.adapters.query.unload import JSON_COMPRESSION, JSON_FORMAT, Unload
from clickstream.adapters.s3 import LakeObjects, lake_objects
from clickstream.catalog import (
    COMPACTION_BATCH,
    EVENTS,
    FAILED_COLUMN,
    MALFORMED_COLUMN,
    RAW_COLUMN,
    ROW_COLUMN,
    SOURCE_COLUMN,
)
from clickstream.jobs import compact_sql as sql
from clickstream.jobs import compact_write as w
from clickstream.jobs import curated_versions as cv
from clickstream.jobs.compact_quality import gate_results
from clickstream.jobs.exclusive import exclusive, lease_owner
from clickstream.jobs.run_record import recorded_run
from clickstream.quality import DataQualityError
from clickstream.quality.compiled import compile_suite
from clickstream.quality.suite import COLUMNS, MAX_EVENT_TIME, MIN_EVENT_TIME, load_suite
from clickstream.settings import Settings

log = logging.getLogger(__name__)

JOB: Final = c.COMPACTION_JOB
HOUR: Final = timedelta(hours=1)
LATE_LOOKBACK: Final = timedelta(hours=c.LATE_OBJECT_LOOKBACK_HOURS)
STAGING_COLUMNS: Final = frozenset({SOURCE_COLUMN, MALFORMED_COLUMN, FAILED_COLUMN, RAW_COLUMN})
__all__ = ["JOB", "CompactionReport", "DataQualityError", "compact_interval"]


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
    gate: bool = True,
    now: Callable[[], datetime] | None = None,
) -> CompactionReport:
    """Compact the raw arrival hours in [start, end) into curated/events (see the module doc).

    Raises DataQualityError, publishing nothing, when more than `max_failure_rate` of the rows
    fail (quarantine and results are written anyway). `gate=False` evaluates no expectation
    (benchmarks measure the job without the quality gate; malformed lines are still quarantined).
    `now` (the wall clock by default) names the versions it publishes and says which retired
    versions are due.
    """
    started = time.perf_counter()
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise ValueError(f"empty interval: end {end.isoformat()} is not after start {start.isoformat()}")
    with (
        recorded_run(settings, JOB, interval_start=_iso(start), interval_end=_iso(end), run_id=run_id) as run,
        exclusive(settings, JOB, lease_owner(run_id)),  # the hourly and the daily DAG, manual runs: one at a time
    ):
        report = _run(settings, start, end, run_id, max_failure_rate, gate, started, now or _wall_clock)
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
    gate: bool,
    started: float,
    now: Callable[[], datetime],
) -> CompactionReport:
    from clickstream.adapters.glue import glue_catalog

    store = lake_objects(settings)
    catalog, database = glue_catalog(settings), settings.names.glue_database
    engine = query_engine(settings)
    safe_run = safe_run_id(run_id)
    timings: dict[str, float] = {}
    clock = _Stopwatch(timings)
    run = cv.version_name(now(), safe_run)  # this attempt: its staging partitions and its new versions

    hours = arrival_hours(start, end)
    keys_by_hour = {hour: sorted(store.check_readable(raw_prefix(hour))) for hour in hours}
    late = late_objects(store, before=hours[0], lookback=LATE_LOOKBACK)
    objects = [(hour, k) for hour in hours for k in keys_by_hour[hour]] + [
        (hour, k) for hour in sorted(late) for k in late[hour]
    ]
    keys = [k for _, k in objects]
    clock("list")

    lateness, skew = settings.limits.lateness_seconds, settings.limits.clock_skew_seconds
    earliest = min([start, *late])  # a late object's events belong to its own, earlier hour
    parameters = {
        MIN_EVENT_TIME: _iso(earliest - timedelta(seconds=lateness)),
        MAX_EVENT_TIME: _iso(end + timedelta(seconds=skew)),
    }
    rules = [r for r in compile_suite(load_suite(), parameters) if gate or r.type == COLUMNS]
    parts: list[dict[str, str]] = []  # the run's partitions of compaction_batch, dropped at the end
    try:
        stats, examples = _stage(engine, catalog, database, store, objects, rules, run, parts)
        clock("stage")
        columns = _batch_columns(catalog, database)
        batch_failures, results_json, html = gate_results(rules, stats, examples, columns, parameters, run_id)
        clock("validate")

        quality_prefix = f"{c.QUALITY_PREFIX}/{JOB}/run_id={safe_run}/"
        results_key, docs_key = f"{quality_prefix}validation.json", f"{quality_prefix}index.html"
        store.put(results_key, results_json, content_type="application/json")
        store.put(docs_key, html.encode(), content_type="text/html; charset=utf-8")
        raw_rows, quarantined, malformed = (int(stats[k] or 0) for k in ("records", "quarantined", "malformed"))
        quarantine_key = f"{c.QUARANTINE_PREFIX}/events/run_id={safe_run}/" if quarantined else None
        if quarantine_key:
            store.delete(list(store.list_keys(quarantine_key)))  # a rerun replaces its run's quarantine
            select = sql.quarantine_select(run, run_id, store.bucket)
            location = f"s3://{store.bucket}/{quarantine_key}"
            engine.execute(Unload(select, location, compression=JSON_COMPRESSION, format=JSON_FORMAT).sql())
        clock("quarantine")

        valid_rows = raw_rows - quarantined
        rate = quarantined / raw_rows if raw_rows else 0.0
        pass_rate = valid_rows / raw_rows if raw_rows else 1.0
        if batch_failures or rate > max_failure_rate:
            why = (
                f"table-level expectations failed: {', '.join(batch_failures)}"
                if batch_failures
                else f"{quarantined} of {raw_rows} rows ({rate:.2%}) failed data quality, above the "
                f"threshold of {max_failure_rate:.2%}"
            )
            summary = {
                "raw_objects": len(keys),
                "late_objects": sum(len(v) for v in late.values()),
                "raw_rows": raw_rows,
                "evaluated": raw_rows,
                "failed": quarantined,
                "quarantined": quarantined,
                "malformed": malformed,
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

        locate = partial(catalog.partition_locations, database, EVENTS.name)
        cv.sweep_retired(store, EVENTS, lambda days: locate(days=days), now=now())
        clock("sweep")
        published, existing_duplicates, files, size, changed, firsts = (
            _publish(catalog, database, engine, store, run, clock, now=now()) if valid_rows else (0, 0, 0, 0, [], 0)
        )
        # Last: a crash before this point leaves the objects unrecorded, so the next run takes them
        # again, and their rows are duplicates of the published ones by then.
        for hour in hours:
            write_manifest(store, hour, keys_by_hour[hour])
        for hour, new_keys in late.items():
            write_manifest(store, hour, sorted((read_manifest(store, hour) or set()) | set(new_keys)))
        clock("manifest")
    finally:
        if parts:
            catalog.delete_partitions(database, COMPACTION_BATCH.name, parts)
        store.delete(list(store.list_keys(staging_prefix(run))))
        clock("cleanup")
    return CompactionReport(
        run_id=run_id,
        start=_iso(start),
        end=_iso(end),
        raw_objects=len(keys),
        raw_rows=raw_rows,
        valid=valid_rows,
        quarantined=quarantined,
        malformed=malformed,
        duplicates=valid_rows - firsts + existing_duplicates,
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


def _stage(
    engine: QueryEngine,
    catalog: Any,
    database: str,
    store: LakeObjects,
    objects: Sequence[tuple[datetime, str]],
    rules: Sequence[Any],
    run: str,
    parts: list[dict[str, str]],
) -> tuple[dict[str, Any], dict[int, list[Any]]]:
    """The engine parses and checks the run's raw objects into `compaction_batch`, then counts them
    for the gate; returns (the counts, failing example values per rule).

    One UNLOAD per group of objects whose statement fits Athena's query length (`stage_groups`),
    each into its own partition (run, part) of the run; `parts` gets each partition as it is
    registered, so that the caller drops them all whatever happens."""
    if not objects:
        return defaultdict(int), {}
    partitioned = [((f"{hour:%Y-%m-%d}", f"{hour:%H}"), key) for hour, key in objects]
    for n, group in enumerate(stage_groups(partitioned, store.bucket, rules)):
        part = {"run": run, "part": f"{n:05d}"}
        select = sql.stage_select(group, store.bucket, rules)
        engine.execute(Unload(select, f"s3://{store.bucket}/{COMPACTION_BATCH.partition_prefix(part)}").sql())
        parts.append(part)
        catalog.upsert_partitions(database, COMPACTION_BATCH, store.bucket, [part])
    (stats,) = engine.execute(sql.stats_select(rules, run)).to_pylist()
    examples = {
        i: engine.execute(sql.examples_select(rule, run)).column("v").to_pylist()
        for i, rule in enumerate(rules)
        if rule.fails is not None and int(stats.get(f"u{i}") or 0)
    }
    return stats, examples


def stage_groups(
    objects: Sequence[tuple[w.Partition, str]], bucket: str, rules: Sequence[Any]
) -> list[list[tuple[w.Partition, str]]]:
    """`objects` in groups whose stage statement stays under Athena's query length
    (`ATHENA_QUERY_MAX_BYTES`, 256 KiB): a day of many Firehose objects lists too many keys for one."""
    limit = c.ATHENA_QUERY_MAX_BYTES
    if len(sql.stage_select(objects, bucket, rules).encode()) <= limit:
        return [list(objects)]
    if len(objects) == 1:
        raise ValueError(f"{JOB}: the stage statement of {objects[0][1]} alone is above {limit} bytes")
    half = len(objects) // 2
    return stage_groups(objects[:half], bucket, rules) + stage_groups(objects[half:], bucket, rules)


def staging_prefix(run: str) -> str:
    """Everything a run attempt writes to staging: its `compaction_batch` partitions and its publish."""
    return f"{COMPACTION_BATCH.prefix}/run={run}/"


def _batch_columns(catalog: Any, database: str) -> list[str]:
    """The batch's columns as the quality suite's table rule sees them: the contract's columns of
    `compaction_batch` in Glue, in order. The in-memory batch's row number (`_row`) has no
    counterpart in the engine's batch (a row is known by its object), so it is listed first as
    the suite expects it, and the staging bookkeeping columns are left out."""
    entry = next(t for t in catalog.tables(database) if t["Name"] == COMPACTION_BATCH.name)
    names = [col["Name"] for col in entry["StorageDescriptor"]["Columns"]]
    return [ROW_COLUMN, *(n for n in names if n not in STAGING_COLUMNS)]


def _publish(
    catalog: Any,
    database: str,
    engine: QueryEngine,
    store: LakeObjects,
    run: str,
    clock: _Stopwatch,
    *,
    now: datetime,
) -> tuple[int, int, int, int, list[w.Partition], int]:
    """Publish each partition's new rows as a new version, then re-point every partition's Glue
    location to its new version (ADR 0008; `curated_versions`). The engine writes the rows (an
    UNLOAD per 100 partitions into staging); the worker copies the files into the versions,
    server-side, under the table's names, and swaps Glue.

    - A partition not published yet: its rows, sorted, as `part-NNNNN.parquet`.
    - A published one (late events): copies of its files plus the engine's new rows as
      `delta-NNNNN.parquet`. A partition that has `MAX_DELTA_FILES` deltas is rewritten whole,
      sorted, by the engine (its published rows and the new ones).
    - Nothing new (a rerun): no version; the partition stays as it is.

    Returns (new rows published, duplicates of published rows, files written, Parquet bytes, the
    partitions with a new version, valid rows first seen in the batch)."""
    locate = partial(catalog.partition_locations, database, EVENTS.name)
    firsts = {(r["dt"], r["hour"]): int(r["n_rows"]) for r in engine.execute(sql.firsts_select(run)).to_pylist()}
    if not firsts:
        return 0, 0, 0, 0, [], 0
    current = locate(days=sorted({dt for dt, _ in firsts}))
    existing = {p: cv.partition_files(store, EVENTS, {"dt": p[0], "hour": p[1]}, current.get(p)) for p in firsts}
    published_parts = sorted(p for p, files in existing.items() if files)
    fresh = {
        (r["dt"], r["hour"]): int(r["n_rows"])
        for r in engine.execute(sql.counts_select(run, published_parts)).to_pylist()
    }
    clock("dedupe")
    total_firsts = sum(firsts.values())
    published = sum(fresh.values())
    if not fresh:
        return 0, total_firsts, 0, 0, [], total_firsts
    deltas = {p: sum(w.is_delta(k.rsplit("/", 1)[1]) for k in existing[p]) for p in fresh}
    rewrite = sorted(p for p in fresh if existing[p] and deltas[p] >= w.MAX_DELTA_FILES)
    version = run
    out = f"{staging_prefix(run)}publish/"
    for n, chunk in enumerate(sql.chunks(list(fresh))):
        select = sql.publish_select(run, published_parts, chunk, [p for p in rewrite if p in chunk])
        engine.execute(sql.publish_unload(select, f"s3://{store.bucket}/{out}{n:03d}/").sql())
    written: dict[w.Partition, list[str]] = {}
    sizes: dict[str, int] = {}
    for key, length in store.list_sizes(out):
        hive_values = dict(p.split("=", 1) for p in key[len(out) :].split("/")[1:-1] if "=" in p)
        if "dt" in hive_values and "hour" in hive_values and length:
            written.setdefault((hive_values["dt"], hive_values["hour"]), []).append(key)
            sizes[key] = length
    clock("write")
    prefixes: dict[tuple[str, ...], str] = {}
    files = size = 0
    for (dt, hour), new_keys in sorted(written.items()):
        values = {"dt": dt, "hour": hour}
        location = current.get((dt, hour))
        target = EVENTS.version_prefix(values, version)
        merge = bool(existing[(dt, hour)]) and (dt, hour) not in rewrite
        if merge:  # copies of the published files, the new rows as delta files
            copies = [(k.rsplit("/", 1)[1], k) for k in existing[(dt, hour)]]
            names = [w.delta_file_name(deltas[(dt, hour)] + i) for i in range(len(new_keys))]
        else:
            copies, names = [], [w.file_name(i) for i in range(len(new_keys))]
        hive = EVENTS.partition_prefix(values)
        old = (cv.key_prefix(location, store.bucket) if location else None) or hive
        mine, previous = cv.retirements((dt, hour), new_prefix=target, old_prefix=old, legacy=old == hive, now=now)
        # Both before any file: should the run die, the sweep deletes whichever of the two Glue
        # does not point to once due (`curated_versions`), and a failed swap keeps the old one.
        cv.retire(store, mine)
        if previous is not None and existing[(dt, hour)]:
            cv.retire(store, previous)
        for name, source in [*copies, *zip(names, sorted(new_keys), strict=True)]:
            store.copy(source, f"{target}{name}")  # server-side: no byte through the worker
        size += sum(sizes[k] for k in new_keys)
        prefixes[(dt, hour)] = target
        files += len(copies) + len(new_keys)
    clock("stage")
    # Only now, with every version written, does any partition change for readers.
    parts = [{"dt": dt, "hour": hour} for dt, hour in prefixes]
    catalog.upsert_partitions(database, EVENTS, store.bucket, parts, prefixes=prefixes)
    store.delete([cv.Retired(p, prefix, now + cv.RETIRE_AFTER).key() for p, prefix in prefixes.items()])
    clock("swap")
    return published, total_firsts - published, files, size, sorted((dt, hour) for dt, hour in prefixes), total_firsts


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
        new = sorted(set(store.check_readable(raw_prefix(hour))) - compacted)
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
