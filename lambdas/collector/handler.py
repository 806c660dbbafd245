"""Collector Lambda: API Gateway HTTP API (payload v2) → `CollectorService.handle` → HTTP response.

The same service the local ASGI server runs; this file only translates the event shape, sets
the invocation's deadline (`clickstream.deadline`), and counts what the answer says (`lambdas.observability`: logs, EMF metrics, traces).
"""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

from clickstream import constants as c
from clickstream.collector.service import CollectorService
from clickstream.deadline import invocation_deadline
from clickstream.http_event import route
from lambdas.observability import instrumented, telemetry


@cache
def deps() -> CollectorService:
    """Built on the first invocation and reused while the execution environment lives."""
    from clickstream.collector.deps import service_from_env

    return service_from_env()


@instrumented(c.SERVICE_COLLECTOR)
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    method = event.get("requestContext", {}).get("http", {}).get("method", "POST")
    query = event.get("rawQueryString") or ""
    # Every AWS call ends RESPONSE_MARGIN_SECONDS before Lambda would stop the invocation
    # (`_clients.RequestBoundClient`): a stalled stream is answered 503 by us, not cut off.
    with invocation_deadline(context):
        result = deps().handle(route(event), event.get("headers") or {}, raw, method=method, query=query)
    t = telemetry(c.SERVICE_COLLECTOR)
    t.count(c.METRIC_EVENTS_ACCEPTED, result.body.get("accepted", 0))
    t.count(c.METRIC_EVENTS_REJECTED, result.body.get("rejected", 0))
    t.count(c.METRIC_UNAVAILABLE, int(result.status == 503))
    headers = {"content-type": "application/json", **result.headers}
    payload = result.json()
    if headers["content-type"].startswith("application/json"):
        return {"statusCode": result.status, "headers": headers, "body": payload.decode()}
    # Binary answers (the Snowplow pixel's GIF) travel base64-encoded through API Gateway.
    body_b64 = base64.b64encode(payload).decode()
    return {"statusCode": result.status, "headers": headers, "body": body_b64, "isBase64Encoded": True}
