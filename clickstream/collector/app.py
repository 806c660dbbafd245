"""The collector's ASGI front end (FastAPI): raw bytes in, `CollectorService.handle`, JSON out.

    uvicorn --factory clickstream.collector.app:app_from_env

No pydantic parsing on the hot path: each route reads the body itself (stopping one byte past
the request limit) and hands it to the service, which runs in the thread pool because the
stream write blocks. Dependencies are built once, on first use, never at import time.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from clickstream import __version__
from clickstream.collector import openapi
from clickstream.collector.responses import CollectorResponse
from clickstream.collector.service import HEALTH_ROUTE, INGEST_ROUTES, PROTOCOL_ROUTES, CollectorService

T = TypeVar("T")
_DESCRIPTION = (
    "Send clickstream events: `POST /v1/events` (a batch of up to 500 events, 500 KB) or `POST /v1/track` "
    "(one event). Authenticate with the write key (`X-Write-Key`, `Authorization: Bearer`, or HTTP Basic "
    "username). Bodies are JSON (`application/json` or `text/plain`), optionally gzip-compressed. "
    "`/events` and `/track` are the legacy routes of older clickstream clients."
)
_SUMMARIES = {
    "/v1/events": ("Send a batch of events", "EventBatch"),
    "/v1/track": ("Send one event (timestamp defaults to receive time)", "Event"),
    "/events": ('Legacy batch route (`{"records": [...]}`)', "EventBatch"),
    "/track": ("Legacy single-event route", "Event"),
}


class Lazy(Generic[T]):
    """A value built by `factory` on first call, once, even when many threads ask at the same time."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._lock = threading.Lock()

    def __call__(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    value = self._value = self._factory()
        return value

    @property
    def built(self) -> T | None:
        return self._value


def create_app(service_factory: Callable[[], CollectorService]) -> FastAPI:
    """The collector app; `service_factory` runs once, on the first request that needs it."""
    deps = Lazy(service_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service = deps.built
        if service is not None:
            await run_in_threadpool(service.writer.close)  # Kafka: deliver what is still queued

    app = FastAPI(title="clickstream collector", version=__version__, description=_DESCRIPTION, lifespan=lifespan)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        # Routing errors (404/405) in the collector's own error shape.
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = CollectorResponse(exc.status_code, {"error": code, "message": f"{exc.detail}: {request.url.path}"})
        return _to_response(body, dict(exc.headers or {}))

    @app.get(HEALTH_ROUTE, response_model=openapi.HealthResponse, summary="Liveness (no write key)")
    async def healthz() -> Response:
        return _to_response(CollectorResponse(200, {"status": "ok"}))

    for path in INGEST_ROUTES:
        summary, schema = _SUMMARIES[path]
        app.add_api_route(
            path,
            _ingest_endpoint(path, deps),
            methods=["POST"],
            summary=summary,
            response_model=None,
            responses=openapi.INGEST_RESPONSES,
            openapi_extra=openapi.ingest_openapi_extra(schema),
            tags=["legacy" if not path.startswith("/v1/") else "ingest"],
        )
    for path, route in PROTOCOL_ROUTES.items():
        # Segment's and Snowplow's own protocols (docs/SDKS.md), not part of this API's schema.
        app.add_api_route(path, _ingest_endpoint(path, deps), methods=list(route.methods), include_in_schema=False)
    openapi.install_openapi(app)
    return app


def app_from_env() -> FastAPI:
    """The app wired from environment settings (uvicorn `--factory` target)."""
    from clickstream.collector.deps import service_from_env

    return create_app(service_from_env)


def _ingest_endpoint(path: str, deps: Lazy[CollectorService]) -> Callable[[Request], Awaitable[Response]]:
    async def ingest(request: Request) -> Response:
        service = deps.built
        if service is None:  # first request: build the clients off the event loop
            service = await run_in_threadpool(deps)
        body = await _read_body(request, service.limits.max_request_bytes)
        query = request.scope["query_string"].decode("latin-1")
        result = await run_in_threadpool(
            service.handle, path, request.headers, body, method=request.method, query=query
        )
        return _to_response(result)

    ingest.__name__ = "ingest_" + path.strip("/").replace("/", "_")
    return ingest


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The body, or its first `max_bytes + 1` bytes (enough for the service to answer 413)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            break
    return b"".join(chunks)


def _to_response(result: CollectorResponse, extra_headers: dict[str, str] | None = None) -> Response:
    headers = {**result.headers, **(extra_headers or {})}
    return Response(result.json(), status_code=result.status, headers=headers, media_type="application/json")
