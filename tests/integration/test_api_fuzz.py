"""Property-based fuzz of the query API over its own OpenAPI document (schemathesis): no input,
valid or not, with or without the read key, gets a 5xx; documented responses match their schema.

Bounded: at most 60 examples per operation (a few hundred in all), against real stores.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from openapi_spec_validator import validate
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.api import NOW, archive_raw, client, event, speed_write, write_curated

from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # property-based fuzzing of every endpoint

MAX_EXAMPLES = 60
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def app(settings: Settings) -> Any:
    events = [event("page_view"), event("click", status=404), event("purchase", price=2.0, order_id="o")]
    speed_write(settings, events)
    write_curated(settings, events)
    archive_raw(settings, events, arrival=NOW - timedelta(minutes=1))
    return client(settings).app


def check(case: schemathesis.Case) -> None:
    if case.path == "/v1/stream":
        case.query = {**(case.query or {}), "count": 1, "interval": 0.5}  # the stream ends after one update
    case.headers = {**(case.headers or {}), "X-API-Key": "local-read-key"}
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query}: {response.text[:300]}"
    # every answer is documented (status and content type) and JSON answers match their schema
    case.validate_response(response, checks=CHECKS)


@pytest.mark.timeout(900)
def test_no_input_gets_a_server_error(app: Any) -> None:
    # (schemathesis.pytest.from_fixture does not run under pytest 9: drive hypothesis directly)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @hsettings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])  # fmt: skip
        def fuzz(case: schemathesis.Case) -> None:
            check(case)

        fuzz()


def test_openapi_document_is_valid_and_documents_every_endpoint(settings: Settings) -> None:
    doc = client(settings).get("/openapi.json").json()
    validate(doc)
    assert {"/v1/stats", "/v1/metrics/{metric}", "/v1/analytics/page-views/{page}", "/v1/export", "/v1/exports",
            "/v1/exports/{export_id}", "/v1/query", "/graphql", "/metrics", "/v1/stream",
            "/healthz"} <= set(doc["paths"])  # fmt: skip
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            accepted = "202" if (method, path) == ("post", "/v1/exports") else "200"  # a job, started
            assert accepted in op["responses"], (method, path)
            if path != "/healthz":
                assert "401" in op["responses"] or path == "/graphql", (method, path)
    assert {"APIKeyHeader", "HTTPBearer"} <= set(doc["components"]["securitySchemes"])
