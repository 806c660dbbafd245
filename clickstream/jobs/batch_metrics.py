"""The batch metrics job: `sql/metrics/*.sql` over the curated events → metric tables + the batch view.

`compute_batch_metrics(settings, start, end)` (what `dags/batch_metrics.py` calls with its data
interval), for the event-time days [start, end]:

1. runs every `sql/metrics/<name>.sql` (Athena dialect; `{{ start_dt }}` / `{{ end_dt }}`) on the
   query engine (Athena in AWS, DuckDB over the lake locally), a file that reads another
   metric's table (`metric_sessions`) after that metric (`run_order`): the sessionization runs
   once per run, in sessions.sql, and the session-based files read its table;
2. after each file, replaces the day partitions `curated/metrics/<name>/dt=…/` with the result
   (a day without rows is emptied) and registers `metric_<name>` in Glue, typed from the
   result's Arrow schema, with its partitions, so the files after it read this run's rows;
3. writes the batch view to the batch table (`jobs.metrics_view`, read by
   `adapters.dynamodb.batch_view.BatchView`): BatchWriteItem puts, so a re-run overwrites the same items,
   and items an earlier run wrote for these days that the data no longer has are deleted
   (`BatchView.replace_days`).

Clock-free and idempotent: the same curated partitions give the same files and items. The run
is recorded with `recorded_run(settings, "batch_metrics", …)` (`jobs.run_record`), failed runs too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from clickstream.catalog import METRIC_TABLE_PREFIX, Column, TableDef, metric_table
from clickstream.jobs.metrics_view import by_day, days, view_items
from clickstream.jobs.run_record import recorded_run
from clickstream.settings import Settings
from clickstream.sqlfiles import load, render, sql_files

if TYPE_CHECKING:
    import pyarrow as pa

    from clickstream.adapters.query import QueryEngine

log = logging.getLogger(__name__)

JOB: Final = "batch_metrics"
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


def metric_table_of(name: str, result: pa.Table) -> TableDef:
    """`metric_<name>`'s Glue definition from the result's schema (the dt column is the partition key)."""
    from clickstream.adapters.glue import glue_type

    columns = tuple(Column(f.name, glue_type(f.type)) for f in result.schema if f.name != PARTITION_COLUMN)
    return metric_table(name, columns)


def compute_batch_metrics(
    settings: Settings, start: date, end: date, *, engine: QueryEngine | None = None
) -> BatchMetricsReport:
    """Compute every batch metric for the event-time days [start, end]; see the module docstring."""
    from clickstream.adapters.query import query_engine

    began = time.perf_counter()
    owned = engine is None
    engine = engine or query_engine(settings)
    try:
        with recorded_run(settings, JOB, interval=f"{start}/{end}") as run:
            report = _compute(settings, engine, start, end, began)
            run.summary = report.summary()
    finally:
        if owned:
            engine.close()
    log.info("batch metrics %s", report.summary())
    return report


def _compute(settings: Settings, engine: QueryEngine, start: date, end: date, began: float) -> BatchMetricsReport:
    from clickstream.adapters import _clients
    from clickstream.adapters.dynamodb import BatchView
    from clickstream.adapters.glue import MetricPartitions, glue_catalog

    days(start, end)  # validates the interval before any query runs
    glue = glue_catalog(settings)
    database, bucket = settings.names.glue_database, settings.names.bucket
    lake = MetricPartitions(bucket, client=_clients.client("s3", settings))
    created: list[str] = []
    written_days: dict[str, tuple[str, ...]] = {}

    def publish(name: str, result: pa.Table) -> None:
        table = metric_table_of(name, result)
        if glue.ensure_table(database, table, bucket):
            created.append(table.name)
        written: list[str] = []
        emptied: list[str] = []
        for dt, rows in by_day(result, start, end):
            (written if lake.replace(table, dt, rows) else emptied).append(dt)
        if written:
            glue.upsert_partitions(database, table, bucket, [{"dt": dt} for dt in written])
        if emptied:
            glue.delete_partitions(database, table.name, [{"dt": dt} for dt in emptied])
        written_days[name] = tuple(written)

    results = run_metrics(engine, start, end, publish=publish)
    metrics = [
        MetricResult(name, result.num_rows, written_days[name], seconds) for name, (result, seconds) in results.items()
    ]
    items = view_items({name: result for name, (result, _) in results.items()}, start, end)
    written_items, deleted_items = BatchView(settings).replace_days(
        [day.isoformat() for day in days(start, end)], items
    )
    return BatchMetricsReport(
        start,
        end,
        tuple(metrics),
        written_items,
        time.perf_counter() - began,
        tables_created=tuple(created),
        view_items_deleted=deleted_items,
    )
