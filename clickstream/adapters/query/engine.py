"""What both query engines share: the `QueryEngine` protocol, its errors, and the SQL helpers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from clickstream.errors import ClickstreamError

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp


ATHENA_DIALECT = "athena"
GLUE_CATALOG_NAME = "awsdatacatalog"  # Athena's name for the Glue Data Catalog in qualified table names
RUNNING_STATES: Final = frozenset({"QUEUED", "RUNNING"})  # Athena's states of an unfinished query


class QueryError(ClickstreamError):
    """The query could not run: a syntax error, a failed Athena execution, an engine error."""


class QueryTimeoutError(QueryError):
    """The query ran longer than its timeout and was cancelled."""


class UnknownTableError(QueryError):
    """The query names a table the Glue database does not have; `available` lists the ones it has."""

    def __init__(self, missing: Iterable[str], available: Iterable[str], database: str) -> None:
        self.missing = sorted(set(missing))
        self.available = sorted(set(available))
        shown = ", ".join(self.available) or "none (run `clickstream local up`, then the batch DAGs)"
        super().__init__(
            f"unknown table(s) {', '.join(self.missing)} in Glue database {database}; tables there are: {shown}"
        )


@dataclass(frozen=True)
class QueryState:
    """Where a started statement is: Athena's state (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
    and, when it did not succeed, why."""

    state: str
    reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.state not in RUNNING_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCEEDED"


@runtime_checkable
class QueryEngine(Protocol):
    def execute(self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None) -> pa.Table:
        """Run one Athena-dialect statement; at most `max_rows` rows come back."""
        ...

    def explain(self, sql: str) -> str:
        """The engine's plan for `sql`, as text."""
        ...

    def tables(self) -> list[str]:
        """The table names a query can use."""
        ...

    def start(self, sql: str) -> str:
        """Start one statement without waiting for it (an UNLOAD, for work longer than a request):
        its execution id, for `state`."""
        ...

    def state(self, execution_id: str) -> QueryState:
        """Where the statement `start` returned `execution_id` for is; QueryError for an unknown id."""
        ...

    def close(self) -> None: ...


# --- SQL helpers both engines share ---------------------------------------------------------------


def parse_one(sql: str) -> exp.Expr:
    """Parse exactly one Athena statement (a trailing `;` is fine) or raise QueryError."""
    import sqlglot
    from sqlglot.errors import ParseError

    try:
        statements = [s for s in sqlglot.parse(sql, read=ATHENA_DIALECT) if s is not None]
    except ParseError as exc:
        raise QueryError(f"SQL syntax error: {exc}") from exc
    if len(statements) != 1:
        raise QueryError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]


def cte_names(expression: exp.Expr) -> set[str]:
    from sqlglot import exp

    return {cte.alias_or_name.lower() for cte in expression.find_all(exp.CTE)}


def table_refs(expression: exp.Expr) -> list[exp.Table]:
    """The real table references of a statement (CTE names and table functions excluded)."""
    from sqlglot import exp

    ctes = cte_names(expression)
    refs = []
    for table in expression.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function such as UNNEST(...) or read_parquet(...)
        if not table.db and table.name.lower() in ctes:
            continue
        refs.append(table)
    return refs


def unqualify(expression: exp.Expr, database: str) -> exp.Expr:
    """Drop `awsdatacatalog.<database>.` / `<database>.` from table names, as Athena resolves them."""
    for table in table_refs(expression):
        catalog_ok = not table.catalog or table.catalog.lower() == GLUE_CATALOG_NAME
        if table.db and table.db.lower() == database.lower() and catalog_ok:
            table.set("db", None)
            table.set("catalog", None)
    return expression
