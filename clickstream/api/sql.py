"""POST /v1/query: one read-only Athena statement, checked by `clickstream.sqlguard`, run with a
row limit and a timeout on the configured engine (DuckDB locally, Athena in AWS)."""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any, Final

import pyarrow as pa

from clickstream.api.deps import ApiDeps
from clickstream.api.errors import ApiError, bad_request

DEFAULT_MAX_ROWS: Final = 1000
MAX_ROWS: Final = 10_000
TIMEOUT_S: Final = 30.0


def run_query(deps: ApiDeps, sql: str, *, max_rows: int | None = None, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    from clickstream.adapters.query import QueryError, QueryTimeoutError
    from clickstream.sqlguard import UnsafeQueryError, check_read_only

    limit = max_rows or DEFAULT_MAX_ROWS
    if not 1 <= limit <= MAX_ROWS:
        raise bad_request(f"max_rows={limit}: between 1 and {MAX_ROWS}", code="invalid_parameter")
    engine = deps.engine
    try:
        safe = check_read_only(sql, engine.tables(), max_rows=limit + 1, database=deps.settings.names.glue_database)
    except UnsafeQueryError as exc:
        raise bad_request(str(exc), code="unsafe_query") from exc
    started = time.perf_counter()
    try:
        # one row past the limit tells a truncated result from an exact fit
        table: pa.Table = engine.execute(safe, max_rows=limit + 1, timeout_s=timeout_s)
    except QueryTimeoutError as exc:
        raise ApiError(400, "query_timeout", f"{exc}: add filters on dt/hour or aggregate more") from exc
    except QueryError as exc:
        raise bad_request(str(exc), code="query_failed") from exc
    elapsed = (time.perf_counter() - started) * 1000
    truncated = table.num_rows > limit
    table = table.slice(0, limit)
    return {
        "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
        "rows": [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()],
        "row_count": table.num_rows,
        "truncated": truncated,
        "elapsed_ms": round(elapsed, 3),
        "sql": safe,
    }


def _plain(value: Any) -> Any:
    """JSON-ready values: decimals as floats, timestamps as RFC 3339, bytes as text."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON has no NaN/Infinity
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        text: str = value.isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
