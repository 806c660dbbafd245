"""`clickstream local up | down | status | logs`: the whole platform on a laptop, no Docker.

Each command parses its options, delegates to `clickstream.local` (mostly `LocalStack`) and
reports; the tables and the after-`up` summary are drawn in `clickstream.commands.local_output`.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from clickstream import constants as c
from clickstream.commands.local_output import new_console, print_resources, print_up, services_table
from clickstream.errors import ClickstreamError

SIMULATE_RATE = c.DEFAULT_SIMULATE_RATE  # `--simulate` without a value

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from clickstream.local.spec import ServiceSpec
    from clickstream.local.stack import LocalStack


@click.group(name="local")
def local() -> None:
    """Run the whole platform on this machine (no Docker), as background processes: an
    AWS-compatible server, a Kafka broker, the collector, the raw archiver, the speed-layer
    consumer, the query API with the live dashboard, Airflow, Prometheus (when installed) and,
    on request, a traffic simulator.

    \b
    State (pids, logs) lives in $CLICKSTREAM_HOME (default ./.clickstream).
    Ports: AWS_ENDPOINT_URL (default http://127.0.0.1:4566, LocalStack's port, so awslocal
    and localstack-client work), CLICKSTREAM_COLLECTOR_PORT (8000), CLICKSTREAM_API_PORT (8001),
    CLICKSTREAM_AIRFLOW_PORT (8080), CLICKSTREAM_PROMETHEUS_PORT (9090).
    """


@local.command()
@click.option(
    "--services",
    metavar="NAMES",
    help="Comma-separated services to start (their dependencies are added): aws, kafka, collector, archiver, "
    "consumer, api, airflow, prometheus, simulator. E.g. `--services aws,kafka` for the infrastructure only.  "
    "[default: all but simulator]",
)
@click.option(
    "--simulate",
    metavar="RATE",
    type=click.FloatRange(min=0, min_open=True),
    is_flag=False,
    flag_value=SIMULATE_RATE,
    default=None,
    help=f"Also start the simulator: live shop traffic into the collector at RATE events/s until stopped.  "
    f"[RATE default: {SIMULATE_RATE:g}]",
)
@click.option(
    "--foreground",
    is_flag=True,
    help="Stay in the foreground: print the URLs, then a live line (events counted, events/s, unhealthy "
    "services) every --interval seconds; Ctrl-C or SIGTERM stops what this command started.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.5),
    default=10.0,
    show_default=True,
    help="Seconds between live lines (--foreground).",
)
@click.option(
    "--transport",
    type=click.Choice(["kinesis", "kafka"]),
    default=None,
    help=f"The stream the app services use (passed as {c.ENV_TRANSPORT}).  [default: ${c.ENV_TRANSPORT} or kinesis]",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=None,
    help="Seconds to wait for each service to be healthy.  [default: 30; airflow 120]",
)
@click.option(
    "--history",
    metavar="DURATION",
    default="0",
    show_default=True,
    help="Once the stack is up, give a lake without history this much past traffic (7d, 36h), backfilled "
    "through its Airflow (`clickstream simulate --history`); a lake that has some is left as it is. `make up` "
    "passes 7d (make up HISTORY=0 skips it).",
)
def up(
    services: str | None,
    simulate: float | None,
    foreground: bool,
    interval: float,
    transport: str | None,
    timeout: float | None,
    history: str,
) -> None:
    """Start the embedded stack (what already runs healthy is left alone); by default in the
    background, with --foreground until Ctrl-C.

    \b
    Services, in dependency order:
      aws         moto server on AWS_ENDPOINT_URL's port; if LocalStack or another moto
                  already answers there, that one is used instead (and never stopped)
      kafka       librdkafka's mock cluster (random port, written to $CLICKSTREAM_HOME/kafka.json)
      collector   `clickstream collector serve` on CLICKSTREAM_COLLECTOR_PORT
      archiver    `clickstream archive run`: stream -> S3 raw/ (NDJSON.gz)
      consumer    `clickstream consume`: stream -> DynamoDB realtime counters (speed layer)
      api         `clickstream api serve` on CLICKSTREAM_API_PORT: query API + live dashboard
      airflow     the batch layer's DAGs (api-server, scheduler, dag-processor) and UI
      prometheus  scrapes the API's /metrics (only when a prometheus binary is installed)
      simulator   `clickstream simulate --forever` into the collector (only with --simulate
                  or when named in --services)
    After the AWS server is healthy, the stream, bucket, tables, queue and Glue database are
    provisioned (idempotent). A recorded service that died is restarted; one whose settings
    changed is restarted with the new ones. On failure the service's log tail is printed and
    whatever this command started is stopped again.

    \b
    Examples:
      clickstream local up                               all but the simulator, in the background
      clickstream local up --simulate --foreground       what `make up` runs: live traffic until Ctrl-C
      clickstream local up --services api,simulator --simulate 50 --foreground
    """
    from clickstream.local.services import SERVICES, default_names, parse_services, with_simulate_rate

    console = new_console()
    names = parse_services(services)
    if simulate is not None:
        names = tuple(dict.fromkeys([*(names if names is not None else default_names(SERVICES)), "simulator"]))
    rate = (simulate or SIMULATE_RATE) if names is not None and "simulator" in names else None
    try:
        specs = with_simulate_rate(SERVICES, rate) if rate is not None else SERVICES
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    stack = _stack(console, specs)
    try:
        duration = _history_duration(history, names)
    except ClickstreamError as exc:
        raise click.BadParameter(str(exc), param_hint="--history") from exc
    if foreground:
        _up_foreground(
            console, stack, names, transport=transport, timeout=timeout, interval=interval, rate=rate, history=duration
        )
        return
    try:
        report = stack.up(names, transport=transport, timeout=timeout)
        _load_history(console, duration)
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    print_up(console, stack, report, rate=rate)
    console.print("Stop it with: clickstream local down   (--purge also deletes the state folder)")


def _up_foreground(
    console: Console,
    stack: LocalStack,
    names: tuple[str, ...] | None,
    *,
    transport: str | None,
    timeout: float | None,
    interval: float,
    rate: float | None,
    history: timedelta | None = None,
) -> None:
    """`up`, then live lines until SIGINT/SIGTERM/SIGHUP, then stop exactly what this `up` started."""
    from clickstream.local.live import watch

    # Ctrl-C, `kill` or a closed terminal all stop cleanly; SIGINT too when started with it
    # ignored (a background job of a script), as Python then leaves it ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_keyboard_interrupt)
    try:
        report = stack.up(names, transport=transport, timeout=timeout)  # rolls back itself when interrupted
    except KeyboardInterrupt:
        raise click.ClickException("interrupted while starting; stopped what had been started") from None
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    started = [o.name for o in report.services if o.action in ("started", "restarted")]
    kept = [o.name for o in report.services if o.name not in started]
    try:
        _load_history(console, history)
    except (KeyboardInterrupt, ClickstreamError) as exc:
        stack.down(only=started)
        why = str(exc) if isinstance(exc, ClickstreamError) else "interrupted"
        raise click.ClickException(f"history: {why}; stopped what this command started") from None
    print_up(console, stack, report, rate=rate)
    console.print(
        f"Running in the foreground, a line every {interval:g} s. Ctrl-C stops what this command started"
        + (f" (not {', '.join(kept)}: already running before)." if kept else ".")
    )
    with contextlib.suppress(KeyboardInterrupt):  # the way out: Ctrl-C, or SIGTERM/SIGHUP raising it
        watch(stack, echo=lambda line: console.print(line, markup=False), interval=interval)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C must not leave orphans
        signal.signal(sig, signal.SIG_IGN)
    console.print("\nstopping what this command started ...")
    try:
        down = stack.down(only=started)
    except ClickstreamError as exc:
        raise click.ClickException(f"{exc}; run `clickstream local down` to stop the rest") from exc
    console.print(f"stopped {len(down.stopped)} service(s)")
    if kept:
        console.print(f"left running (started before): {', '.join(kept)}; stop them with `clickstream local down`")


def _history_duration(text: str, names: tuple[str, ...] | None) -> timedelta | None:
    """--history as a duration (None for 0); it needs the airflow service, which runs the backfill."""
    from clickstream.errors import ConfigError
    from clickstream.simulate.history import parse_duration

    duration = parse_duration(text)
    if duration.total_seconds() <= 0:
        return None
    if names is not None and "airflow" not in names:
        raise ConfigError("the history is backfilled through Airflow: add airflow to --services, or pass --history 0")
    return duration


def _load_history(console: Console, duration: timedelta | None) -> None:
    """`clickstream simulate --history` into a lake that has none yet."""
    if duration is None:
        return
    import secrets

    from clickstream.adapters.dynamodb.history import any_history
    from clickstream.local.history import load_history
    from clickstream.settings import Settings
    from clickstream.simulate.history import HistoryConfig

    settings = Settings.from_env()
    if any_history(settings):
        console.print("history: the lake already holds simulated history; left as it is")
        return
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    config = HistoryConfig(end=end, duration=duration, seed=secrets.randbelow(2**31))
    say = lambda message: console.print(message, markup=False)  # noqa: E731
    load_history(settings, config, say)


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@local.command()
@click.option("--purge", is_flag=True, help="Also delete the state folder ($CLICKSTREAM_HOME: logs, state).")
def down(purge: bool) -> None:
    """Stop what `clickstream local up` started, and nothing else.

    Each recorded process group gets SIGTERM, then SIGKILL if it has not exited after 10 s.
    A recorded pid that now belongs to another process is left alone. A LocalStack or moto
    server that was already running before `up` is left running.
    """
    console = new_console()
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
    console = new_console()
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
        console.print(services_table(statuses))
        if resources:
            print_resources(console, resources)
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
    """Print the log of SERVICE (aws, kafka, collector, archiver, consumer, api, airflow, prometheus,
    simulator)."""
    from clickstream.local.processes import tail

    stack = _stack(new_console())
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


# --- helpers ------------------------------------------------------------------------------------


def _stack(console: Console, specs: Sequence[ServiceSpec] | None = None) -> LocalStack:
    from clickstream.local.stack import LocalStack
    from clickstream.settings import Settings

    try:
        settings = Settings.from_env()
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc

    def notify(message: str) -> None:
        console.print(message, markup=False)

    return LocalStack(settings, notify=notify) if specs is None else LocalStack(settings, specs=specs, notify=notify)
