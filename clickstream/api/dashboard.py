"""The live dashboard: `/` (the page), `/static/*` (its CSS and JS) and `GET /v1/dashboard/summary`.

The page is static: hand-written HTML, CSS and vanilla JS with inline-SVG charts, shipped in
`clickstream/api/static/` (no CDN, no build step). It holds no key: the browser takes the read
key from the URL fragment (`/#key=…`, which is never sent to a server), keeps it in the tab's
sessionStorage and sends it as `X-API-Key`; `make up` prints that link. The page's figures come
from `/v1/dashboard/summary` (every panel in one response, refreshed every 2 s) and its live
feed from `/v1/stream` (`clickstream.api.stream`), or `/v1/stats` polled each second when the
stream is unavailable.

The summary's reads are in `dashboard_reads` (the API's serving rule, with the older windows
cached), its arithmetic in `dashboard_summary`. A result is cached for `SUMMARY_TTL_S`, so many
open dashboards cost one read per range and second.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from clickstream.api import dashboard_summary as ds
from clickstream.api.auth import authorize, check_settings
from clickstream.api.dashboard_reads import DashboardReader
from clickstream.api.deps import ApiDeps
from clickstream.api.models import ErrorResponse

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page loads nothing from elsewhere and runs no inline script: a strict policy costs nothing.
SECURITY_HEADERS: Final = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}
SUMMARY_TTL_S: Final = 1.0

ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": ErrorResponse, "description": "an unknown range; `message` lists the choices"},
    401: {"model": ErrorResponse, "description": "no read key, or not the read key"},
    503: {"model": ErrorResponse, "description": "a store is unavailable; retry later"},
}

router = APIRouter()
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the read key")
_bearer = HTTPBearer(auto_error=False, description="the read key as a bearer token")


def _deps(request: Request) -> ApiDeps:
    deps: ApiDeps = request.app.state.deps
    return deps


def require_read_key(
    request: Request,
    _key: Annotated[str | None, Depends(_api_key)] = None,
    _bearer_token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> None:
    authorize(request.headers, check_settings(_deps(request).settings))


# --- the page ---------------------------------------------------------------------------------


@router.get("/", include_in_schema=False)
def index() -> HTMLResponse:
    return HTMLResponse((STATIC_DIR / "index.html").read_text(encoding="utf-8"), headers=SECURITY_HEADERS)


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> FileResponse:
    """One file of the static folder, by plain name (no sub-paths, nothing outside the folder)."""
    path = STATIC_DIR / name
    media = MEDIA_TYPES.get(path.suffix)
    if media is None or "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise HTTPException(404, "no such dashboard file")
    return FileResponse(path, media_type=media, headers=SECURITY_HEADERS)


# --- the figures --------------------------------------------------------------------------------


@router.get(
    "/v1/dashboard/summary",
    dependencies=[Depends(require_read_key)],
    responses=ERROR_RESPONSES,
    tags=["dashboard"],
    summary="Every panel of the live dashboard for one time range (cards, types, funnel, errors, tops)",
)
def summary(
    request: Request,
    range_: Annotated[str, Query(alias="range", description="15m, 1h, 24h or 7d")] = ds.DEFAULT_RANGE,
) -> dict[str, Any]:
    deps = _deps(request)
    span = ds.span_of(range_, deps.clock())  # a 400 for an unknown range, before the cache
    cache = _state(request, "dashboard_summaries", dict)
    now = time.monotonic()
    with _lock:
        hit = cache.get(range_)
        if hit is not None and now - hit[0] < SUMMARY_TTL_S:
            return hit[1]  # type: ignore[no-any-return]
    reader: DashboardReader = _state(request, "dashboard_reader", lambda: DashboardReader(deps))
    result = reader.summary(span)
    with _lock:
        cache[range_] = (now, result)
    return result


_lock = threading.Lock()


def _state(request: Request, name: str, factory: Any) -> Any:
    """A per-app object kept on `app.state` (created on first use, never at import time)."""
    state = request.app.state
    with _lock:
        if not hasattr(state, name):
            setattr(state, name, factory())
        return getattr(state, name)
