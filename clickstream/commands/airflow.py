"""`clickstream airflow serve | status | run | env | cli`: the batch layer's Airflow on a laptop."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from clickstream import constants as c
from clickstream.errors import ClickstreamError


@click.group(name="airflow")
def airflow() -> None:
    """Airflow for the batch layer (DAGs in the repo's dags/), local: SQLite in
    $CLICKSTREAM_HOME/airflow, UI on http://127.0.0.1:$CLICKSTREAM_AIRFLOW_PORT (default 8080).

    \b
    In the background with the rest of the stack:  clickstream local up   (service "airflow")
    In the foreground (Ctrl-C stops it):            clickstream airflow serve   (make airflow)
    Airflow's own CLI against it, e.g. a backfill:  clickstream airflow cli backfill create ...
    """


@airflow.command()
@click.option("--port", type=click.IntRange(1, 65535), help="[default: $CLICKSTREAM_AIRFLOW_PORT or 8080]")
def serve(port: int | None) -> None:
    """Run api-server + scheduler + dag-processor until Ctrl-C or SIGTERM, then stop all of them.

    The SQLite DB is migrated on the first start. Tasks reach the AWS endpoint in
    AWS_ENDPOINT_URL (also the `aws_default` connection).
    """
    from clickstream.local.airflow import serve as run_serve
    from clickstream.settings import Settings

    try:
        code = run_serve(Settings.from_env(), port=port, notify=lambda m: click.echo(m, err=True))
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(code)


@airflow.command()
@click.option("--port", type=click.IntRange(1, 65535), help="[default: $CLICKSTREAM_AIRFLOW_PORT or 8080]")
def status(port: int | None) -> None:
    """Health of the running Airflow's components (exit 1 unless all are healthy)."""
    from clickstream.local.airflow import airflow_url, health, is_healthy
    from clickstream.settings import Settings

    url = airflow_url(Settings.from_env(), port)
    got = health(url)
    click.echo(json.dumps({"url": url, "components": got}, indent=2))
    sys.exit(0 if is_healthy(got) else 1)


@airflow.command()
def env() -> None:
    """Print the Airflow environment as `export` lines: eval "$(clickstream airflow env)"."""
    import shlex

    from clickstream.local.airflow import airflow_env
    from clickstream.settings import Settings

    for key, value in sorted(airflow_env(Settings.from_env()).items()):
        click.echo(f"export {key}={shlex.quote(value)}")


@airflow.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def cli(args: tuple[str, ...]) -> None:
    """Run Airflow's CLI with the local configuration, e.g.

    \b
      clickstream airflow cli dags list
      clickstream airflow cli backfill create --dag-id compact_raw_events \\
          --from-date 2026-11-20T00:00:00+00:00 --to-date 2026-11-20T05:00:00+00:00
    """
    from clickstream.local.airflow import airflow_command, prepared_env
    from clickstream.settings import Settings

    try:
        env = prepared_env(Settings.from_env())
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    command = airflow_command(*args)
    os.execvpe(command[0], command, env)


def _utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@airflow.command()
@click.option("--start", required=True, help="First hour (ISO, UTC), e.g. 2026-11-22T10:00:00Z.")
@click.option("--end", required=True, help="End hour, exclusive (ISO, UTC).")
@click.option(
    "--airflow-home", type=click.Path(file_okay=False, path_type=Path), help="[default: $CLICKSTREAM_HOME/airflow]"
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON line.")
def run(start: str, end: str, airflow_home: Path | None, as_json: bool) -> None:
    """Run the batch DAGs in this process with `dag.test()` (no scheduler): compact_raw_events
    for every hour of [START, END), then batch_metrics and reconcile_speed_batch once over the
    days covered. Prints the seconds each took. Do not point it at the AIRFLOW_HOME of a running
    scheduler (SQLite): use --airflow-home.
    """
    from clickstream.local.airflow import prepared_env, run_dags_here
    from clickstream.settings import Settings

    try:
        first, last = _utc(start), _utc(end)
        os.environ.update(prepared_env(Settings.from_env(), home=airflow_home and airflow_home.resolve()))
        # the DAG's start_date: Airflow creates no task for a logical date before it
        os.environ[c.ENV_BATCH_START] = first.replace(minute=0, second=0, microsecond=0).isoformat()
        report = run_dags_here(first, last)  # imports Airflow: after the environment is set
    except (ClickstreamError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report) if as_json else json.dumps(report, indent=2))
