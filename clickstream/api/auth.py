"""The read key: `X-API-Key: <key>` or `Authorization: Bearer <key>`. The write key never reads."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from clickstream import constants as c
from clickstream.api.errors import ApiError
from clickstream.errors import ConfigError
from clickstream.settings import Settings

API_KEY_HEADER = "x-api-key"


def check_settings(settings: Settings) -> str:
    """The read key, or a ConfigError that says what to set."""
    key = settings.read_key
    if not key:
        raise ConfigError(f"the query API needs a read key: set {c.ENV_READ_KEY}")
    if settings.write_key and hmac.compare_digest(key, settings.write_key):
        raise ConfigError(f"{c.ENV_READ_KEY} equals the write key: give the query API a key of its own")
    return key


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries (header names in any case), or None."""
    lowered = {k.lower(): v for k, v in headers.items()}
    key = lowered.get(API_KEY_HEADER)
    if key:
        return key.strip()
    scheme, _, token = (lowered.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def authorize(headers: Mapping[str, str], read_key: str) -> None:
    """Raise a 401 ApiError unless the request carries the read key."""
    key = presented_key(headers)
    if key is None:
        raise ApiError(401, "unauthorized", "send the read key: X-API-Key: <key> or Authorization: Bearer <key>")
    if not hmac.compare_digest(key.encode(), read_key.encode()):
        raise ApiError(401, "unauthorized", "the key is not a read key (the write key only sends events)")
