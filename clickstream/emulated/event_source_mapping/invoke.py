"""Calling the handler the way the Lambda runtime does: whatever it raises is a failed invocation.

`DEFAULT_HANDLER` is the speed layer's function (`lambdas/stream_processor/handler.py`); any
other `module:function` with the Lambda signature `(event, context) -> response` can be run by
the consumers instead (a test's fault injection, another pipeline).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clickstream.errors import ConfigError, RetryableError

Handler = Callable[[dict[str, Any], Any], Any]

DEFAULT_HANDLER = "lambdas.stream_processor.handler:handler"


@dataclass(frozen=True)
class Invocation:
    response: Any = None
    error: BaseException | None = None

    @property
    def reason(self) -> str:
        return f"{type(self.error).__name__}: {self.error}" if self.error is not None else ""

    @property
    def retry_after(self) -> float | None:
        """A RetryableError's hint (e.g. DynamoDB throttling) for the backoff."""
        return self.error.retry_after if isinstance(self.error, RetryableError) else None


def invoke(handler: Handler, event: dict[str, Any], context: Any) -> Invocation:
    """Run one invocation; an exception is a function error (the whole batch failed), as in Lambda."""
    try:
        return Invocation(response=handler(event, context))
    except Exception as exc:  # the function's own errors, whatever they are: Lambda reports them all
        return Invocation(error=exc)


def load_handler(spec: str = DEFAULT_HANDLER) -> Handler:
    """Import `module:function` (raises ConfigError with what is missing)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"handler {spec!r}: expected module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"handler {spec!r}: cannot import {module_name} ({exc})") from exc
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise ConfigError(f"handler {spec!r}: {module_name} has no function {attr!r}")
    return handler  # type: ignore[no-any-return]
