"""The batch metrics job: `sql/metrics/*.sql` over the curated events → metric tables + the batch view.

`compute_batch_metrics(settings, start, end)` (what `dags/batch_metrics.py` calls with its data
interval), for the event-time days [start, end]:

1. runs every `sql/metrics/<name>.sql` (Athena dialect; `{{ start_dt }}` / `{{ end_dt }}`) on the
   query engine (Athena in AWS, DuckDB over the lake locally), a file that reads another
   metric's table (`metric_sessions`) after that metric (`run_order`): the sessionization runs
   once per run, in sessions.sql, and the session-based files read its table;
2. each file's result is written by the engine: an `UNLOAD` (`adapters.query.unload`) of the
   run's days into a new version of `metric_<name>`'s day partitions,
   `curated/metrics/<name>/v=<version>/dt=…/`, at most 100 days per UNLOAD; the job registers
   the table in Glue (typed from a `LIMIT 0` probe of the same SQL) and re-points each day's
   partition to its new version (ADR 0008, by day), so readers see a day whole, old or new, and
   the files after it read this run's rows. A day the data no longer has is dropped. The rows
   never pass through this process: it lists the files and reads their Parquet footers;
3. fetches what the batch view serves, and only that (`metrics_view.VIEW_INPUTS`: the run's
   `metric_counters` and `metric_uniques` rows, and the engagement per hour window from
   `sql/batch_view/engagement.sql`), and writes it to the batch table (read by
   `adapters.dynamodb.batch_view.BatchView`): BatchWriteItem puts, so a re-run overwrites the
   same items, and items an earlier run wrote for these days that the data no longer has are
   deleted (`BatchView.replace_days`).

Idempotent: the same curated partitions give the same rows and items (a rerun writes another
version with the same rows). The clock only names versions and dates their retirement. The run
is recorded with `recorded_run(settings, "batch_metrics", …)` (`jobs.run_record`), failed runs too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa

from clickstream import constants as c
from clickstream.catalog import METRIC_TABLE_PREFIX, VERSION_KEY, Column, TableDef, metric_table
from clickstream.jobs import curated_versions as cv
from clickstream.jobs.metrics_view import VIEW_INPUTS, days, view_items
from clickstream.jobs.run_record import recorded_run
from clickstream.settings import Settings
from clickstream.sqlfiles import load, render, sql_files

if TYPE_CHECKING:
    from clickstream.adapters.glue import GlueCatalog
    from clickstream.adapters.query import QueryEngine
    from clickstream.adapters.s3 import LakeObjects

log = logging.getLogger(__name__)

JOB: Final = c.BATCH_METRICS_JOB
DML_TIMEOUT_S: Final = c.ATHENA_DML_TIMEOUT_DEFAULT_S  # an UNLOAD, or a query over a run's days
METRICS_DIR: Final = "metrics"
PARTITION_COLUMN: Final = "dt"


@dataclass(frozen=True)
class MetricResult:
    name: str
    rows: int
    days_written: tuple[str, ...]  # dt partitions that hold rows after the run
    seconds: float  # query time on the engine


@dataclass(frozen=True)
class BatchMetricsReport:
    start: date
    end: date
    metrics: tuple[MetricResult, ...]
    view_items: int
    seconds: float
    tables_created: tuple[str, ...] = field(default=())
    view_items_deleted: int = 0  # items of an earlier run the data no longer has

    def summary(self) -> dict[str, Any]:
        """What the run record stores and the DAG logs."""
        return {
            "interval": f"{self.start.isoformat()}/{self.end.isoformat()}",
            "metrics": len(self.metrics),
            "rows": {m.name: m.rows for m in self.metrics},
            "view_items": self.view_items,
            "view_items_deleted": self.view_items_deleted,
            "seconds": round(self.seconds, 3),
        }


def metric_names() -> list[str]:
    """The metric families: one per `sql/metrics/<name>.sql`, sorted."""
    return [path.split("/")[-1].removesuffix(".sql") for path in sql_files(METRICS_DIR)]


def metric_sql(name: str, start: date, end: date) -> str:
    """The Athena SQL of metric `name` for the days [start, end]."""
    return render(load(f"{METRICS_DIR}/{name}.sql"), {"start_dt": start.isoformat(), "end_dt": end.isoformat()})


def upstream(name: str) -> set[str]:
    """The metrics whose tables `sql/metrics/<name>.sql` reads (`metric_sessions` → {"sessions"})."""
    from clickstream.adapters.query.engine import parse_one, table_refs

    statement = parse_one(metric_sql(name, date(2000, 1, 1), date(2000, 1, 1)))
    known = set(metric_names())
    return {
        ref.name.lower().removeprefix(METRIC_TABLE_PREFIX)
        for ref in table_refs(statement)
        if ref.name.lower().startswith(METRIC_TABLE_PREFIX)
        and ref.name.lower().removeprefix(METRIC_TABLE_PREFIX) in known
    }


def run_order(names: Sequence[str] | None = None) -> list[str]:
    """`names` (default: every metric) and the metrics they read, each after what it reads."""
    wanted = list(names or metric_names())
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"sql/metrics: {' -> '.join([*visiting, name])} read each other's tables in a cycle")
        visiting.append(name)
        for dependency in sorted(upstream(name)):
            visit(dependency)
        visiting.pop()
        order.append(name)

    for name in wanted:
        visit(name)
    return order


Publish = Callable[[str, "pa.Table"], None]


def run_metrics(
    engine: QueryEngine,
    start: date,
    end: date,
    names: Sequence[str] | None = None,
    *,
    publish: Publish | None = None,
) -> dict[str, tuple[pa.Table, float]]:
    """Run the metric queries on `engine` in `run_order`: name → (result, seconds).

    `publish(name, result)` makes a result readable as `metric_<name>` by the files after it:
    the job writes it to the lake and Glue; by default (benchmarks, tests) the result is
    registered in a local engine over in-memory sources (`LocalEngine.add_source`).
    """
    publish = publish or _in_engine(engine)
    out: dict[str, tuple[pa.Table, float]] = {}
    for name in run_order(names):
        began = time.perf_counter()
        result = engine.execute(metric_sql(name, start, end))
        out[name] = (result, time.perf_counter() - began)
        if PARTITION_COLUMN not in result.column_names:
            raise ValueError(f"sql/metrics/{name}.sql must select a `dt` column (the result's day partition)")
        publish(name, result)
    return out


def _in_engine(engine: QueryEngine) -> Publish:
    add_source = getattr(engine, "add_source", None)

    def publish(name: str, result: pa.Table) -> None:
        if add_source is None:
            raise TypeError(f"{type(engine).__name__} cannot hold metric_{name}: pass publish= to run_metrics")
        add_source(f"{METRIC_TABLE_PREFIX}{name}", result)

    return publish


def metric_table_of(name: str, result: pa.Table | pa.Schema) -> TableDef:
    """`metric_<name>`'s Glue definition from the result's schema (the dt column is the partition key)."""
    from clickstream.adapters.glue import glue_type

    schema = result if isinstance(result, pa.Schema) else result.schema
    columns = tuple(Column(f.name, glue_type(f.type)) for f in schema if f.name != PARTITION_COLUMN)
    return metric_table(name, columns)


def compute_batch_metrics(
    settings: Settings,
    start: date,
    end: date,
    *,
    engine: QueryEngine | None = None,
    now: Callable[[], datetime] | None = None,
) -> BatchMetricsReport:
    """Compute every batch metric for the event-time days [start, end]; see the module docstring.

    `now` (the wall clock by default) names the versions the run writes and says which replaced
    versions are due for deletion."""
    from clickstream.adapters.query import query_engine

    began = time.perf_counter()
    owned = engine is None
    engine = engine or query_engine(settings)
    try:
        with recorded_run(settings, JOB, interval=f"{start}/{end}") as run:
            report = _compute(settings, engine, start, end, began, now or (lambda: datetime.now(UTC)))
            run.summary = report.summary()
    finally:
        if owned:
            engine.close()
    log.info("batch metrics %s", report.summary())
    return report


def _compute(
    settings: Settings, engine: QueryEngine, start: date, end: date, began: float, now: Callable[[], datetime]
) -> BatchMetricsReport:
    from clickstream.adapters.dynamodb import BatchView
    from clickstream.adapters.glue import glue_catalog
    from clickstream.adapters.s3 import lake_objects

    run_days = [day.isoformat() for day in days(start, end)]  # validates the interval before any query runs
    glue = glue_catalog(settings)
    store = lake_objects(settings)
    created: list[str] = []
    metrics: list[MetricResult] = []
    tag = f"{start:%Y%m%d}-{end:%Y%m%d}"
    for name in run_order():
        began_metric = time.perf_counter()
        table = metric_table_of(name, result_schema(engine, metric_sql(name, start, end)))
        if glue.ensure_table(settings.names.glue_database, table, store.bucket):
            created.append(table.name)
        written, rows = _unload_days(settings, engine, store, glue, table, name, run_days, now=now(), tag=tag)
        metrics.append(MetricResult(name, rows, written, time.perf_counter() - began_metric))
        log.info("%s: %d rows in %d day partitions, %.2f s", table.name, rows, len(written), metrics[-1].seconds)

    inputs = {name: engine.execute(_view_sql(name, start, end), timeout_s=DML_TIMEOUT_S) for name in VIEW_INPUTS}
    items = view_items(inputs, start, end)
    written_items, deleted_items = BatchView(settings).replace_days(run_days, items)
    return BatchMetricsReport(
        start,
        end,
        tuple(metrics),
        written_items,
        time.perf_counter() - began,
        tables_created=tuple(created),
        view_items_deleted=deleted_items,
    )


def result_schema(engine: QueryEngine, sql: str) -> pa.Schema:
    """The columns and types `sql` gives, without its rows: what `metric_<name>` declares in Glue."""
    probe = engine.execute(f"SELECT * FROM ({sql.strip().rstrip(';')}) AS probe LIMIT 0", timeout_s=DML_TIMEOUT_S)
    if PARTITION_COLUMN not in probe.column_names:
        raise ValueError("every sql/metrics file must select a `dt` column (the result's day partition)")
    return probe.schema


def _unload_days(
    settings: Settings,
    engine: QueryEngine,
    store: LakeObjects,
    glue: GlueCatalog,
    table: TableDef,
    name: str,
    run_days: Sequence[str],
    *,
    now: datetime,
    tag: str,
) -> tuple[tuple[str, ...], int]:
    """UNLOAD metric `name` for `run_days` into new versions of `table`'s day partitions, then
    re-point them in Glue (ADR 0008's versions, by day): (the days that hold rows, rows written).

    The engine writes the rows; this process only lists the written files and reads their
    Parquet footers. One UNLOAD covers at most `MAX_PARTITIONS` days (Athena's limit). A day the
    data no longer has is dropped from Glue. Replaced versions are retired, deleted by a later
    run once no query can hold them (`curated_versions.sweep_retired`)."""
    from clickstream.adapters.query.unload import MAX_PARTITIONS

    database, bucket = settings.names.glue_database, store.bucket
    root = cv.retired_root(table)

    def locate(day_list: Sequence[str]) -> dict[tuple[str, ...], str]:
        return glue.partition_locations(database, table.name, days=list(day_list))

    cv.sweep_retired(store, table, locate, now=now)
    current = locate(run_days)
    columns = [col.name for col in table.columns] + [PARTITION_COLUMN]
    version = cv.version_name(now, tag)
    targets: dict[tuple[str, ...], str] = {}
    pending: list[cv.Retired] = []
    rows = 0
    for index in range(0, len(run_days), MAX_PARTITIONS):
        chunk = run_days[index : index + MAX_PARTITIONS]
        chunk_version = version if len(run_days) <= MAX_PARTITIONS else f"{version}-{index // MAX_PARTITIONS}"
        base = f"{table.prefix}/{VERSION_KEY}={chunk_version}/"
        for dt in chunk:  # before any file: a run that dies leaves nothing for long (curated_versions)
            old = current.get((dt,))
            old_prefix = cv.key_prefix(old, bucket) if old else None
            legacy = old_prefix == table.partition_prefix({"dt": dt})
            mine, previous = cv.retirements(
                (dt,), new_prefix=f"{base}dt={dt}/", old_prefix=old_prefix, legacy=legacy, now=now, root=root
            )
            cv.retire(store, mine)
            pending.append(mine)
            if previous is not None:
                cv.retire(store, previous)
        first, last = date.fromisoformat(chunk[0]), date.fromisoformat(chunk[-1])
        engine.execute(unload_sql(name, first, last, columns, f"s3://{bucket}/{base}"), timeout_s=DML_TIMEOUT_S)
        for dt, prefix, count in _written_partitions(settings, store, base):
            targets[(dt,)] = prefix
            rows += count
    # Only now does any day change for readers: each partition is re-pointed whole.
    if targets:
        glue.upsert_partitions(database, table, bucket, [{"dt": dt} for (dt,) in targets], prefixes=targets)
    emptied = [dt for dt in run_days if (dt,) not in targets and (dt,) in current]
    if emptied:
        glue.delete_partitions(database, table.name, [{"dt": dt} for dt in emptied])
    store.delete([r.key() for r in pending])  # the swap happened: the new versions are current
    return tuple(sorted(dt for (dt,) in targets)), rows


def unload_sql(name: str, start: date, end: date, columns: Sequence[str], location: str) -> str:
    """The UNLOAD that writes metric `name` for the days [start, end] under `location` (Athena SQL,
    the same text on both engines; `columns` in the order Glue declares them, `dt` last)."""
    from clickstream.adapters.query.unload import Unload, partitions_select

    select = partitions_select(metric_sql(name, start, end), columns, [PARTITION_COLUMN])
    return Unload(select, location, (PARTITION_COLUMN,)).sql()


def _written_partitions(settings: Settings, store: LakeObjects, base: str) -> list[tuple[str, str, int]]:
    """(dt, key prefix, rows) of each day partition an UNLOAD wrote under `base` (rows from the
    Parquet footers: a ranged read per file, never the data)."""
    import pyarrow.parquet as pq

    from clickstream.adapters.query import s3_filesystem

    fs = s3_filesystem(settings)
    found: dict[str, tuple[str, int]] = {}
    for key in sorted(store.list_keys(base)):
        rest = key[len(base) :]
        if not rest.startswith(f"{PARTITION_COLUMN}=") or "/" not in rest or key.endswith("/"):
            continue  # Athena's manifest and metadata files are not data
        folder = rest.split("/", 1)[0]
        dt = folder.split("=", 1)[1]
        with fs.open_input_file(f"{store.bucket}/{key}") as f:
            count = pq.ParquetFile(f).metadata.num_rows
        prefix, total = found.get(dt, (f"{base}{folder}/", 0))
        found[dt] = (prefix, total + count)
    return [(dt, prefix, count) for dt, (prefix, count) in sorted(found.items())]


def _view_sql(name: str, start: date, end: date) -> str:
    """What the job fetches for the batch view's `name` rows (metrics_view.VIEW_INPUTS)."""
    params = {"start_dt": start.isoformat(), "end_dt": end.isoformat()}
    if name == "engagement":
        return render(load("batch_view/engagement.sql"), params)
    return f"SELECT * FROM {METRIC_TABLE_PREFIX}{name} WHERE dt BETWEEN '{params['start_dt']}' AND '{params['end_dt']}'"
