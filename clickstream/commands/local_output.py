"""How the `clickstream local` commands draw to the terminal: the services table, the resources
table and, after `up`, where to go (dashboard, query and collector APIs with their docs, Airflow,
Prometheus, endpoints, logs).

rich is imported inside the functions, as in the other commands: every `clickstream` run imports
this module, and most never draw a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clickstream import constants as c

if TYPE_CHECKING:
    from rich.console import Console

    from clickstream.local.stack import LocalStack, UpReport
    from clickstream.local.stack_status import ServiceStatus


def new_console() -> Console:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 200  # piped or captured: do not fold paths at rich's default of 80 columns
    return console


def print_up(console: Console, stack: LocalStack, report: UpReport, *, rate: float | None = None) -> None:
    """The services table, then where to go: dashboard, APIs and their docs, Airflow, endpoints."""
    console.print(services_table(stack.status()))
    rows = []
    if dashboard := report.url("api"):
        api = dashboard.split("#", 1)[0].rstrip("/")
        key = stack.settings.read_key or "$CLICKSTREAM_READ_KEY"
        rows += [
            ("dashboard", dashboard),
            ("query API", f"{api}/v1/stats  (header X-API-Key: {key}); /graphql, /metrics"),
            ("query API docs", f"{api}/docs"),
        ]
    if collector := report.url("collector"):
        rows += [
            ("collector", f"{collector}/v1/events  (POST; /v1/track for one event)"),
            ("collector docs", f"{collector}/docs"),
        ]
    if airflow := report.url("airflow"):
        rows.append(("Airflow", f"{airflow}  (the batch layer's DAGs)"))
    if prometheus := report.url("prometheus"):
        rows.append(("Prometheus", prometheus))
    if rate is not None and report.url("collector") is not None:
        rows.append(("simulator", f"{rate:g} events/s into the collector  (clickstream local logs simulator -f)"))
    if aws := report.url("aws"):
        rows.append(("AWS endpoint", f"{c.ENV_ENDPOINT}={aws}  (boto3, aws --endpoint-url, awslocal)"))
    if kafka := report.url("kafka"):
        rows.append(("Kafka", f"{c.ENV_KAFKA_BOOTSTRAP}={kafka}"))
    rows.append(("logs", f"clickstream local logs <service> [-f]   ({stack.home / 'logs'})"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        console.print(f"  {name:<{width}}  {value}", markup=False)


def services_table(statuses: list[ServiceStatus]) -> Any:
    from rich.table import Table

    table = Table(title="clickstream local stack", title_justify="left")
    for column in ("service", "pid", "port / URL", "healthy", "uptime", "restarts", "log"):
        table.add_column(column, overflow="fold")
    for s in statuses:
        healthy = "[green]yes[/]" if s.healthy else f"[red]no[/] ({s.detail})"
        pid = str(s.pid) if s.pid else (s.external or "-")
        uptime = _duration(s.uptime_seconds) if s.uptime_seconds is not None else "-"
        restarts = "-" if s.restarts is None else str(s.restarts)
        if s.last_error:
            restarts += f" (last: {s.last_error[:100]})"
        table.add_row(s.name, pid, s.url or (str(s.port) if s.port else "-"), healthy, uptime, restarts, s.log or "-")
    return table


def print_resources(console: Console, res: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="resources", title_justify="left")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("contents")
    missing = "[red]missing[/]"
    stream, bucket, glue = res.get("stream"), res.get("bucket"), res.get("glue_database")
    table.add_row(
        "Kinesis stream", stream["name"] if stream else "?", f"{stream['shards']} shards" if stream else missing
    )
    table.add_row("S3 bucket", bucket["name"] if bucket else "?", f"{bucket['objects']} objects" if bucket else missing)
    for t in res.get("tables", []):
        table.add_row("DynamoDB table", t["name"], missing if t["items"] is None else f"{t['items']} items")
    for q in res.get("queues", []):
        table.add_row("SQS queue", q["name"], missing if q["messages"] is None else f"{q['messages']} messages")
    table.add_row("Glue database", glue["name"] if glue else "?", f"{glue['tables']} tables" if glue else missing)
    console.print(table)


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
