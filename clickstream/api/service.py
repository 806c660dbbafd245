"""What each endpoint computes, framework-free (REST routes, GraphQL and the live stream share it)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from clickstream.adapters.dynamodb import ENGAGEMENT_PK
from clickstream.api import params, serving
from clickstream.api.deps import ApiDeps
from clickstream.api.errors import bad_request
from clickstream.api.export import CONTENT_TYPES, ENCODERS
from clickstream.api.lake import COMPACTION_JOB, EventFilter
from clickstream.api.recent import MAX_RECENT
from clickstream.catalog import EVENT_TIME
from clickstream.constants import EVENT_TYPES
from clickstream.metrics import definitions as d
from clickstream.metrics.windows import DAY

FUNNEL_STEPS: Final = ("page_view", "add_to_cart", "checkout", "purchase")
MAX_EXPORT_SPAN: Final = timedelta(days=366)
MAX_SCAN_SPAN: Final = timedelta(days=92)  # page views / top pages scan the lake
# ... and they and the export read at most this many stored bytes of it (curated Parquet + raw
# tail), so that a request stays within an API Gateway integration's 30 s: larger ranges go to the
# engine (POST /v1/query; POST /v1/exports for an export).
MAX_SCAN_BYTES: Final = 256 * 1024 * 1024
MAX_STATS_SPAN: Final = timedelta(days=3660)
MAX_TOP: Final = 100


class ApiService:
    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps

    @property
    def now(self) -> datetime:
        return self.deps.clock()

    # --- /v1/stats ------------------------------------------------------------------------------

    def stats(self, *, limit: int = 10, from_: str | None = None, to: str | None = None) -> dict[str, Any]:
        """Totals and events by type (day windows, batch where closed, speed after) and the last events."""
        if not 0 <= limit <= MAX_RECENT:
            raise bad_request(f"limit={limit}: between 0 and {MAX_RECENT}", code="invalid_parameter")
        pks = [d.ALL] + [d.pk(d.TYPE, t) for t in EVENT_TYPES]
        days = None
        if from_ or to:
            span = params.time_range(from_, to, now=self.now, default_span=timedelta(days=30), max_span=MAX_STATS_SPAN)
            days = span.days
        windows, sks = self.deps.reader.day_windows(pks, days)
        totals = serving.merged_totals(pks, sks, windows.speed, windows.batch, windows.closed)
        return {
            "total_events": totals[d.ALL],
            "events_by_type": {t: totals[d.pk(d.TYPE, t)] for t in EVENT_TYPES},
            "recent_events": self.deps.recent.latest(limit),
            "layers": {"batch_days": len(windows.closed & set(sks)), "speed_days": len(set(sks) - windows.closed)},
            "generated_at": params.format_instant(self.now),
        }

    # --- /v1/metrics/{metric} -------------------------------------------------------------------

    def series(
        self, metric: str, *, dimension: str | None, from_: str | None, to: str | None, granularity: str
    ) -> dict[str, Any]:
        res = params.resolution(granularity)
        pk = params.dimension_pk(dimension)
        spec = serving.metric_spec(metric, pk, res)
        span = params.series_range(from_, to, res, now=self.now)
        sks = params.window_sks(res, span)
        windows = self.deps.reader.windows(spec.pks(pk), res, sks)
        points = serving.build_series(spec, pk, sks, windows.speed, windows.batch, windows.closed)
        return {
            "metric": metric,
            "dimension": pk.replace("#", ":", 1) if pk != d.ALL else d.ALL,
            "granularity": granularity,
            "from": params.format_instant(span.start),
            "to": params.format_instant(span.end),
            "points": [
                {
                    "start": params.format_instant(datetime.fromtimestamp(p.start, UTC)),
                    "value": p.value,
                    "layer": p.layer,
                }
                for p in points
            ],
        }

    # --- lake scans: page views, top pages --------------------------------------------------------

    def page_views(self, page: str, *, from_: str | None, to: str | None) -> dict[str, Any]:
        path = params.page_path(page)
        span = params.time_range(from_, to, now=self.now, default_span=timedelta(days=30), max_span=MAX_SCAN_SPAN)
        by_day: dict[str, int] = {}
        for batch in self._page_view_batches(span, starts_with=path, sql=page_views_sql(path, span)):
            urls = _url_dimension(batch.column("url"))
            keep = pc.equal(urls, path)
            days = pc.strftime(pc.filter(batch.column(EVENT_TIME), keep), format="%Y-%m-%d")
            for day, count in zip(*_value_counts(days), strict=True):
                by_day[day] = by_day.get(day, 0) + count
        return {
            "page": path,
            "page_views": sum(by_day.values()),
            "from": params.format_instant(span.start),
            "to": params.format_instant(span.end),
            "by_day": [{"date": day, "page_views": n} for day, n in sorted(by_day.items())],
        }

    def top_pages(self, *, from_: str | None, to: str | None, limit: int = 10) -> list[dict[str, Any]]:
        if not 1 <= limit <= MAX_TOP:
            raise bad_request(f"limit={limit}: between 1 and {MAX_TOP}", code="invalid_parameter")
        span = params.time_range(from_, to, now=self.now, default_span=timedelta(days=1), max_span=MAX_SCAN_SPAN)
        counts: dict[str, int] = {}
        for batch in self._page_view_batches(span, sql=top_pages_sql(span, limit)):
            for url, n in zip(*_value_counts(_url_dimension(batch.column("url"))), strict=True):
                if url is not None:
                    counts[url] = counts.get(url, 0) + n
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [{"page": url, "page_views": n} for url, n in ranked]

    def _page_view_batches(
        self, span: params.TimeRange, *, sql: str, starts_with: str | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The page views of `span` from the lake, or `range_too_large` naming `sql`, the same
        question for the engine, when the range holds more than MAX_SCAN_BYTES."""
        flt = EventFilter(span, ("page_view",))
        watermark = self.compaction_watermark()
        self._check_scan(
            span,
            watermark,
            "ask the query engine: POST /v1/query with the `sql` given here (it covers compacted hours; "
            "the newest hour is still in raw_events)",
            sql=sql,
        )
        _, batches = self.deps.lake.batches(flt, columns=["url", EVENT_TIME], watermark=watermark)
        for batch in batches:
            if starts_with is not None:
                batch = batch.filter(pc.fill_null(pc.starts_with(batch.column("url"), starts_with), False))
            if batch.num_rows:
                yield batch

    def _check_scan(self, span: params.TimeRange, watermark: datetime | None, instead: str, **extra: Any) -> None:
        """`range_too_large` (saying what to do `instead`) when reading `span` in this process would
        go through more than MAX_SCAN_BYTES of stored events."""
        stored = self.deps.lake.scan_bytes(span, watermark)
        if stored > MAX_SCAN_BYTES:
            raise bad_request(
                f"the range holds {stored / 2**20:,.0f} MiB of events; this endpoint reads at most "
                f"{MAX_SCAN_BYTES / 2**20:,.0f} MiB. Narrow from/to, or {instead}",
                code="range_too_large",
                scan_bytes=stored,
                limit_bytes=MAX_SCAN_BYTES,
                **extra,
            )

    # --- funnel ---------------------------------------------------------------------------------

    def funnel(self, *, from_: str | None, to: str | None) -> list[dict[str, Any]]:
        """Per day: closed days from the batch view (sessions reaching each step), open days from
        the speed layer's event counts per step type (`basis` says which)."""
        span = params.time_range(from_, to, now=self.now, default_span=timedelta(days=7), max_span=timedelta(days=92))
        sks = params.window_sks(DAY, span)
        pks = [ENGAGEMENT_PK] + [d.pk(d.TYPE, t) for t in FUNNEL_STEPS]
        w = self.deps.reader.windows(pks, DAY, sks)
        out = []
        for sk in sks:
            if sk in w.closed:
                item = w.batch.get((ENGAGEMENT_PK, sk)) or {}
                counts = [int(item.get(f"funnel_{step}", 0)) for step in FUNNEL_STEPS]
                layer, basis = "batch", "sessions"
            else:
                counts = [int((w.speed.get((d.pk(d.TYPE, t), sk)) or {}).get(d.EVENTS, 0)) for t in FUNNEL_STEPS]
                layer, basis = "speed", "events"
            steps = []
            for i, (step, n) in enumerate(zip(FUNNEL_STEPS, counts, strict=True)):
                prev = counts[i - 1] if i else None
                rate = None if not prev else round(n / prev, 6)
                steps.append({"step": step, "count": n, "rate_from_previous": rate})
            out.append({"date": sk[2:12], "layer": layer, "basis": basis, "steps": steps})
        return out

    # --- /v1/export -----------------------------------------------------------------------------

    def export(
        self, fmt: str, *, from_: str | None, to: str | None, event_types: Sequence[str] = ()
    ) -> tuple[str, Iterator[bytes]]:
        if fmt not in ENCODERS:
            raise bad_request(f"format={fmt!r}: one of {', '.join(ENCODERS)}", code="invalid_parameter")
        types = params.event_types(event_types)
        span = params.time_range(from_, to, now=self.now, default_span=timedelta(days=1), max_span=MAX_EXPORT_SPAN)
        watermark = self.compaction_watermark()
        self._check_scan(span, watermark, "start an export job, which the query engine runs: POST /v1/exports")
        schema, batches = self.deps.lake.batches(EventFilter(span, tuple(types)), watermark=watermark)
        return CONTENT_TYPES[fmt], ENCODERS[fmt](schema, batches)

    def compaction_watermark(self) -> datetime | None:
        """Raw arrival hours from here on are not compacted yet (see `clickstream.api.lake`)."""
        return compaction_watermark(self.deps.latest_run(COMPACTION_JOB))


