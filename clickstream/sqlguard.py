"""The read-only guard in front of user SQL (`POST /v1/query`, `clickstream query`): one SELECT over known tables.

The guard parses the text with sqlglot (Athena dialect) and returns SQL *regenerated from the
parse tree*, without comments, so the engine runs exactly what was checked: text hidden in a
comment, or a statement the guard's parser and the engine's parser would split differently,
never reaches the engine. What passes:

- exactly one statement, a SELECT (WITH … SELECT, UNION/INTERSECT/EXCEPT and subqueries too);
- every table is one of `allowed_tables` (optionally qualified with the Glue database);
- no table functions or file/URL readers (read_csv, read_parquet, glob, TABLE(…), 's3://…'),
  no DDL/DML/COPY/ATTACH/PRAGMA/SET/CALL/INSTALL/LOAD/EXPORT anywhere in the tree, no
  SELECT … INTO, no bind parameters;
- a row cap: LIMIT is added, or lowered to `max_rows`.

The local engine also locks DuckDB down (no file system access, no replacement scans, locked
configuration), so the guard is one of two walls, not the only one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from clickstream.errors import ClickstreamError

if TYPE_CHECKING:
    from sqlglot import exp

DEFAULT_MAX_ROWS: Final = 10_000
MAX_SQL_CHARS: Final = 100_000
GLUE_CATALOG: Final = "awsdatacatalog"
# Functions that read files, URLs, other databases or the engine's own state (DuckDB and friends).
DENIED_FUNCTIONS: Final[frozenset[str]] = frozenset(
    {
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_text",
        "read_blob",
        "read_xlsx",
        "glob",
        "sniff_csv",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "iceberg_scan",
        "iceberg_metadata",
        "delta_scan",
        "sqlite_scan",
        "sqlite_attach",
        "postgres_scan",
        "postgres_attach",
        "mysql_scan",
        "query",
        "query_table",
        "getenv",
        "current_setting",
        "load_extension",
        "install_extension",
        "system",
        "shell",
        "httpfs",
        "s3",
    }
)
DENIED_PREFIXES: Final[tuple[str, ...]] = ("duckdb_", "pragma_", "read_", "sqlite_", "postgres_", "mysql_")


class UnsafeQueryError(ClickstreamError):
    """The SQL is not a single read-only SELECT over the allowed tables; `reason` says what was refused."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_read_only(
    sql: str,
    allowed_tables: Iterable[str],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    database: str | None = None,
) -> str:
    """The Athena SQL to run for `sql` (comments dropped, LIMIT <= max_rows), or UnsafeQueryError."""
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    statement = _parse_single(sql)
    _check_statement_kind(statement)
    _check_nodes(statement)
    _check_tables(statement, {t.lower() for t in allowed_tables}, database)
    return _cap_rows(statement, max_rows).sql(dialect="athena", comments=False)


def _parse_single(sql: str) -> exp.Expr:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    if len(sql) > MAX_SQL_CHARS:
        raise UnsafeQueryError(f"query is longer than {MAX_SQL_CHARS} characters")
    if "\x00" in sql:
        raise UnsafeQueryError("query contains a NUL byte")
    try:
        statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    except (ParseError, TokenError) as exc:
        raise UnsafeQueryError(f"not valid SQL (Athena dialect): {_first_line(exc)}") from exc
    if not statements:
        raise UnsafeQueryError("empty query: write one SELECT statement")
    if len(statements) > 1:
        raise UnsafeQueryError(f"{len(statements)} statements: send exactly one SELECT")
    return statements[0]


def _check_statement_kind(statement: exp.Expr) -> None:
    from sqlglot import exp

    root = statement
    while isinstance(root, exp.Subquery):
        root = root.this
    if not isinstance(root, (exp.Select, exp.SetOperation)):
        if isinstance(root, exp.Command):
            kind = str(root.this).upper()
        elif isinstance(root, (exp.Alias, exp.Column)):  # how sqlglot reads a bare `INSTALL x` / `CHECKPOINT`
            kind = root.sql(dialect="athena").split()[0].upper()
        else:
            kind = type(root).__name__.upper()
        raise UnsafeQueryError(f"only SELECT queries are allowed, not {kind}")


def _denied_node_types() -> tuple[type, ...]:
    from sqlglot import exp

    names = [
        "DDL",
        "DML",
        "Command",
        "Pragma",
        "Set",
        "Copy",
        "Into",
        "Use",
        "Describe",
        "Transaction",
        "Commit",
        "Rollback",
        "Drop",
        "Alter",
        "Attach",
        "Detach",
        "Install",
        "Export",
        "Analyze",
        "Cache",
        "Uncache",
        "Refresh",
        "Kill",
        "Grant",
        "Revoke",
        "Show",
        "LoadData",
        "Lock",
        "Summarize",
        "TruncateTable",
        "Comment",
        "Placeholder",
        "Parameter",
        "SessionParameter",
        "TableFromRows",
    ]
    return tuple(getattr(exp, n) for n in names if hasattr(exp, n))


def _check_nodes(statement: exp.Expr) -> None:
    from sqlglot import exp

    denied = _denied_node_types()
    for node in statement.walk():
        if isinstance(node, denied):
            what = "SELECT … INTO" if isinstance(node, exp.Into) else type(node).__name__.upper()
            raise UnsafeQueryError(f"{what} is not allowed in a read-only query")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
                raise UnsafeQueryError(f"function {name}() is not allowed: it reads files, URLs or engine state")
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
            raise UnsafeQueryError(f"table functions are not allowed ({node.this.sql(dialect='athena')[:60]})")
        if isinstance(node, exp.Lateral) and not isinstance(node.this, (exp.Query, exp.Subquery, exp.Unnest)):
            raise UnsafeQueryError("LATERAL over a function is not allowed")


def _check_tables(statement: exp.Expr, allowed: set[str], database: str | None) -> None:
    from sqlglot import exp

    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    for table in statement.find_all(exp.Table):
        name, db, catalog = table.name.lower(), table.db.lower(), table.catalog.lower()
        shown = table.sql(dialect="athena")
        if not db and name in ctes:
            continue
        if catalog and catalog != GLUE_CATALOG:
            raise UnsafeQueryError(f"table {shown}: only the Glue catalog's tables can be queried")
        if db and (database is None or db != database.lower()):
            raise UnsafeQueryError(f"table {shown}: only tables of the lake's Glue database can be queried")
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise UnsafeQueryError(f"unknown table {shown}; tables you can query: {known}")


def _cap_rows(statement: exp.Expr, max_rows: int) -> exp.Expr:
    """Keep a literal LIMIT <= max_rows; otherwise wrap the query as SELECT * FROM (…) LIMIT max_rows."""
    from sqlglot import exp

    limit = statement.args.get("limit")
    if isinstance(statement, exp.Query) and not statement.args.get("fetch"):
        if limit is None and not statement.args.get("offset"):
            return statement.limit(max_rows, copy=False)
        value = limit.expression if limit is not None else None
        if isinstance(value, exp.Literal) and value.is_int and int(value.name) <= max_rows:
            return statement
    inner = statement.this if isinstance(statement, exp.Subquery) else statement
    return (
        exp.select("*")
        .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("q"))))
        .limit(max_rows)
    )


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
