"""`clickstream api serve`: the query API and dashboard on uvicorn."""

from __future__ import annotations

import click

from clickstream import constants as c
from clickstream.errors import ConfigError
from clickstream.settings import Settings


@click.group(name="api")
def api() -> None:
    """The query API (read key) and the live dashboard.

    \b
    Routes:  GET /v1/stats  /v1/metrics/{metric}  /v1/analytics/page-views/{page}  /v1/export
             POST /v1/query  POST /graphql  GET /metrics (Prometheus)  GET /v1/stream (SSE)
             GET / (dashboard)  /docs (OpenAPI)
    Clients send the read key (CLICKSTREAM_READ_KEY) as X-API-Key or Authorization: Bearer.
    """


@api.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to bind (0.0.0.0 for all)")
@click.option("--port", type=int, default=None, help=f"port [default: ${c.ENV_API_PORT} or {c.DEFAULT_API_PORT}]")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="worker processes")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="log every request")
def serve(host: str, port: int | None, workers: int, access_log: bool) -> None:
    """Serve the API until Ctrl-C (tables, bucket, endpoints from the environment).

    \b
    Example:
      curl -H 'X-API-Key: local-read-key' http://127.0.0.1:8001/v1/stats
    """
    import uvicorn

    from clickstream.api.auth import check_settings

    try:
        settings = Settings.from_env()
        check_settings(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    port = settings.api_port if port is None else port
    url = f"http://{host}:{port}"
    click.echo(f"query API: {url}/v1/stats  (engine: {settings.query_engine})")
    # The key rides in the URL fragment: the browser never sends it to the server or to logs.
    key = settings.read_key if settings.is_local else "<read key>"
    click.echo(f"dashboard: {url}/#key={key}   docs: {url}/docs")
    uvicorn.run(
        "clickstream.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
    )
