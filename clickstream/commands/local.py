"""`clickstream local up | down | status | logs`: the whole platform on a laptop, no Docker."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from clickstream import constants as c
from clickstream.errors import ClickstreamError

if TYPE_CHECKING:
    from rich.console import Console

    from clickstream.local.stack import LocalStack, ServiceStatus, UpReport


@click.group(name="local")
def local() -> None:
    """Run the whole platform on this machine (no Docker): an AWS-compatible server, a Kafka
    broker, the collector and the raw archiver, as background processes.

    \b
    State (pids, logs) lives in $CLICKSTREAM_HOME (default ./.clickstream).
    Ports: AWS_ENDPOINT_URL (default http://127.0.0.1:4566, LocalStack's port, so awslocal
    and localstack-client work), CLICKSTREAM_COLLECTOR_PORT (default 8000).
    """


@local.command()
@click.option(
    "--services",
    metavar="NAMES",
    help="Comma-separated services to start (their dependencies are added): aws, kafka, collector, "
    "archiver. E.g. `--services aws,kafka` for the infrastructure only.  [default: all]",
)
@click.option(
    "--transport",
    type=click.Choice(["kinesis", "kafka"]),
    default=None,
    help=f"The stream the collector and archiver use (passed as {c.ENV_TRANSPORT}).  [default: ${c.ENV_TRANSPORT} or kinesis]",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=None,
    help="Seconds to wait for each service to be healthy.  [default: 30]",
)
def up(services: str | None, transport: str | None, timeout: float | None) -> None:
    """Start the embedded stack in the background (what already runs healthy is left alone).

    \b
    Services, in dependency order:
      aws        moto server on AWS_ENDPOINT_URL's port; if LocalStack or another moto
                 already answers there, that one is used instead (and never stopped)
      kafka      librdkafka's mock cluster (random port, written to $CLICKSTREAM_HOME/kafka.json)
      collector  `clickstream collector serve` on CLICKSTREAM_COLLECTOR_PORT
      archiver   `clickstream archive run`
    After the AWS server is healthy, the stream, bucket, tables, queue and Glue database are
    provisioned (idempotent). A recorded service that died is restarted; one whose settings
    changed is restarted with the new ones. On failure the service's log tail is printed and
    whatever this command started is stopped again.
    """
    from clickstream.local.services import parse_services

    console = _console()
    stack = _stack(console)
    try:
        report = stack.up(parse_services(services), transport=transport, timeout=timeout)
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_up(console, stack, report)


@local.command()
@click.option("--purge", is_flag=True, help="Also delete the state folder ($CLICKSTREAM_HOME: logs, state).")
def down(purge: bool) -> None:
    """Stop what `clickstream local up` started, and nothing else.

    Each recorded process group gets SIGTERM, then SIGKILL if it has not exited after 10 s.
    A recorded pid that now belongs to another process is left alone. A LocalStack or moto
    server that was already running before `up` is left running.
    """
    console = _console()
    stack = _stack(console)
    try:
        report = stack.down(purge=purge)
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    if not report.stopped and not report.left_running:
        console.print("nothing was running")
    if purge:
        console.print(f"removed {stack.home}")


@local.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (services and resources).")
def status(as_json: bool) -> None:
    """Show each recorded service (pid, address, health, uptime, log) and the resources
    (stream shards, bucket objects, table items) when the AWS server is up.

    Exits with status 1 when a recorded service is not healthy.
    """
    console = _console()
    stack = _stack(console)
    try:
        statuses = stack.status()
        resources = stack.resources(statuses)
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        doc = {"home": str(stack.home), "services": [s.to_dict() for s in statuses], "resources": resources}
        click.echo(json.dumps(doc, indent=2))
    elif not statuses:
        console.print(f"nothing is running (state: {stack.home}); start it with `clickstream local up`")
    else:
        console.print(_services_table(statuses))
        if resources:
            _print_resources(console, resources)
    if any(not s.healthy for s in statuses):
        sys.exit(1)


@local.command()
def provision() -> None:
    """Create or update every resource (stream, tables, bucket, queue, Glue database) on the
    AWS endpoint in AWS_ENDPOINT_URL, from the same definitions the CDK app uses. Idempotent.

    \b
    The embedded stack runs this on every `up`; docker-compose.localstack.yml runs it once
    against LocalStack.
    """
    from clickstream.local.provision import provision as run_provision
    from clickstream.settings import Settings

    try:
        settings = Settings.from_env()
        report = run_provision(settings)
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"stack {report.stack}: {report.stack_action}; "
        f"glue database {settings.names.glue_database}: {'created' if report.glue_database_created else 'present'} "
        f"(endpoint {settings.endpoint_url or 'AWS'})"
    )


@local.command()
@click.argument("service")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=50, show_default=True, help="Lines to show first.")
def logs(service: str, follow: bool, lines: int) -> None:
    """Print the log of SERVICE (aws, kafka, collector, archiver)."""
    from clickstream.local.processes import tail

    stack = _stack(_console())
    path = stack.log_path(service)
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.log"))
        raise click.ClickException(f"no log for {service!r} in {path.parent} (logs: {', '.join(known) or 'none'})")
    for line in tail(path, lines) if lines else []:
        click.echo(line)
    if follow:
        _follow(path)


def _follow(path: Path) -> None:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        try:
            while True:
                chunk = fh.read()
                if chunk:
                    sys.stdout.write(chunk.decode("utf-8", "replace"))
                    sys.stdout.flush()
                else:
                    time.sleep(0.25)
        except KeyboardInterrupt:
            pass


# --- output -------------------------------------------------------------------------------------


def _console() -> Console:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 200  # piped or captured: do not fold paths at rich's default of 80 columns
    return console


def _stack(console: Console) -> LocalStack:
    from clickstream.local.stack import LocalStack
    from clickstream.settings import Settings

    try:
        settings = Settings.from_env()
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    return LocalStack(settings, notify=lambda message: console.print(message, markup=False))


def _print_up(console: Console, stack: LocalStack, report: UpReport) -> None:
    console.print(_services_table(stack.status()))
    rows = []
    if collector := report.url("collector"):
        rows += [
            ("collector", f"{collector}/v1/events  (POST; /v1/track for one event)"),
            ("API docs", f"{collector}/docs"),
        ]
    if aws := report.url("aws"):
        rows.append(("AWS endpoint", f"{c.ENV_ENDPOINT}={aws}  (boto3, aws --endpoint-url, awslocal)"))
    if kafka := report.url("kafka"):
        rows.append(("Kafka", f"{c.ENV_KAFKA_BOOTSTRAP}={kafka}"))
    rows.append(("logs", f"clickstream local logs <service> [-f]   ({stack.home / 'logs'})"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        console.print(f"  {name:<{width}}  {value}", markup=False)
    console.print("Stop it with: clickstream local down   (--purge also deletes the state folder)")


def _services_table(statuses: list[ServiceStatus]) -> Any:
    from rich.table import Table

    table = Table(title="clickstream local stack", title_justify="left")
    for column in ("service", "pid", "port / URL", "healthy", "uptime", "log"):
        table.add_column(column, overflow="fold")
    for s in statuses:
        healthy = "[green]yes[/]" if s.healthy else f"[red]no[/] ({s.detail})"
        pid = str(s.pid) if s.pid else (s.external or "-")
        uptime = _duration(s.uptime_seconds) if s.uptime_seconds is not None else "-"
        table.add_row(s.name, pid, s.url or (str(s.port) if s.port else "-"), healthy, uptime, s.log or "-")
    return table


def _print_resources(console: Console, res: dict[str, Any]) -> None:
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
