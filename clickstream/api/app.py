"""The query API's ASGI app (FastAPI), one family with the collector: the same error shape, lazy
dependencies, and a Lambda adapter (`lambdas/api/handler.py`).

    uvicorn --factory clickstream.api.app:app_from_env      # or: clickstream api serve

Every route but /healthz, the docs and the dashboard's `/` and `/static` needs the read key.
Handlers are plain `def` where they block (boto3, pyarrow): FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from clickstream import __version__
from clickstream.adapters.aws_errors import error_code
from clickstream.api import models, prometheus, stream
from clickstream.api.auth import authorize, check_settings
from clickstream.api.deps import ApiDeps
from clickstream.api.errors import ApiError
from clickstream.api.export import CONTENT_TYPES
from clickstream.api.exports import ExportJobs
from clickstream.api.lambda_asgi import BUFFERED
from clickstream.api.recent import MAX_RECENT
from clickstream.api.service import ApiService
from clickstream.api.sql import run_query
from clickstream.errors import ClickstreamError, ConfigError, RetryableError
from clickstream.settings import Settings

_DESCRIPTION = (
    "Read clickstream metrics: totals, time series (batch values for closed windows, speed values after), "
    "page views, exports, read-only SQL, GraphQL (`POST /graphql`), Prometheus (`/metrics`) and a live "
    "event stream. Authenticate with the read key: `X-API-Key: <key>` or `Authorization: Bearer <key>`; "
    "the collector's write key is not accepted."
)
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": models.ErrorResponse, "description": "a bad parameter; `message` says which and why"},
    401: {"model": models.ErrorResponse, "description": "no read key, or not the read key"},
    503: {"model": models.ErrorResponse, "description": "a store is unavailable; retry later"},
}
# Routes with a path parameter: a value the router cannot match (a line break) is a 404, not a 400.
_PATH_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    404: {"model": models.ErrorResponse, "description": "no such route: the path parameter cannot be matched"},
}
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the read key")
_bearer = HTTPBearer(auto_error=False, description="the read key as a bearer token")
From = Annotated[str | None, Query(alias="from", description="RFC 3339, a day (YYYY-MM-DD) or epoch seconds")]
To = Annotated[str | None, Query(description="exclusive; same forms as `from`; default now")]


def create_app(settings: Settings | None = None, *, deps: ApiDeps | None = None) -> FastAPI:
    """The API app for `settings` (default: from the environment). Raises ConfigError without a read key."""
    settings = settings or Settings.from_env()
    read_key = check_settings(settings)
    deps = deps or ApiDeps(settings)
    service = ApiService(deps)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        deps.close()

    def require_read_key(
        request: Request,
        _key: Annotated[str | None, Depends(_api_key)] = None,
        _bearer_token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    ) -> None:
        authorize(request.headers, read_key)

    app = FastAPI(title="clickstream query API", version=__version__, description=_DESCRIPTION, lifespan=lifespan)
    _install_error_handlers(app)
    app.state.deps = deps
    secured = [Depends(require_read_key)]

    @app.get("/healthz", response_model=models.HealthResponse, summary="Liveness (no key)", tags=["meta"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/stats", response_model=models.StatsResponse, responses=_ERRORS, dependencies=secured, tags=["v1"],
             summary="Totals, events by type and the last events")  # fmt: skip
    def stats(
        limit: Annotated[int, Query(ge=0, le=MAX_RECENT, description="how many recent events")] = 10,
        from_: From = None,
        to: To = None,
    ) -> dict[str, Any]:
        return service.stats(limit=limit, from_=from_, to=to)

    @app.get("/v1/metrics/{metric}", response_model=models.SeriesResponse, responses=_PATH_ERRORS, dependencies=secured,
             tags=["v1"], summary="A metric's time series, each point saying which layer served it")  # fmt: skip
    def metric_series(
        metric: str,
        dimension: Annotated[str | None, Query(description="all, or type:<t>, url:<path>, status:<code>, product:<id>")] = None,
        from_: From = None,
        to: To = None,
        granularity: Annotated[str, Query(description="minute, hour or day")] = "hour",
    ) -> dict[str, Any]:  # fmt: skip
        return service.series(metric, dimension=dimension, from_=from_, to=to, granularity=granularity)

    @app.get("/v1/analytics/page-views/{page:path}", response_model=models.PageViewsResponse, responses=_PATH_ERRORS,
             dependencies=secured, tags=["v1"], summary="Page views of one page (legacy shape)")  # fmt: skip
    def page_views(page: str, from_: From = None, to: To = None) -> dict[str, Any]:
        return service.page_views(page, from_=from_, to=to)

    @app.get("/v1/export", responses={200: {"content": {t: {} for t in CONTENT_TYPES.values()},
                                            "description": "the events, streamed"}, **_ERRORS},
             response_class=StreamingResponse, dependencies=secured, tags=["v1"],
             summary="Export events (curated table + raw tail), streamed in constant memory")  # fmt: skip
    def export(
        format: Annotated[str, Query(description="json, ndjson, csv or parquet")] = "ndjson",
        from_: From = None,
        to: To = None,
        event_type: Annotated[list[str] | None, Query(description="repeat or comma-separate")] = None,
    ) -> StreamingResponse:
        media, body = service.export(format, from_=from_, to=to, event_types=event_type or [])
        name = f"events.{format}"
        return StreamingResponse(
            body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'}
        )

    exports = ExportJobs(deps)

    @app.post("/v1/exports", status_code=202, response_model=models.ExportResponse, response_model_exclude_none=True,
              responses=_ERRORS, dependencies=secured, tags=["v1"],
              summary="Start an export of any size: the query engine writes the files")  # fmt: skip
    def start_export(body: models.ExportRequest) -> dict[str, Any]:
        return exports.start(body.format, from_=body.from_, to=body.to, event_types=body.event_type)

    @app.get("/v1/exports/{export_id}", response_model=models.ExportResponse, response_model_exclude_none=True,
             responses=_PATH_ERRORS, dependencies=secured, tags=["v1"],
             summary="An export's state, and its download links once it succeeded")  # fmt: skip
    def export_status(export_id: str) -> dict[str, Any]:
        return exports.status(export_id)

    @app.post("/v1/query", response_model=models.QueryResponse, responses=_ERRORS, dependencies=secured,
              tags=["v1"], summary="Run one read-only Athena SQL statement")  # fmt: skip
    def query(body: models.QueryRequest) -> dict[str, Any]:
        return run_query(deps, body.sql, max_rows=body.max_rows)

    @app.get("/metrics", response_class=Response, dependencies=secured, tags=["meta"], responses={
        200: {"content": {prometheus.CONTENT_TYPE: {}}, "description": "Prometheus text exposition"}, **_ERRORS},
        summary="Prometheus metrics: real-time counters and pipeline health")  # fmt: skip
    def metrics() -> Response:
        return Response(prometheus.exposition(deps), media_type=prometheus.CONTENT_TYPE)

    @app.get("/v1/stream", response_class=StreamingResponse, dependencies=secured, tags=["v1"], responses={
        200: {"content": {stream.MEDIA_TYPE: {}}, "description": "server-sent events (see the format in the docs)"},
        **_ERRORS}, summary="Live counters and recent events (server-sent events, ~1 s)")  # fmt: skip
    async def live(
        request: Request,
        interval: Annotated[float, Query(ge=0.5, le=10)] = 1.0,
        limit: Annotated[int, Query(ge=0, le=MAX_RECENT)] = 20,
        count: Annotated[int | None, Query(ge=1, le=100_000, description="stop after this many updates")] = None,
    ) -> StreamingResponse:
        if count is None and BUFFERED in request.scope.get("extensions", {}):
            # API Gateway + Lambda buffer the response: an endless stream would only end at the
            # function's timeout. Say so at once; the dashboard then polls /v1/stats by itself.
            raise ApiError(
                501,
                "streaming_unavailable",
                "this deployment buffers responses (API Gateway + Lambda), so /v1/stream cannot stream: "
                "poll GET /v1/stats (recent_events) instead, or pass count=N for N updates in one response",
            )
        body = stream.events(deps, interval=interval, limit=limit, count=count, disconnected=request.is_disconnected)
        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(body, media_type=stream.MEDIA_TYPE, headers=headers)

    from clickstream.api.graphql import graphql_router

    graphql_errors: dict[int | str, dict[str, Any]] = {
        400: {"description": "not a GraphQL request", "content": {"text/plain": {}, "application/json": {}}},
        401: _ERRORS[401],
    }
    app.include_router(
        graphql_router(service), prefix="/graphql", dependencies=secured, tags=["graphql"], responses=graphql_errors
    )
    _include_dashboard(app)
    _install_openapi(app)
    return app


def app_from_env() -> FastAPI:
    """The app wired from environment settings (uvicorn `--factory` target)."""
    return create_app(Settings.from_env())


def _include_dashboard(app: FastAPI) -> None:
    from clickstream.api import dashboard

    app.include_router(dashboard.router)


def _install_openapi(app: FastAPI) -> None:
    """Document what the app answers: 400 with the error shape for an invalid parameter (FastAPI
    would document its default 422, which the handler below never sends), 401 on every route
    that needs the read key."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
        for methods in doc.get("paths", {}).values():
            for op in methods.values():
                responses = op.get("responses", {})
                if responses.pop("422", None) is not None and "400" not in responses:
                    responses["400"] = {
                        "description": "a bad parameter; `message` says which and why",
                        "content": {"application/json": {"schema": error_ref}},
                    }
                if op.get("security") and "401" not in responses:
                    responses["401"] = {
                        "description": "no read key, or not the read key",
                        "content": {"application/json": {"schema": error_ref}},
                    }
        schemas = doc.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas.setdefault("ErrorResponse", models.ErrorResponse.model_json_schema())
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        headers = {"www-authenticate": 'Bearer realm="clickstream"'} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path"))
            problems.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
        return _error(400, "invalid_parameter", "; ".join(problems) or "invalid request")

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, f"{exc.detail}: {request.url.path}", dict(exc.headers or {}))

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> Response:
        return _error(503, "not_configured", str(exc))

    @app.exception_handler(RetryableError)
    async def _retry(request: Request, exc: RetryableError) -> Response:
        return _error(503, "unavailable", f"{exc}; retry later", {"retry-after": "1"})

    @app.exception_handler(ClientError)
    async def _aws(request: Request, exc: ClientError) -> Response:
        code = error_code(exc) or "ClientError"
        return _error(503, "unavailable", f"a store refused the read ({code}); retry later")

    @app.exception_handler(BotoCoreError)
    async def _aws_down(request: Request, exc: BotoCoreError) -> Response:
        return _error(503, "unavailable", "a store is unreachable; retry later")

    @app.exception_handler(ClickstreamError)
    async def _other(request: Request, exc: ClickstreamError) -> Response:
        return _error(500, "internal", str(exc))
