"""The app factory builds nothing eagerly, and /openapi.json documents the shapes."""

from __future__ import annotations

from typing import Any

from clickstream.collector.app import create_app


def never() -> Any:
    raise AssertionError("the service must not be built to create the app or render its docs")


def test_docs_describe_every_route_without_building_the_service() -> None:
    app = create_app(never)

    schema = app.openapi()

    paths = schema["paths"]
    assert set(paths) == {"/v1/events", "/v1/track", "/events", "/track", "/healthz"}
    components = schema["components"]["schemas"]
    for path, model in [("/v1/events", "EventBatch"), ("/v1/track", "Event")]:
        op = paths[path]["post"]
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{model}"
        assert {"200", "400", "401", "413", "415", "503"} <= set(op["responses"])
        assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/IngestResponse")
    assert {"Event", "EventBatch", "IngestResponse", "ErrorResponse", "RecordError"} <= set(components)
    assert "user_id" in components["Event"]["required"]
    assert schema["components"]["securitySchemes"]["writeKey"]["name"] == "X-Write-Key"


def test_every_ref_resolves() -> None:
    schema = create_app(never).openapi()
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    names = set(schema["components"]["schemas"])
    assert refs
    assert all(ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in names for ref in refs)
