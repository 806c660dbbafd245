"""API Gateway HTTP API (payload v2) event → one ASGI request to the app → the Lambda response.

The collector's Lambda calls its framework-free service; the query API has many routes, so its
Lambda runs the same FastAPI app through this adapter instead. Responses are buffered (Lambda
returns one payload, at most 6 MB): a larger answer becomes a 413 `response_too_large` that says
what to ask instead (an export job, `POST /v1/exports`), not API Gateway's bare 502. The scope
says so (`BUFFERED` in its extensions), so a route that would stream without end (`/v1/stream`)
answers at once instead of running into the function's timeout.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any, Final

from clickstream.http_event import route

BUFFERED = "clickstream.buffered_response"  # scope["extensions"] key: the whole body is sent at the end
_TEXT_TYPES = ("text/", "application/json", "application/x-ndjson", "application/graphql")
# Lambda's limit on a synchronous invocation's response, the JSON document as a whole (AWS docs:
# Lambda quotas, "Invocation payload"); a margin is left for the status and headers.
RESPONSE_MAX_BYTES: Final = 6 * 1024 * 1024
_HEADROOM: Final = 16 * 1024


def scope_of(event: dict[str, Any]) -> dict[str, Any]:
    http = event.get("requestContext", {}).get("http", {})
    headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in (event.get("headers") or {}).items()]
    if event.get("cookies"):
        headers.append((b"cookie", "; ".join(event["cookies"]).encode("latin-1")))
    path = route(event)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": http.get("method", "GET").upper(),
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": (event.get("rawQueryString") or "").encode("latin-1"),
        "headers": headers,
        "client": (http.get("sourceIp", "0.0.0.0"), 0),
        "server": ((event.get("headers") or {}).get("host", "lambda"), 443),
        "extensions": {BUFFERED: {}},
    }


def body_of(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


async def call(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    """Run one request through `app` and build the HTTP API v2 response."""
    request = {"type": "http.request", "body": body_of(event), "more_body": False}
    sent = False
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return request
        await asyncio.sleep(3600)  # the request is complete; nothing more will come
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope_of(event), receive, send)
    out_headers: dict[str, str] = {}
    cookies = []
    for name, value in headers:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        if key == "set-cookie":
            cookies.append(text)
        else:
            out_headers[key] = f"{out_headers[key]},{text}" if key in out_headers else text
    payload = b"".join(chunks)
    response: dict[str, Any] = {"statusCode": status, "headers": out_headers}
    if cookies:
        response["cookies"] = cookies
    if out_headers.get("content-type", "").startswith(_TEXT_TYPES):
        response.update(body=payload.decode("utf-8", "replace"), isBase64Encoded=False)
    else:
        response.update(body=base64.b64encode(payload).decode(), isBase64Encoded=True)
    if len(response["body"].encode()) > RESPONSE_MAX_BYTES - _HEADROOM:
        return too_large(len(payload))
    return response


def too_large(size: int) -> dict[str, Any]:
    """The answer for a body Lambda cannot return (the API's error shape)."""
    body = {
        "error": "response_too_large",
        "message": (
            f"the answer is {size / 2**20:,.1f} MiB; this API answers at most {RESPONSE_MAX_BYTES / 2**20:,.0f} "
            "MiB (AWS Lambda's response limit). Narrow from/to, or start an export job: POST /v1/exports"
        ),
    }
    return {"statusCode": 413, "headers": {"content-type": "application/json"}, "body": json.dumps(body),
            "isBase64Encoded": False}  # fmt: skip


def handle(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(call(app, event))
