"""Export jobs: `POST /v1/exports` and `GET /v1/exports/{id}`, an export of any size run by the engine.

`GET /v1/export` streams from the API process, so it stops at `service.MAX_SCAN_BYTES` of stored
events (and in AWS its Lambda answers at most 6 MB). An export job has no such bound: the query
engine (Athena in AWS, DuckDB locally) `UNLOAD`s the compacted events of the range into
`exports/<id>/files/`, the API records the job beside them (`exports/<id>/export.json`), and
answers at once with 202. Asking for the job gives its state and, once it succeeded, one download
link per file, signed for `LINK_TTL_S`. A lifecycle rule deletes exports after
`EXPORTS_EXPIRY_DAYS`.

The job covers the curated table: the events compacted by the end of the latest compaction
interval, `compacted_to` in every answer. Events that arrived after it are still in the raw tail,
which `GET /v1/export` reads.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

from clickstream import constants as c
from clickstream.api import params
from clickstream.api.deps import ApiDeps
from clickstream.api.errors import ApiError, bad_request
from clickstream.api.lake import COMPACTION_JOB
from clickstream.api.service import MAX_EXPORT_SPAN, compaction_watermark, span_sql
from clickstream.catalog import EVENTS

# format → (UNLOAD format, compression): what Athena's UNLOAD writes, and so does the local engine
FORMATS: Final = {"parquet": ("PARQUET", "ZSTD"), "ndjson": ("JSON", "GZIP")}
LINK_TTL_S: Final = 3600
_ID: Final = re.compile(r"^[0-9a-f]{32}$")


def export_sql(span: params.TimeRange, event_types: Sequence[str]) -> str:
    """The range's compacted events, every curated column, as one Athena SELECT."""
    columns = ", ".join(f'"{col.name}"' for col in EVENTS.columns)
    where = span_sql(span)
    if event_types:
        where += " AND event_type IN (" + ", ".join(f"'{t}'" for t in event_types) + ")"
    return f"SELECT {columns} FROM {EVENTS.name} WHERE {where}"


def export_unload(export_id: str, bucket: str, fmt: str, select: str) -> str:
    from clickstream.adapters.query.unload import Unload

    unload_format, compression = FORMATS[fmt]
    location = f"s3://{bucket}/{files_prefix(export_id)}"
    return Unload(select, location, format=unload_format, compression=compression).sql()


def files_prefix(export_id: str) -> str:
    return f"{c.EXPORTS_PREFIX}/{export_id}/files/"


def record_key(export_id: str) -> str:
    return f"{c.EXPORTS_PREFIX}/{export_id}/export.json"


class ExportJobs:
    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps

    def start(self, fmt: str, *, from_: str | None, to: str | None, event_types: Sequence[str] = ()) -> dict[str, Any]:
        if fmt not in FORMATS:
            raise bad_request(f"format={fmt!r}: one of {', '.join(FORMATS)}", code="invalid_parameter")
        types = sorted(set(params.event_types(event_types)))
        now = self.deps.clock()
        span = params.time_range(from_, to, now=now, default_span=timedelta(days=1), max_span=MAX_EXPORT_SPAN)
        compacted_to = compaction_watermark(self.deps.latest_run(COMPACTION_JOB))
        if compacted_to is None or compacted_to <= span.start:
            raise bad_request(
                "nothing in this range is compacted yet, and an export job reads the compacted events: "
                "GET /v1/export streams the raw tail",
                code="not_compacted",
            )
        export_id = uuid.uuid4().hex
        select = export_sql(span, types)
        execution_id = self.deps.engine.start(export_unload(export_id, self.deps.settings.names.bucket, fmt, select))
        record = {
            "export_id": export_id,
            "format": fmt,
            "from": params.format_instant(span.start),
            "to": params.format_instant(span.end),
            "event_types": types,
            "compacted_to": params.format_instant(compacted_to),
            "created_at": params.format_instant(now),
            "execution_id": execution_id,
            "sql": select,
        }
        self.deps.objects.put(record_key(export_id), json.dumps(record).encode(), content_type="application/json")
        return _answer(record, "running")

    def status(self, export_id: str) -> dict[str, Any]:
        from clickstream.adapters.query import QueryError

        found = self.deps.objects.get_if_exists(record_key(export_id)) if _ID.match(export_id) else None
        if found is None:
            raise ApiError(404, "not_found", f"no export {export_id!r}: exports are kept {c.EXPORTS_EXPIRY_DAYS} days")
        record = json.loads(found)
        try:
            state = self.deps.engine.state(record["execution_id"])
        except QueryError as exc:
            return _answer(record, "failed", error=str(exc))
        if not state.finished:
            return _answer(record, "running")
        if not state.succeeded:
            return _answer(record, "failed", error=f"{state.state}: {state.reason or 'no reason given'}")
        objects = self.deps.objects
        expires = self.deps.clock() + timedelta(seconds=LINK_TTL_S)
        files = [
            {"name": key.rsplit("/", 1)[-1], "bytes": size, "url": objects.download_url(key, expires_s=LINK_TTL_S)}
            for key, size in objects.list_sizes(files_prefix(export_id))
        ]
        return {
            **_answer(record, "succeeded"),
            "files": files,
            "bytes": sum(f["bytes"] for f in files),
            "links_expire_at": params.format_instant(expires),
        }


def _answer(record: dict[str, Any], status: str, *, error: str | None = None) -> dict[str, Any]:
    out = {key: record[key] for key in ("export_id", "format", "from", "to", "event_types", "compacted_to")}
    out.update(status=status, status_url=f"/v1/exports/{record['export_id']}", created_at=record["created_at"])
    if error is not None:
        out["error"] = error
    return out
