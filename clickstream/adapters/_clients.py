"""The single boto3 client factory: endpoint, region, retries and timeouts from settings."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from clickstream.settings import Settings

# Credentials for a local AWS-compatible server: it accepts any, but boto3 insists on some.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def client(service: str, settings: Settings | None = None) -> Any:
    """A boto3 client for `service` configured from settings (cached per settings and thread-safe to share)."""
    settings = settings or Settings.from_env()
    return _cached(service, settings.region, settings.endpoint_url, settings.is_local)


def deadline_client(service: str, settings: Settings, *, seconds: float) -> Any:
    """A client whose every call gives up after about `seconds`: one attempt, no SDK retries.

    For callers with a deadline of their own that retry by themselves (the collector's stream
    writer): the default client's 5 attempts of up to 30 s each would hold a request for minutes.
    """
    return _cached(service, settings.region, settings.endpoint_url, settings.is_local, seconds, 1)


@lru_cache(maxsize=64)
def _cached(
    service: str,
    region: str,
    endpoint_url: str | None,
    local: bool,
    read_timeout: float = 30,
    max_attempts: int = 5,
) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region,
        retries={"max_attempts": max_attempts, "mode": "adaptive" if max_attempts > 1 else "standard"},
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
