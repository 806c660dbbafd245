"""`clickstream collector serve`: the HTTP collector on uvicorn."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from clickstream import constants as c
from clickstream.errors import ConfigError
from clickstream.settings import TRANSPORTS, Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from clickstream.collector.service import CollectorService


@click.group(name="collector")
def collector() -> None:
    """The HTTP collector: receives events, validates them, writes them to the stream.

    \b
    Routes:  POST /v1/events (batch)   POST /v1/track (one event)
             POST /events, /track (legacy clients)   GET /healthz
    Clients send the write key (CLICKSTREAM_WRITE_KEY) in the X-Write-Key header.
    """


@collector.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to bind (0.0.0.0 for all)")
@click.option(
    "--port", type=int, default=None, help=f"port [default: ${c.ENV_COLLECTOR_PORT} or {c.DEFAULT_COLLECTOR_PORT}]"
)
@click.option(
    "--transport",
    type=click.Choice(TRANSPORTS),
    default=None,
    help=f"where accepted events go [default: ${c.ENV_TRANSPORT} or kinesis]",
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="worker processes")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="log every request")
@click.option("--null-sink", is_flag=True, help="benchmarking only: accept and drop events, to show where time goes")
def serve(host: str, port: int | None, transport: str | None, workers: int, access_log: bool, null_sink: bool) -> None:
    """Serve the collector until Ctrl-C.

    \b
    Stream, bucket and endpoints come from the environment (AWS_ENDPOINT_URL, CLICKSTREAM_*);
    start the embedded stack first (`clickstream local up`) or point them at AWS.
    Example:
      curl -H 'X-Write-Key: local-write-key' -H 'Content-Type: application/json' \\
           -d '{"event_type":"page_view","user_id":"u1"}' http://127.0.0.1:8000/v1/track
    """
    import uvicorn

    if transport:
        # Workers are separate processes that build their settings from the environment.
        os.environ[c.ENV_TRANSPORT] = transport
    try:
        settings = Settings.from_env()
        if settings.transport == "kafka":
            settings.require_kafka()
        if not settings.write_key:
            raise ConfigError(f"no write key: set {c.ENV_WRITE_KEY}")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    port = settings.collector_port if port is None else port
    url = f"http://{host}:{port}"
    sink = "none: --null-sink drops every event" if null_sink else settings.transport
    click.echo(f"collector: {url}/v1/events  (transport: {sink})")
    click.echo(f"docs:      {url}/docs")
    uvicorn.run(
        "clickstream.commands.collector:null_sink_app" if null_sink else "clickstream.collector.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
    )


def null_sink_app() -> FastAPI:
    """`app_from_env` with the stream writer swapped for NullWriter (`serve --null-sink`, benchmarks only)."""
    from clickstream.adapters.streams import NullWriter
    from clickstream.collector.app import create_app
    from clickstream.collector.deps import service_from_env

    def service() -> CollectorService:
        built = service_from_env()
        built.writer = NullWriter()
        return built

    return create_app(service)
