"""User-agent string → browser, OS and device class, with ua-parser 1.x and an LRU cache.

Parsing one new user agent costs 0.3-1 ms (ua-parser's pure-Python regex resolver) and the
first parse ~90 ms (loading the regex set), while real traffic repeats a few thousand agents,
so results are cached and `ua_parser` is imported on first use only (call `warm_up()` at
process start to keep that first cost off a request).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

CACHE_SIZE = 4096
# Only this much of an agent is parsed (the stored user_agent is untouched): real agents are
# < 300 chars, and ua-parser's cost grows with length (~9 ms for 2 KB), which a client could
# otherwise use to make every event expensive.
MAX_PARSE_CHARS = 512
OTHER = "Other"

# Families as ua-parser names them (uap-core regexes.yaml).
_MOBILE_OS = frozenset(
    {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Symbian OS", "Firefox OS", "Tizen", "HarmonyOS"}
)
_DESKTOP_OS = frozenset(
    {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "Debian", "FreeBSD", "OpenBSD", "NetBSD"}
)
_BOT_WORDS = ("bot", "crawler", "spider", "slurp", "headless")


class UserAgentInfo(NamedTuple):
    browser: str  # e.g. "Chrome", "Mobile Safari"; "Other" when unknown
    os: str  # e.g. "Windows", "iOS"; "Other" when unknown
    device: str  # one of schema.DEVICE_CLASSES


_parse: Callable[[str], Any] | None = None


def parse_user_agent(user_agent: str) -> UserAgentInfo:
    """Browser family, OS family and device class ("Desktop", "Mobile", "Tablet", "Bot", "Other")."""
    return _parse_cached(user_agent[:MAX_PARSE_CHARS])


def warm_up() -> None:
    """Import ua-parser and load its regexes now rather than on the first event."""
    _parse_cached("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36")


@lru_cache(maxsize=CACHE_SIZE)
def _parse_cached(user_agent: str) -> UserAgentInfo:
    global _parse
    if _parse is None:
        from ua_parser import parse  # lazy: ~35 ms to import, ~90 ms on the first parse

        _parse = parse
    result = _parse(user_agent)
    browser = result.user_agent.family if result.user_agent else OTHER
    os_family = result.os.family if result.os else OTHER
    device_family = result.device.family if result.device else ""
    device_brand = (result.device.brand or "") if result.device else ""
    return UserAgentInfo(browser, os_family, _device_class(user_agent, os_family, device_family, device_brand))


def _device_class(user_agent: str, os_family: str, device_family: str, device_brand: str) -> str:
    lowered = user_agent.lower()
    if device_family == "Spider" or any(word in lowered for word in _BOT_WORDS):
        return "Bot"
    # Android tablets omit "Mobile" from the agent (Google's documented convention).
    if (
        device_family in ("iPad", "Kindle")
        or "Tablet" in device_brand
        or "Tablet" in device_family
        or "tablet" in lowered
        or (os_family == "Android" and "mobile" not in lowered)
    ):
        return "Tablet"
    if os_family in _MOBILE_OS or device_family in ("iPhone", "iPod") or "mobi" in lowered:
        return "Mobile"
    if os_family in _DESKTOP_OS:
        return "Desktop"
    return OTHER
