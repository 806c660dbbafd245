"""The small error hierarchy every layer uses.

`RetryableError` means "let the platform retry" (throttling, a stream that is down);
`PoisonRecordError` means "route to bad rows, never retry".
"""

from __future__ import annotations


class ClickstreamError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(ClickstreamError):
    """Settings are missing or inconsistent; the message says which variable to set."""


class RetryableError(ClickstreamError):
    """A transient failure: the caller may retry the whole operation later."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StreamUnavailableError(RetryableError):
    """The stream (Kinesis or Kafka) did not durably accept every record."""


class RequestDeadlineError(RetryableError):
    """Too little of the request's time is left to start another call (`clickstream.deadline`):
    the handler answers 503 itself instead of being stopped by the platform mid-call."""


class PoisonRecordError(ClickstreamError):
    """A record that can never be processed; it belongs in bad rows with its reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
