"""The deadline of the request being served, so that work started for it stops before the platform stops it.

AWS Lambda ends an invocation at its timeout without letting it clean up: an Athena query the
query API started would keep scanning (and billing), and the client would get API Gateway's 503
instead of the API's own answer. The query API's Lambda handler sets the invocation's deadline
here (`deadline_in(context.get_remaining_time_in_millis() / 1000)`); the Athena engine shortens
its wait with `budget()`, keeping `RESPONSE_MARGIN_SECONDS` to stop the query, read the results
and answer. The collector's Lambda handler sets one too. Inside any deadline every AWS call's
timeouts end CALL_MARGIN_SECONDS before it (`clickstream.adapters._clients.RequestBoundClient`). Outside a deadline (the
local server, the jobs, the CLI) `budget` returns its argument. The deadline is a context
variable: each request (thread or task) has its own. Pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Final

# What the answer needs once the wait ends: StopQueryExecution, GetQueryResults pages, the JSON.
RESPONSE_MARGIN_SECONDS: Final = 3.0
# Every AWS call inside a deadline ends at least this long before it, for the handler to answer
# (`clickstream.adapters._clients.RequestBoundClient`); the calls after a wait use the margin above.
CALL_MARGIN_SECONDS: Final = 1.0

_DEADLINE: ContextVar[float | None] = ContextVar("clickstream_request_deadline", default=None)


@contextmanager
def deadline_in(seconds: float, *, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Within the block, the current request must be answered `seconds` from now."""
    token = _DEADLINE.set(clock() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def invocation_deadline(context: object) -> AbstractContextManager[None]:
    """`deadline_in` the time a Lambda invocation has left (`context.get_remaining_time_in_millis()`);
    no deadline for a context without that method (a handler called in-process without one)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return deadline_in(remaining() / 1000) if remaining is not None else nullcontext()


def time_left(*, clock: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds until the current request's deadline (never negative), or None outside one."""
    deadline = _DEADLINE.get()
    return None if deadline is None else max(0.0, deadline - clock())


def budget(timeout_s: float, *, clock: Callable[[], float] = time.monotonic) -> float:
    """How long work may wait now: `timeout_s`, or less when the request's deadline (less the
    response margin) comes first; never negative."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout_s
    return max(0.0, min(timeout_s, deadline - clock() - RESPONSE_MARGIN_SECONDS))
