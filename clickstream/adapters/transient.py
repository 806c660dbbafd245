"""Which failures of an AWS or Kafka call are transient: worth the same work again after a pause.

Long-running services (the archiver, the stream consumer) use this to decide between "back off
and rebuild from the checkpoints" and "stop with an error a person must read".
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from clickstream.errors import RetryableError

# Service answers that mean "not now" rather than "never": throttling and service-side hiccups.
TRANSIENT_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TooManyRequestsException",
        "SlowDown",
        "InternalFailure",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def is_transient(exc: BaseException) -> bool:
    """True for timeouts, refused or reset connections, throttling and 5xx answers."""
    if isinstance(exc, RetryableError | ConnectionError | HTTPClientError | TimeoutError | ConnectionRefusedError):
        return True
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return err.get("Code", "") in TRANSIENT_CODES or int(status) >= 500
    return False
