"""The query API's Lambda hands the invocation's deadline to the work its routes start."""

from __future__ import annotations

import json
import time

import pytest
from fastapi import FastAPI

from clickstream import constants as c
from clickstream.deadline import RESPONSE_MARGIN_SECONDS, budget
from clickstream.lambda_context import lambda_context
from lambdas.api import handler as api_lambda


def test_routes_see_the_invocations_time_left_less_the_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(c.ENV_STAGE, "test")
    app = FastAPI()
    app.get("/sync")(lambda: {"budget": budget(300.0)})  # runs in a worker thread

    @app.get("/async")
    async def in_the_loop() -> dict[str, float]:
        return {"budget": budget(300.0)}

    monkeypatch.setattr(api_lambda, "deps", lambda: app)
    context = lambda_context("clickstream-test-api", region="us-east-1", account="123456789012",
                             request_id="r-1", clock=time.time, timeout=10.0)  # fmt: skip
    for path in ("/sync", "/async"):
        event = {"version": "2.0", "rawPath": path, "rawQueryString": "", "headers": {"host": "api"},
                 "requestContext": {"http": {"method": "GET", "path": path}}, "isBase64Encoded": False}  # fmt: skip
        response = api_lambda.handler(event, context)
        assert response["statusCode"] == 200, response
        left = json.loads(response["body"])["budget"]
        assert 10.0 - RESPONSE_MARGIN_SECONDS - 2.0 < left <= 10.0 - RESPONSE_MARGIN_SECONDS
    assert budget(300.0) == 300.0  # nothing leaks past the invocation
