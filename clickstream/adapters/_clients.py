"""The single boto3 client factory: endpoint, region, retries and timeouts from settings.

Every client it returns is a `RequestBoundClient`: inside a request's deadline (the Lambda
handlers set one, `clickstream.deadline`) no call can outlast the invocation; outside one it is
the plain cached boto3 client.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from clickstream.deadline import CALL_MARGIN_SECONDS, time_left
from clickstream.errors import RequestDeadlineError
from clickstream.settings import Settings

# Credentials for a local AWS-compatible server: it accepts any, but boto3 insists on some.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def client(service: str, settings: Settings | None = None) -> Any:
    """A boto3 client for `service` configured from settings (cached per settings and thread-safe to share)."""
    settings = settings or Settings.from_env()
    default = _cached(service, settings.region, settings.endpoint_url, settings.is_local)
    return RequestBoundClient(service, settings, default=default)


def deadline_client(service: str, settings: Settings, *, seconds: float) -> Any:
    """A client whose every call gives up after about `seconds`: one attempt, no SDK retries.

    For callers with a deadline of their own that retry by themselves (the collector's stream
    writer): the default client's 6 attempts of up to 30 s each would hold a request for minutes.
    """
    default = _cached(service, settings.region, settings.endpoint_url, settings.is_local, seconds, 1)
    return RequestBoundClient(service, settings, default=default, cap=seconds, attempts=1)


# A call inside a request's deadline: connect and read timeouts each at most this long, and at
# least MIN_CALL_SECONDS, or the call is not started.
REQUEST_CALL_SECONDS = 5.0
MIN_CALL_SECONDS = 0.5
DEFAULT_ATTEMPTS = 6  # botocore's default: the first call and 5 retries


class RequestBoundClient:
    """Stands where a boto3 client would; each call ends before the current request's deadline.

    Outside a request deadline (`clickstream.deadline`: only the Lambda handlers set one), every
    call goes to `default`, unchanged. Inside one, a call goes to a client whose connect and read
    timeouts are each `cap` (REQUEST_CALL_SECONDS by default), or half of what is left before the
    deadline less CALL_MARGIN_SECONDS when that is shorter, in steps of half a second (a handful
    of cached clients), with only as many SDK attempts as can end in that time
    (`attempts_within`): one in the collector's 10 s, two in the query API's 29 s. So a call that
    hangs ends in time for the handler to answer by itself (503 + Retry-After), and the platform
    never stops the invocation mid-call. When not even MIN_CALL_SECONDS fit, the call is not
    started: RequestDeadlineError, which is retryable.
    """

    def __init__(
        self,
        service: str,
        settings: Settings,
        *,
        default: Any,
        cap: float = REQUEST_CALL_SECONDS,
        attempts: int = DEFAULT_ATTEMPTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service, self._settings, self._default = service, settings, default
        self._cap, self._attempts, self._clock = cap, attempts, clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current(), name)

    def current(self) -> Any:
        """The client for a call that starts now."""
        left = time_left(clock=self._clock)
        if left is None:  # no request deadline
            return self._default
        fits = max(0.0, left - CALL_MARGIN_SECONDS) / 2  # connect, then read
        seconds = min(self._cap, math.floor(fits * 2) / 2)
        if seconds < MIN_CALL_SECONDS:
            raise RequestDeadlineError(
                f"{self.service}: {left:.1f} s left before the request's deadline; "
                f"no call is started that could outlast it",
                retry_after=1.0,
            )
        s = self._settings
        attempts = attempts_within(2 * fits, seconds, most=self._attempts)
        return _cached(self.service, s.region, s.endpoint_url, s.is_local, seconds, attempts)


def attempts_within(seconds: float, per_call: float, *, most: int = DEFAULT_ATTEMPTS) -> int:
    """How many attempts of a call (connect and read timeouts of `per_call` each) fit in `seconds`,
    with botocore's standard backoff between them (at most 1, 2, 4 ... s after throttling); at least 1.

    Not counted: an `x-amz-retry-after` header on an answer may stretch one backoff by up to 5 s
    more (botocore's cap)."""
    attempts = 1
    while attempts < most and (attempts + 1) * 2 * per_call + 2**attempts - 1 <= seconds:
        attempts += 1
    return attempts


@lru_cache(maxsize=64)
def _cached(
    service: str,
    region: str,
    endpoint_url: str | None,
    local: bool,
    read_timeout: float = 30,
    attempts: int = DEFAULT_ATTEMPTS,
) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region,
        # total_max_attempts counts the first call; botocore's "max_attempts" counts only retries,
        # so {"max_attempts": 1} made two calls.
        # Adaptive mode may also wait client-side for its own rate limiter: only outside deadlines.
        retries={"total_max_attempts": attempts, "mode": "adaptive" if attempts == DEFAULT_ATTEMPTS else "standard"},
        connect_timeout=min(5, read_timeout),
        read_timeout=read_timeout,
        max_pool_connections=32,
    )
    kwargs: dict[str, Any] = {"config": config, "endpoint_url": endpoint_url}
    if local and endpoint_url and not os.environ.get("AWS_ACCESS_KEY_ID"):
        kwargs.update(_LOCAL_CREDENTIALS)
    return boto3.session.Session(botocore_session=_botocore_session()).client(service, **kwargs)  # type: ignore[call-overload]


def _botocore_session() -> Any:
    """A fresh botocore session that shares one model loader with every other.

    Each new session would otherwise parse the service's JSON models again, about 0.2 s of CPU
    per client; the loader caches what it has parsed, and its data is read-only.
    """
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", _shared_loader())
    return session


@lru_cache(maxsize=1)
def _shared_loader() -> Any:
    import botocore.session

    return botocore.session.get_session().get_component("data_loader")


def reset_cache() -> None:
    """Forget cached clients (tests that switch endpoints call this)."""
    _cached.cache_clear()
