"""How the Lambda handler maps API Gateway v2 paths to collector routes (stages stripped)."""

from __future__ import annotations

import pytest

from clickstream.http_event import route as _route


@pytest.mark.parametrize(
    ("raw_path", "stage", "route"),
    [
        ("/v1/events", "$default", "/v1/events"),
        ("/prod/v1/events", "prod", "/v1/events"),
        ("/prod", "prod", "/"),
        ("/production/v1/track", "prod", "/production/v1/track"),  # only a whole path segment is a stage
        ("/v1/track", "prod", "/v1/track"),  # custom domain mapping: no stage in the path
    ],
)
def test_route(raw_path: str, stage: str, route: str) -> None:
    assert _route({"rawPath": raw_path, "requestContext": {"stage": stage}}) == route
