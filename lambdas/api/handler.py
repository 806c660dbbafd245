"""Query API Lambda: API Gateway HTTP API (payload v2) → the FastAPI app → HTTP response.

The same app `clickstream api serve` runs locally; `clickstream.api.lambda_asgi` translates the
event. Settings (read key, tables, bucket, query engine = athena) come from the environment.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import FastAPI

from clickstream.api.lambda_asgi import handle


@cache
def deps() -> FastAPI:
    """Built on the first invocation and reused while the execution environment lives."""
    from clickstream.api.app import app_from_env

    return app_from_env()


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return handle(deps(), event)
