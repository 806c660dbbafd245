"""AWS error codes, read in one place: which failures are transient, and what a code becomes here.

Adapters call `raise_clean` (or `translate`) in their `except ClientError`: throttling and
service-side failures become `RetryableError`, a resource the stack should have created becomes a
`ConfigError` that says what to do, and any other code is re-raised as it is (a failed condition,
a bug). Long-running services use `is_transient` to choose between "back off and start over from
the checkpoints" and "stop with an error a person must read".
"""

from __future__ import annotations

from typing import Final, NoReturn

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from clickstream.errors import ClickstreamError, ConfigError, RetryableError

# Answers that mean "not now" rather than "never": the same call may succeed after a pause.
RETRYABLE_CODES: Final = frozenset(
    {
        # throttling
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TooManyRequestsException",
        "SlowDown",  # S3
        "KMSThrottlingException",  # Kinesis, on an encrypted stream
        # DynamoDB: the item is in a transaction in flight; the write was not applied
        "TransactionConflictException",
        # service-side failures (5xx)
        "InternalFailure",
        "InternalFailureException",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# A resource the stack creates does not exist: no retry helps, provisioning does.
MISSING_CODES: Final = frozenset(
    {"ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError ("" when the response carries none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_transient(exc: BaseException) -> bool:
    """True for timeouts, refused or reset connections, throttling, 5xx answers and RetryableError."""
    if isinstance(exc, RetryableError | ConnectionError | HTTPClientError | TimeoutError | ConnectionRefusedError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error_code(exc) in RETRYABLE_CODES or int(status) >= 500
    return False


def translate(exc: ClientError, *, what: str) -> ClickstreamError | None:
    """Our error for a code we know, its message starting with `what` ("table checkpoints",
    "stream clicks: GetRecords"); None for any other code."""
    code = error_code(exc)
    if code in RETRYABLE_CODES:
        return RetryableError(f"{what}: {code}")
    if code in MISSING_CODES:
        return ConfigError(f"{what} does not exist: provision the stack (`clickstream local up`)")
    return None


def raise_clean(exc: ClientError, *, what: str) -> NoReturn:
    """Raise `translate(exc, what=what)` from `exc`, or `exc` itself when the code is not one we know."""
    clean = translate(exc, what=what)
    if clean is None:
        raise exc
    raise clean from exc
