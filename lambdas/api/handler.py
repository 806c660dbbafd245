"""Query API Lambda: API Gateway HTTP API (payload v2) → the FastAPI app → HTTP response.

The same app `clickstream api serve` runs locally; `clickstream.api.lambda_asgi` translates the
event. Settings (read key, tables, bucket, query engine = athena) come from the environment.
Logs, EMF metrics and traces: `lambdas.observability`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import FastAPI

from clickstream import constants as c
from clickstream.api.lambda_asgi import handle
from lambdas.observability import instrumented, telemetry


@cache
def deps() -> FastAPI:
    """Built on the first invocation and reused while the execution environment lives."""
    from clickstream.api.app import app_from_env

    return app_from_env()


@instrumented(c.SERVICE_API)
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    response = handle(deps(), event)
    # The app's own 5xx; API Gateway's 5xx metric also counts throttles and timeouts.
    telemetry(c.SERVICE_API).count(c.METRIC_SERVER_ERRORS, int(response["statusCode"] >= 500))
    return response
