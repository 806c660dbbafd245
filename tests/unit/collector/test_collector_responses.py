"""Response shaping (pure)."""

from __future__ import annotations

import orjson
import pytest

from clickstream.collector.request import RequestError
from clickstream.collector.responses import error_response, ingest_response, unavailable_response

ERR = {"index": 1, "field": "user_id", "reason": "missing", "message": "user_id: missing"}


@pytest.mark.parametrize(
    ("ids", "rejected", "errors", "status", "word"),
    [
        (["a", "b"], 0, [], 200, "accepted"),
        (["a"], 1, [ERR], 200, "partial"),
        ([], 1, [ERR], 400, "rejected"),
    ],
)
def test_ingest_response(ids: list[str], rejected: int, errors: list[dict], status: int, word: str) -> None:
    response = ingest_response(ids, rejected, errors)

    assert response.status == status
    assert response.body == {
        "status": word,
        "accepted": len(ids),
        "processed": len(ids),
        "rejected": rejected,
        "event_ids": ids,
        "errors": errors,
    }


@pytest.mark.parametrize(("retry_after", "header"), [(0.0, "1"), (0.2, "1"), (1.0, "1"), (2.5, "3"), (30.0, "30")])
def test_unavailable_has_whole_second_retry_after(retry_after: float, header: str) -> None:
    response = unavailable_response(retry_after)

    assert response.status == 503
    assert response.headers["retry-after"] == header
    assert response.body["error"] == "unavailable"
    assert f"resend the request in {header}s" in response.body["message"]
    assert response.body["retry_after"] == int(header)


def test_error_response_is_json_with_code_and_message() -> None:
    response = error_response(RequestError(413, "event_too_large", "too big"), index=3)

    assert orjson.loads(response.json()) == {"error": "event_too_large", "message": "too big", "index": 3}
