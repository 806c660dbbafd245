"""The AWS query engine: Athena in the platform's workgroup, results converted to typed Arrow tables.

Athena runs asynchronously: start the query, poll its state with a growing pause, then page
through `GetQueryResults` (values arrive as strings; `ResultSetMetadata.ColumnInfo` gives their
types). A query that outlives its timeout is stopped, so it stops scanning (and costing) too; in
the query API's Lambda the timeout also ends before the invocation does (`clickstream.deadline`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from clickstream import constants as c
from clickstream.adapters.query.engine import RUNNING_STATES, QueryError, QueryState, QueryTimeoutError
from clickstream.adapters.query.unload import is_unload
from clickstream.deadline import budget
from clickstream.settings import Settings

DEFAULT_TIMEOUT_S = 300.0
PAGE_ROWS = c.ATHENA_RESULT_PAGE_ROWS
GLUE_CATALOG = "AwsDataCatalog"


class AthenaEngine:
    """Athena over the Glue database of `settings`, in workgroup `settings.names.athena_workgroup`."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        first_poll_s: float = 0.2,
        max_poll_s: float = 2.0,
    ) -> None:
        from clickstream.adapters import _clients

        self._settings = settings
        self._client = client or _clients.client("athena", settings)
        self._sleep, self._clock = sleep, clock
        self._first_poll_s, self._max_poll_s = first_poll_s, max_poll_s

    @property
    def output_location(self) -> str:
        return f"s3://{self._settings.names.bucket}/{c.ATHENA_RESULTS_PREFIX}/"

    def execute(self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None) -> pa.Table:
        """Run `sql`; stop it after `timeout_s` (default DEFAULT_TIMEOUT_S), or sooner when the
        request being served must be answered first (`clickstream.deadline`: the query API's Lambda)."""
        wanted = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
        allowed = budget(wanted)
        if allowed <= 0:
            raise QueryTimeoutError("no time left in this request to run an Athena query")
        execution_id = self.start(sql)
        self.wait(execution_id, timeout_s=allowed)
        if is_unload(sql):
            return pa.table({})  # the rows are in the UNLOAD's location; there is no result set
        return self.results(execution_id, max_rows=max_rows)

    def explain(self, sql: str) -> str:
        out = self.execute(f"EXPLAIN {sql.strip().rstrip(';')}")
        return "\n".join("" if v is None else str(v) for v in out.column(0).to_pylist()) if out.num_columns else ""

    def tables(self) -> list[str]:
        from clickstream.adapters.glue import glue_catalog

        return sorted(t["Name"] for t in glue_catalog(self._settings).tables(self._settings.names.glue_database))

    def close(self) -> None:
        pass

    # --- the three steps -----------------------------------------------------------------------

    def start(self, sql: str) -> str:
        resp = self._client.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": self._settings.names.glue_database, "Catalog": GLUE_CATALOG},
            WorkGroup=self._settings.names.athena_workgroup,
            ResultConfiguration={"OutputLocation": self.output_location},
        )
        return str(resp["QueryExecutionId"])

    def state(self, execution_id: str) -> QueryState:
        try:
            status = self._client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
        except self._client.exceptions.InvalidRequestException as exc:
            raise QueryError(f"Athena has no query {execution_id}: {exc}") from exc
        state = str(status["State"])
        reason = None if state == "SUCCEEDED" else status.get("StateChangeReason")
        return QueryState(state, reason)

    def wait(self, execution_id: str, *, timeout_s: float) -> dict[str, Any]:
        """Poll until the query finishes; stop it and raise QueryTimeoutError after `timeout_s`."""
        deadline = self._clock() + timeout_s
        pause = self._first_poll_s
        while True:
            execution = self._client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
            status = execution["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return dict(execution)
            if state not in RUNNING_STATES:
                reason = status.get("StateChangeReason") or "no reason given"
                raise QueryError(f"Athena query {execution_id} {state}: {reason}")
            if self._clock() >= deadline:
                self._client.stop_query_execution(QueryExecutionId=execution_id)
                raise QueryTimeoutError(
                    f"Athena query {execution_id} still {state} after {timeout_s:g} s; it was stopped "
                    "(narrow the dt range, or raise the timeout)"
                )
            self._sleep(min(pause, max(0.0, deadline - self._clock())))
            pause = min(pause * 2, self._max_poll_s)

    def results(self, execution_id: str, *, max_rows: int | None = None) -> pa.Table:
        columns: list[Mapping[str, Any]] | None = None
        rows: list[list[str | None]] = []
        for page_number, page in enumerate(self._pages(execution_id)):
            result_set = page["ResultSet"]
            if columns is None:
                columns = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            values = [[d.get("VarCharValue") for d in r.get("Data", [])] for r in result_set.get("Rows", [])]
            if page_number == 0 and values and _is_header(values[0], columns):
                values = values[1:]
            rows.extend(values)
            if max_rows is not None and len(rows) >= max_rows:
                break
        if max_rows is not None:
            rows = rows[:max_rows]
        return to_arrow(columns or [], rows)

    def _pages(self, execution_id: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": PAGE_ROWS}
            if token:
                kwargs["NextToken"] = token
            page = self._client.get_query_results(**kwargs)
            yield page
            token = page.get("NextToken")
            if not token:
                return


def ensure_workgroup(settings: Settings, *, client: Any = None) -> bool:
    """Create the platform's Athena workgroup (results under ATHENA_RESULTS_PREFIX) if missing; True if created.

    In AWS the CDK app owns it (with a scan limit); locally this gives the emulator the same name.
    """
    from botocore.exceptions import ClientError

    from clickstream.adapters import _clients
    from clickstream.adapters.aws_errors import error_code

    athena = client or _clients.client("athena", settings)
    name = settings.names.athena_workgroup
    try:
        if athena.get_work_group(WorkGroup=name).get("WorkGroup"):  # moto answers {} for a missing one
            return False
    except ClientError as exc:
        if error_code(exc) not in ("InvalidRequestException", "ResourceNotFoundException"):
            raise
    output = f"s3://{settings.names.bucket}/{c.ATHENA_RESULTS_PREFIX}/"
    athena.create_work_group(
        Name=name,
        Description="clickstream queries (batch layer, query API, Grafana)",
        Configuration={"ResultConfiguration": {"OutputLocation": output}, "EnforceWorkGroupConfiguration": True},
    )
    return True


def _is_header(first: Sequence[str | None], columns: Sequence[Mapping[str, Any]]) -> bool:
    """Athena repeats the column labels as the first row of a SELECT's first page (not for DDL/EXPLAIN)."""
    labels = [col.get("Label") or col.get("Name") for col in columns]
    return bool(labels) and list(first) == labels


# --- types -------------------------------------------------------------------------------------


def to_arrow(columns: Sequence[Mapping[str, Any]], rows: Sequence[Sequence[str | None]]) -> pa.Table:
    """A typed Arrow table from Athena's string values and ColumnInfo."""
    if not columns and rows:
        columns = [{"Name": f"_col{i}", "Type": "varchar"} for i in range(len(rows[0]))]
    arrays, fields = [], []
    for i, col in enumerate(columns):
        arrow_t, convert = athena_type(str(col.get("Type", "varchar")), col)
        values = [None if i >= len(r) or r[i] is None else convert(r[i]) for r in rows]  # type: ignore[arg-type]
        arrays.append(pa.array(values, type=arrow_t))
        fields.append(pa.field(str(col.get("Label") or col.get("Name")), arrow_t))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def athena_type(type_name: str, column: Mapping[str, Any] | None = None) -> tuple[pa.DataType, Callable[[str], Any]]:
    """(Arrow type, text → value) for an Athena result column type; complex types stay text (JSON-like)."""
    t = type_name.strip().lower()
    if t in ("tinyint", "smallint", "integer", "int", "bigint"):
        return _INT_TYPES[t], int
    if t in ("double", "float", "real"):
        return (pa.float64() if t == "double" else pa.float32()), float
    if t == "boolean":
        return pa.bool_(), lambda v: v.lower() == "true"
    if t.startswith("decimal"):
        precision = int((column or {}).get("Precision") or 38)
        scale = int((column or {}).get("Scale") or 0)
        return pa.decimal128(min(max(precision, 1), 38), scale), Decimal
    if t == "date":
        return pa.date32(), date.fromisoformat
    if t.startswith("timestamp"):
        if "with time zone" in t:
            return pa.timestamp("ms", tz="UTC"), _timestamp_tz
        return pa.timestamp("ms"), _timestamp
    return pa.string(), str


_INT_TYPES = {
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "bigint": pa.int64(),
}


def _timestamp(text: str) -> datetime:
    """'2026-11-22 07:00:00.123' (Athena's text form) as a naive UTC datetime."""
    return datetime.fromisoformat(text.replace(" ", "T", 1))


def _timestamp_tz(text: str) -> datetime:
    """'2026-11-22 07:00:00.123 UTC' (or with an offset / zone name) as an aware UTC datetime."""
    stamp, _, zone = text.partition(" ")[2].partition(" ")
    day = text.split(" ", 1)[0]
    parsed = datetime.fromisoformat(f"{day}T{stamp}")
    if zone in ("", "UTC", "Z", "Etc/UTC"):
        return parsed.replace(tzinfo=UTC)
    if zone[0] in "+-":
        return datetime.fromisoformat(f"{day}T{stamp}{zone}").astimezone(UTC)
    from zoneinfo import ZoneInfo

    return parsed.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
