"""`clickstream query`: read-only Athena SQL over the lake, locally (DuckDB) or on Athena."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("table", "csv", "json", "parquet")
DEFAULT_MAX_ROWS = 1000


@click.command(name="query")
@click.argument("sql", required=False)
@click.option(
    "-f",
    "--file",
    "sql_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the SQL from a file.",
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Fill a {{ NAME }} placeholder (dates YYYY-MM-DD, integers, identifiers). Repeatable.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout."
)
@click.option("--explain", is_flag=True, help="Print the engine's plan (DuckDB locally, Athena EXPLAIN) instead.")
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_ROWS,
    show_default=True,
    help="Row cap (a LIMIT is added or lowered).",
)
@click.option(
    "--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=300.0, show_default=True, help="Seconds."
)
@click.option(
    "--engine",
    type=click.Choice(("local", "athena")),
    help="Override CLICKSTREAM_QUERY_ENGINE (default: local on stage local, athena otherwise).",
)
def query(
    sql: str | None,
    sql_file: Path | None,
    params: tuple[str, ...],
    fmt: str,
    output: Path | None,
    explain: bool,
    max_rows: int,
    timeout_s: float,
    engine: str | None,
) -> None:
    """Run one read-only SELECT (Athena dialect) over the lake's Glue tables.

    \b
    Tables: raw_events (raw NDJSON, arrival dt/hour), events (curated Parquet, event-time dt/hour;
    the event timestamp is the column event_time) and metric_<name> (batch metrics, dt). dt and hour
    are strings: filter with dt = '2026-11-22', hour = '07'.

    \b
    Examples:
      clickstream query "SELECT event_type, count(*) AS n FROM events WHERE dt = '2026-11-22' GROUP BY 1"
      clickstream query -f sql/metrics/daily_kpis.sql -p start_dt=2026-11-21 -p end_dt=2026-11-22
      clickstream query "SELECT * FROM events" --format parquet -o events.parquet --max-rows 100000
      clickstream query --explain "SELECT count(*) FROM events WHERE dt >= '2026-11-01'"

    Only SELECT / WITH … SELECT (and UNION etc.) over the database's tables is accepted.
    """
    from dataclasses import replace

    from clickstream.adapters.query import query_engine
    from clickstream.errors import ClickstreamError
    from clickstream.settings import Settings
    from clickstream.sqlguard import check_read_only

    text = _sql_text(sql, sql_file, params)
    if fmt == "parquet" and output is None and not explain:
        raise click.UsageError("--format parquet needs --output FILE")
    try:
        settings = Settings.from_env()
        if engine:
            settings = replace(settings, query_engine=engine)  # type: ignore[arg-type]
        runner = query_engine(settings)
        try:
            safe = check_read_only(text, runner.tables(), max_rows=max_rows, database=settings.names.glue_database)
            if explain:
                _emit_text(runner.explain(safe), output)
                return
            started = time.monotonic()
            result = runner.execute(safe, max_rows=max_rows, timeout_s=timeout_s)
            elapsed = time.monotonic() - started
        finally:
            runner.close()
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    write_result(result, fmt, output)
    if fmt == "table" or output is not None:
        capped = " (row cap reached: raise --max-rows)" if result.num_rows >= max_rows else ""
        click.echo(f"{result.num_rows} row(s) in {elapsed:.2f} s on {settings.query_engine}{capped}", err=True)


def _sql_text(sql: str | None, sql_file: Path | None, params: tuple[str, ...]) -> str:
    from clickstream.errors import ClickstreamError
    from clickstream.sqlfiles import render

    if (sql is None) == (sql_file is None):
        raise click.UsageError('give the SQL as an argument or with --file (one of them), e.g. "SELECT 1"')
    text = sql_file.read_text(encoding="utf-8") if sql_file else str(sql)
    if text.strip() == "-":
        text = sys.stdin.read()
    values: dict[str, str] = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="--param")
        values[name.strip()] = value.strip()
    try:
        return render(text, values)
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc


def write_result(table: pa.Table, fmt: str, output: Path | None) -> None:
    """Write `table` as a rich table, CSV, JSON (one array of objects) or Parquet."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert output is not None
        pq.write_table(table, output, compression="zstd")
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        _emit_bytes(buf.getvalue(), output)
    elif fmt == "json":
        text = json.dumps(table.to_pylist(), default=_json_default, ensure_ascii=False, indent=2)
        _emit_text(text + "\n", output)
    else:
        _print_table(table, output)


def _print_table(table: pa.Table, output: Path | None) -> None:
    import pyarrow as pa
    from rich.console import Console
    from rich.table import Table

    view = Table(show_lines=False, header_style="bold")
    for field in table.schema:
        is_num = pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(field.type)
        view.add_column(field.name, justify="right" if is_num else "left")
    for row in table.to_pylist():
        view.add_row(*("∅" if v is None else str(v) for v in row.values()))
    if output is None:
        Console().print(view)
    else:
        with output.open("w", encoding="utf-8") as f:
            Console(file=f, width=200).print(view)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _emit_text(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")


def _emit_bytes(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)