def compaction_watermark(run: dict[str, Any] | None) -> datetime | None:
    """The end of the latest successful compaction interval (its start when the run failed:
    nothing of it was published); None when compaction never ran."""
    if not run:
        return None
    start, end = _interval(run)
    moment = end if run.get("status") == "success" else start
    if not moment:
        return None
    try:
        parsed = datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else parsed.replace(tzinfo=UTC)


def _interval(run: dict[str, Any]) -> tuple[Any, Any]:
    for a, b in (("interval_start", "interval_end"), ("data_interval_start", "data_interval_end"), ("start", "end")):
        if run.get(b) or run.get(a):
            return run.get(a), run.get(b)
    interval = run.get("interval")
    if isinstance(interval, dict):
        return interval.get("start"), interval.get("end")
    if isinstance(interval, list | tuple) and len(interval) == 2:
        return interval[0], interval[1]
    if isinstance(interval, str) and "/" in interval:
        a, b = interval.split("/", 1)
        return a, b
    return None, None


def _url_dimension(urls: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`definitions.url_dimension` in Arrow: path without query or fragment, 256 characters at most."""
    cut = pc.replace_substring_regex(urls, pattern=r"[?#].*$", replacement="")
    return pc.utf8_slice_codeunits(cut, start=0, stop=d.MAX_DIMENSION_CHARS)


def _value_counts(values: pa.Array | pa.ChunkedArray) -> tuple[list[Any], list[int]]:
    counted = pc.value_counts(values)
    return counted.field("values").to_pylist(), counted.field("counts").to_pylist()


_URL_SQL: Final = d.URL_DIMENSION_SQL


def page_views_sql(path: str, span: params.TimeRange) -> str:
    """`page_views` as one Athena statement over the compacted events (what a too-large range gets)."""
    page = path.replace("'", "''")
    return (
        "SELECT date(event_time) AS day, count(*) AS page_views FROM events WHERE event_type = 'page_view' "
        f"AND {_URL_SQL} = '{page}' AND {span_sql(span)} GROUP BY 1 ORDER BY 1"
    )


def top_pages_sql(span: params.TimeRange, limit: int) -> str:
    """`top_pages` as one Athena statement over the compacted events."""
    return (
        f"SELECT {_URL_SQL} AS page, count(*) AS page_views FROM events WHERE event_type = 'page_view' "
        f"AND {span_sql(span)} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {limit}"
    )


def span_sql(span: params.TimeRange) -> str:
    """The range as partition and event-time predicates (partition pruning first)."""
    first, last = span.start.strftime("%Y-%m-%d"), (span.end - timedelta(microseconds=1)).strftime("%Y-%m-%d")
    start, end = params.format_instant(span.start), params.format_instant(span.end)
    return (
        f"dt BETWEEN '{first}' AND '{last}' "
        f"AND event_time >= from_iso8601_timestamp('{start}') AND event_time < from_iso8601_timestamp('{end}')"
    )
