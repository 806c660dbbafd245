"""API Gateway HTTP API (payload v2) events: what both Lambda front doors read the same way."""

from __future__ import annotations

from typing import Any


def route(event: dict[str, Any]) -> str:
    """The request path without the stage prefix (rawPath starts with "/<stage>" for a named stage;
    routes never do)."""
    path: str = event.get("rawPath") or "/"
    stage = event.get("requestContext", {}).get("stage", "$default")
    prefix = f"/{stage}"
    if stage != "$default" and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix) :] or "/"
    return path
