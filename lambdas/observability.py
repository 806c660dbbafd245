"""Powertools for AWS Lambda around every handler: JSON logs, EMF metrics, X-Ray traces.

`@instrumented(service)` runs a handler under Powertools' Logger (`inject_lambda_context`: every
line carries the request id and cold start), Metrics (one EMF blob per invocation, namespace
`constants.METRICS_NAMESPACE`, dimensions service and stage) and, where X-Ray runs, Tracer (the
botocore calls as subsegments). A handler adds its figures with `telemetry(service).count(...)`.
Nothing is built at import: the first invocation builds it, once per execution environment.

In Lambda (the runtime sets AWS_LAMBDA_FUNCTION_NAME) Powertools' defaults apply, tuned by its
POWERTOOLS_* variables. Elsewhere the local consumers, `clickstream demo` and the tests call the
same handlers in-process, so they run quietly: logs from WARNING (POWERTOOLS_LOG_LEVEL changes
it), metrics recorded and dropped (POWERTOOLS_METRICS_DISABLED=false prints them), no tracing
(Powertools traces only where LAMBDA_TASK_ROOT is set). A call without a context gets a local one.
What each workaround below is for: docs/ENVIRONMENT.md, "Powertools for AWS Lambda".
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.filters import SuppressFilter
from aws_lambda_powertools.metrics import MetricUnit

from clickstream import constants as c
from clickstream.lambda_context import DEFAULT_ACCOUNT, LambdaContext, lambda_context

H = TypeVar("H", bound=Callable[..., Any])

# The Lambda runtime's and Powertools' variables (their names, not ours).
LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
LAMBDA_TASK_ROOT = "LAMBDA_TASK_ROOT"
POWERTOOLS_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
POWERTOOLS_METRICS_DISABLED = "POWERTOOLS_METRICS_DISABLED"
POWERTOOLS_TRACE_DISABLED = "POWERTOOLS_TRACE_DISABLED"
QUIET_LOG_LEVEL = "WARNING"
TRACED_MODULES = ("botocore",)  # the AWS SDK's calls, each a subsegment


@dataclass(frozen=True)
class Telemetry:
    logger: Logger
    metrics: Metrics
    tracer: Tracer | None

    def count(self, name: str, value: float) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def in_lambda() -> bool:
    return LAMBDA_FUNCTION_NAME in os.environ


@cache
def telemetry(service: str) -> Telemetry:
    """The Powertools objects of one service, built on first use (tests: `telemetry.cache_clear()`)."""
    logger = Logger(service=service, stream=_Stdout())  # type: ignore[arg-type]
    logger.setLevel(None if in_lambda() else os.environ.get(POWERTOOLS_LOG_LEVEL) or QUIET_LOG_LEVEL)
    _keep_other_loggers(service)
    metrics = Metrics(namespace=c.METRICS_NAMESPACE, service=service)
    metrics.set_default_dimensions(stage=os.environ.get(c.ENV_STAGE, c.DEFAULT_STAGE))
    return Telemetry(logger, metrics, _tracer(service, logger))


def instrumented(service: str) -> Callable[[H], H]:
    """Run a Lambda handler `(event, context)` under Powertools (see the module docstring)."""

    def decorate(handler: H) -> H:
        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            t = telemetry(service)
            call: Callable[..., Any] = handler
            if in_lambda() or _flag(POWERTOOLS_METRICS_DISABLED) is False:
                call = t.metrics.log_metrics(call, capture_cold_start_metric=True, raise_on_empty_metrics=False)
            else:
                call = _dropping_metrics(t.metrics, call)
            if t.tracer is not None:
                # Responses carry event ids and query results: not copied into the trace.
                call = t.tracer.capture_lambda_handler(call, capture_response=False)
            call = t.logger.inject_lambda_context(call)
            return call(event, context if context is not None else local_context(service))

        return run  # type: ignore[return-value]

    return decorate


def local_context(service: str) -> LambdaContext:
    """A context for a call that has none (a test, a script): a fresh request id, the default timeout."""
    region = os.environ.get(c.ENV_REGION, c.DEFAULT_REGION)
    return lambda_context(
        service, region=region, account=DEFAULT_ACCOUNT, request_id=str(uuid.uuid4()), clock=time.monotonic
    )


def _tracer(service: str, logger: Logger) -> Tracer | None:
    # Checked before building one: a Tracer imports the X-Ray SDK (0.5-1.4 s in the dev venv) even when off.
    if not os.environ.get(LAMBDA_TASK_ROOT) or _flag(POWERTOOLS_TRACE_DISABLED):
        return None
    if find_spec("aws_xray_sdk") is None:
        logger.warning("aws-xray-sdk is not installed: this function runs untraced")
        return None
    return Tracer(service=service, patch_modules=TRACED_MODULES)


def _dropping_metrics(metrics: Metrics, handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        finally:
            metrics.clear_metrics()

    return run


def _keep_other_loggers(service: str) -> None:
    """Undo Powertools' de-duplication filter: it drops, at every root handler, each record whose
    logger name *contains* the service name, which would hide `clickstream.api.*` and
    `clickstream.collector.*` warnings from the function's log. The service's own logger stops
    propagating instead, which is what the filter was for."""
    logging.getLogger(service).propagate = False
    for handler in logging.root.handlers:
        for f in [f for f in handler.filters if isinstance(f, SuppressFilter) and f.logger == service]:
            handler.removeFilter(f)


def _flag(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    return True if value in ("1", "true", "yes", "on") else False if value in ("0", "false", "no", "off") else None


class _Stdout:
    """sys.stdout, looked up at every write: Powertools keeps a service's first handler for the life
    of the process, and a test's output capture replaces sys.stdout."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()
