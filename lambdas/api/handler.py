"""Query API Lambda: API Gateway HTTP API (payload v2) → the FastAPI app → HTTP response.

The same app `clickstream api serve` runs locally; `clickstream.api.lambda_asgi` translates the
event. Settings (read key, tables, bucket, query engine = athena) come from the environment.
Athena waits end before the invocation's own timeout (`clickstream.deadline`).
Logs, EMF metrics and traces: `lambdas.observability`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import FastAPI

from clickstream import constants as c
from clickstream.api.lambda_asgi import handle
from clickstream.deadline import invocation_deadline
from lambdas.observability import instrumented, telemetry


@cache
def deps() -> FastAPI:
    """Built on the first invocation and reused while the execution environment lives."""
    from clickstream.api.app import app_from_env

    return app_from_env()


@instrumented(c.SERVICE_API)
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    # Athena waits end RESPONSE_MARGIN_SECONDS before Lambda would end the invocation, so a slow
    # query is stopped and answered (400 query_timeout) instead of scanning on after a 503.
    with invocation_deadline(context):
        response = handle(deps(), event)
    # The app's own 5xx; API Gateway's 5xx metric also counts throttles and timeouts.
    telemetry(c.SERVICE_API).count(c.METRIC_SERVER_ERRORS, int(response["statusCode"] >= 500))
    return response
