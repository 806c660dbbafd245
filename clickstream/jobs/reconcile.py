"""Reconciliation: the speed layer's counters (realtime table) against the batch layer's exact metrics.

`reconcile(settings, start, end)` (what `dags/reconcile_speed_batch.py` calls), for every hour
and day window of the event-time days [start, end]:

- counters, per item (pk `all`, `type#…`, `url#…`, `status#…`, `product#…`): events, errors,
  revenue, orders (`all` only), duration_ms, timed_events. Batch values come from the
  `metric_counters` table (`sql/metrics/counters.sql`), speed values from the realtime table.
  Exact on both sides, so the tolerance is 0: any drift is real (a producer duplicate the
  speed layer's best-effort dedupe missed, an event it rejected as too late, a lost write).
- uniques (`uniq#users`, `uniq#sessions`): the speed layer's HLL estimate against the exact
  count (`metric_uniques`), tolerance `UNIQUES_TOLERANCE_RSE` relative standard errors
  (`clickstream.metrics.sketch.RSE`) of the exact count.

Items are found from the batch side plus `all` and every `type#…` of every window, so an item
only the speed layer has (a URL whose events the batch quarantined) is compared when it is one
of those; finding the others would take a Scan of the realtime table.

Windows a simulated history filled (`clickstream simulate --history`, recorded in the batch
table) are left out: the speed layer never saw those events. An hour window is skipped when its
hour holds history, a day window when any of its hours does; the report counts them
(`history_windows`) and the log line says so.

Output: Parquet `curated/metrics/reconciliation/dt=…/` (+ Glue `metric_reconciliation`), one
batch-table item per metric and window (pk `drift#<metric>`, sk the window's sk: the `all`
values and the worst item), one structured log line, and the run record (`jobs.run_record`:
max_abs_drift, windows, mismatches, …; failed runs too).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from clickstream.constants import EVENT_TYPES
from clickstream.jobs.metrics_view import days, window_sks
from clickstream.jobs.run_record import recorded_run
from clickstream.metrics import definitions as d
from clickstream.metrics.sketch import RSE, Estimate
from clickstream.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa

    from clickstream.adapters.query import QueryEngine

log = logging.getLogger(__name__)

JOB: Final = "reconcile_speed_batch"
TABLE_NAME: Final = "reconciliation"
UNIQUES_TOLERANCE_RSE: Final = 3  # |estimate - exact| within 3 RSE of the exact count (≈99.7 %)
UNIQUE_KINDS: Final[tuple[str, ...]] = tuple(d.UNIQUE_FIELDS)  # users, sessions
SKETCH_ATTRIBUTE: Final = "sketch"  # adapters.dynamodb.counters.SKETCH

Key = tuple[str, str]


@dataclass(frozen=True)
class Drift:
    """One metric of one item in one window: speed vs batch."""

    dt: str
    resolution: str  # "h" | "d"
    sk: str
    pk: str
    metric: str
    speed: float
    batch: float
    drift: float  # speed - batch
    drift_pct: float | None  # drift / batch * 100; None when batch is 0 and drift is not
    tolerance: float
    within_tolerance: bool
    exact: bool  # False for HLL estimates


@dataclass(frozen=True)
class ReconciliationReport:
    start: date
    end: date
    drifts: tuple[Drift, ...]
    windows: int  # compared: both layers saw them
    seconds: float
    history_windows: int = 0  # left out: a simulated history filled them, the speed layer never saw it

    @property
    def mismatches(self) -> list[Drift]:
        return [r for r in self.drifts if not r.within_tolerance]

    @property
    def max_abs_drift(self) -> float:
        """The largest |speed - batch| of the exact metrics (counters)."""
        return max((abs(r.drift) for r in self.drifts if r.exact), default=0.0)

    @property
    def max_unique_drift_pct(self) -> float:
        return max((abs(r.drift_pct or 0.0) for r in self.drifts if not r.exact), default=0.0)

    def summary(self) -> dict[str, Any]:
        return {
            "interval": f"{self.start.isoformat()}/{self.end.isoformat()}",
            "windows": self.windows,
            "history_windows": self.history_windows,
            "compared": len(self.drifts),
            "mismatches": len(self.mismatches),
            "max_abs_drift": self.max_abs_drift,
            "max_unique_drift_pct": round(self.max_unique_drift_pct, 4),
            "seconds": round(self.seconds, 3),
        }


# --- pure comparison ---------------------------------------------------------------------------


def windows_both_saw(windows: Sequence[str], history: set[str]) -> tuple[list[str], list[str]]:
    """(compared, left out): an hour window ("h#YYYY-MM-DDTHH:…") is left out when its hour is in
    `history` ("YYYY-MM-DDTHH"), a day window when any hour of its day is."""
    history_days = {hour[:10] for hour in history}
    kept: list[str] = []
    skipped: list[str] = []
    for sk in windows:
        seen_by_history = sk[2:15] in history if sk.startswith("h#") else sk[2:12] in history_days
        (skipped if seen_by_history else kept).append(sk)
    return kept, skipped


def compare_counters(batch: Mapping[Key, Mapping[str, Any]], speed: Mapping[Key, Mapping[str, Any]]) -> list[Drift]:
    """Exact counters, item by item (an item missing on one side counts as zeros there)."""
    out = []
    for pk, sk in sorted(set(batch) | set(speed)):
        b, s = batch.get((pk, sk), {}), speed.get((pk, sk), {})
        for metric in d.COUNTER_FIELDS:
            if metric == d.ORDERS and pk != d.ALL:
                continue  # orders are counted on `all` only (definitions.ORDERS)
            bv, sv = Decimal(b.get(metric) or 0), Decimal(s.get(metric) or 0)
            if bv == sv == 0 and pk != d.ALL:
                continue
            out.append(_drift(pk, sk, metric, sv, bv, Decimal(0), exact=True))
    return out


def compare_uniques(batch: Mapping[Key, int], speed: Mapping[Key, Estimate]) -> list[Drift]:
    """HLL estimates against exact counts, within UNIQUES_TOLERANCE_RSE relative standard errors."""
    out = []
    for pk, sk in sorted(set(batch) | set(speed)):
        exact = Decimal(batch.get((pk, sk), 0))
        estimate = Decimal(repr(speed[(pk, sk)].estimate)) if (pk, sk) in speed else Decimal(0)
        tolerance = Decimal(repr(UNIQUES_TOLERANCE_RSE * RSE)) * exact
        out.append(_drift(pk, sk, pk.split("#", 1)[1], estimate, exact, tolerance, exact=False))
    return out


def _drift(pk: str, sk: str, metric: str, speed: Decimal, batch: Decimal, tolerance: Decimal, *, exact: bool) -> Drift:
    drift = speed - batch
    pct = float(drift / batch * 100) if batch else (0.0 if drift == 0 else None)
    return Drift(
        dt=sk[2:12],
        resolution=sk[0],
        sk=sk,
        pk=pk,
        metric=metric,
        speed=float(speed),
        batch=float(batch),
        drift=float(drift),
        drift_pct=pct,
        tolerance=float(tolerance),
        within_tolerance=abs(drift) <= tolerance,
        exact=exact,
    )


def drift_items(drifts: Iterable[Drift]) -> list[dict[str, Any]]:
    """One batch-table item per (metric, window): the `all` (or uniques) values and the worst item."""
    grouped: dict[tuple[str, str], list[Drift]] = {}
    for r in drifts:
        grouped.setdefault((r.metric, r.sk), []).append(r)
    items = []
    for (metric, sk), rows in sorted(grouped.items()):
        head = next((r for r in rows if r.pk == d.ALL or not r.exact), rows[0])
        worst = max(rows, key=lambda r: abs(r.drift))
        items.append(
            {
                "pk": f"drift#{metric}",
                "sk": sk,
                "speed": head.speed,
                "batch": head.batch,
                "drift": head.drift,
                "drift_pct": head.drift_pct,
                "tolerance": head.tolerance,
                "within_tolerance": head.within_tolerance,
                "items": len(rows),
                "mismatched_items": sum(1 for r in rows if not r.within_tolerance),
                "max_abs_item_drift": abs(worst.drift),
                "worst_item": worst.pk,
            }
        )
    return items


def drift_table(drifts: Sequence[Drift]) -> pa.Table:
    import pyarrow as pa

    schema = pa.schema(
        [
            ("dt", pa.string()),
            ("resolution", pa.string()),
            ("sk", pa.string()),
            ("pk", pa.string()),
            ("metric", pa.string()),
            ("speed", pa.float64()),
            ("batch", pa.float64()),
            ("drift", pa.float64()),
            ("drift_pct", pa.float64()),
            ("tolerance", pa.float64()),
            ("within_tolerance", pa.bool_()),
            ("exact", pa.bool_()),
        ]
    )
    return pa.Table.from_pylist([asdict(r) for r in drifts], schema=schema)


# --- the job -------------------------------------------------------------------------------------


def reconcile(settings: Settings, start: date, end: date, *, engine: QueryEngine | None = None) -> ReconciliationReport:
    """Compare speed and batch for the days [start, end]; see the module docstring."""
    from clickstream.adapters.query import query_engine

    began = time.perf_counter()
    owned = engine is None
    engine = engine or query_engine(settings)
    try:
        with recorded_run(settings, JOB, interval=f"{start}/{end}") as run:
            report = _reconcile(settings, engine, start, end, began)
            run.summary = report.summary()
    finally:
        if owned:
            engine.close()
    log.info(json.dumps({"job": JOB, **run.summary}, sort_keys=True))
    return report


def _reconcile(settings: Settings, engine: QueryEngine, start: date, end: date, began: float) -> ReconciliationReport:
    from clickstream.adapters import _clients
    from clickstream.adapters.dynamodb import BatchView, CountersTable
    from clickstream.adapters.dynamodb.history import history_hours
    from clickstream.adapters.glue import MetricPartitions, glue_catalog
    from clickstream.jobs.batch_metrics import metric_table_of
    from clickstream.jobs.metrics_view import by_day
    from clickstream.metrics.sketch import estimate_uniques

    history_of_days = history_hours(settings, [day.isoformat() for day in days(start, end)])
    windows, history = windows_both_saw(window_sks(start, end), history_of_days)
    compared = set(windows)
    batch_counters, batch_uniques = _batch_side(engine, start, end)
    batch_counters = {k: v for k, v in batch_counters.items() if k[1] in compared}
    batch_uniques = {k: v for k, v in batch_uniques.items() if k[1] in compared}
    keys = set(batch_counters) | {(pk, sk) for sk in windows for pk in (d.ALL, *(f"type#{t}" for t in EVENT_TYPES))}
    unique_keys = {(d.uniques_pk(kind), sk) for sk in windows for kind in UNIQUE_KINDS}
    realtime = CountersTable(settings.names.realtime_table, client=_clients.client("dynamodb", settings))
    speed = realtime.get_items(keys | unique_keys)
    speed_counters = {k: v for k, v in speed.items() if k in keys}
    speed_uniques = {k: estimate_uniques(_blob(v.get(SKETCH_ATTRIBUTE))) for k, v in speed.items() if k in unique_keys}
    drifts = compare_counters(batch_counters, speed_counters) + compare_uniques(batch_uniques, speed_uniques)

    table = drift_table(drifts)
    definition = metric_table_of(TABLE_NAME, table)
    glue, database, bucket = glue_catalog(settings), settings.names.glue_database, settings.names.bucket
    glue.ensure_table(database, definition, bucket)
    lake = MetricPartitions(bucket, client=_clients.client("s3", settings))
    written = [dt for dt, rows in by_day(table, start, end) if lake.replace(definition, dt, rows)]
    if written:
        glue.upsert_partitions(database, definition, bucket, [{"dt": dt} for dt in written])
    BatchView(settings).put_items(drift_items(drifts))
    if history:
        log.info(
            "%s: %d windows left out, a simulated history filled them (the speed layer never saw it)", JOB, len(history)
        )
    return ReconciliationReport(start, end, tuple(drifts), len(windows), time.perf_counter() - began, len(history))


def _batch_side(engine: QueryEngine, start: date, end: date) -> tuple[dict[Key, dict[str, Any]], dict[Key, int]]:
    """The exact counters and uniques of [start, end] from the batch metric tables."""
    days = f"dt BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'"  # date objects: no injection
    fields = ", ".join(d.COUNTER_FIELDS)
    counters = engine.execute(f"SELECT pk, sk, {fields} FROM metric_counters WHERE {days}")
    uniques = engine.execute(f"SELECT sk, users, sessions FROM metric_uniques WHERE {days}")
    batch_counters = {(r["pk"], r["sk"]): r for r in counters.to_pylist()}
    batch_uniques: dict[Key, int] = {}
    for r in uniques.to_pylist():
        for kind in UNIQUE_KINDS:
            batch_uniques[(d.uniques_pk(kind), r["sk"])] = int(r[kind])
    return batch_counters, batch_uniques


def _blob(value: Any) -> bytes | None:
    if value is None:
        return None
    return bytes(value.value if hasattr(value, "value") else value)  # boto3 Binary → bytes
