"""The API's one error shape: `{"error": <code>, "message": <what to do>}`, like the collector's."""

from __future__ import annotations

from typing import Any

from clickstream.errors import ClickstreamError


class ApiError(ClickstreamError):
    """An answer other than 2xx; `message` tells the caller what to change."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}


def bad_request(message: str, *, code: str = "bad_request", **extra: Any) -> ApiError:
    return ApiError(400, code, message, **extra)
