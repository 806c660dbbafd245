"""Lambda's context object as a handler sees it, for invocations that Lambda itself does not make:
the event-source-mapping stand-in builds one per invocation, and a handler called in-process
without one can build its own. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_FUNCTION_TIMEOUT_SECONDS = 60.0
DEFAULT_ACCOUNT = "123456789012"  # moto's and LocalStack's account when an ARN does not say


@dataclass
class LambdaContext:
    """The attributes and the one method of Lambda's context object that handlers and Powertools use."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    deadline: float  # the `clock()` value at which the invocation times out
    clock: Callable[[], float]
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


def lambda_context(
    function_name: str,
    *,
    region: str,
    account: str,
    request_id: str,
    clock: Callable[[], float],
    timeout: float = DEFAULT_FUNCTION_TIMEOUT_SECONDS,
) -> LambdaContext:
    """A context for one invocation that starts now (`clock()`) and times out after `timeout` seconds."""
    return LambdaContext(
        function_name=function_name,
        invoked_function_arn=f"arn:aws:lambda:{region}:{account}:function:{function_name}",
        aws_request_id=request_id,
        deadline=clock() + timeout,
        clock=clock,
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name=f"local/[$LATEST]{request_id.replace('-', '')}",
    )
